"""shoplake on AWS: the lake's catalog, Athena, and the account's resources as code.

* :mod:`~shoplake.aws.session` — boto3 clients from the standard credential chain (and
  ``AWS_ENDPOINT_URL`` for S3-compatible or local endpoints);
* :mod:`~shoplake.aws.catalog` — the Glue Data Catalog: one external table per silver
  dataset (columns from the same definitions as the dbt sources) and
  :func:`~shoplake.aws.catalog.sync_partitions`, run after every ingest;
* :mod:`~shoplake.aws.athena` — the workgroup's settings, the sample analyses as named
  queries, running one and reading its rows;
* :mod:`~shoplake.aws.policies` — IAM and bucket policies as plain JSON documents with
  ``${...}`` placeholders, rendered with the deployment's names;
* :mod:`~shoplake.aws.deploy` — ``shoplake deploy aws``: the desired state of every
  resource, compared with what the account has, then created or updated (a package: the
  engine, and one module per service family).
"""

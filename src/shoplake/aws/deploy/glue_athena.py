"""Glue and Athena: the catalog database and tables, the workgroup and its named queries."""

from __future__ import annotations

from typing import Any

from shoplake.aws import athena as athena_mod
from shoplake.aws import catalog
from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, constant, missing_on, tag_list
from shoplake.aws.session import refused
from shoplake.contract import DATASETS


def glue_catalog(acct: Account) -> list[Resource]:
    glue, d = acct.client("glue"), acct.d

    def read_db() -> Any:
        db = missing_on("EntityNotFoundException")(
            lambda: glue.get_database(Name=d.glue_database)["Database"]
        )
        return MISSING if db is MISSING else {"Description": db.get("Description", "")}

    def apply_db(current: Any) -> None:
        if current is MISSING:
            glue.create_database(DatabaseInput=catalog.database_input(d.glue_database))
        else:
            glue.update_database(
                Name=d.glue_database, DatabaseInput=catalog.database_input(d.glue_database)
            )

    out = [
        Resource(
            "glue database",
            d.glue_database,
            desired=lambda: {"Description": catalog.database_input(d.glue_database)["Description"]},
            read=read_db,
            apply=apply_db,
        )
    ]
    for ds in DATASETS.values():
        desired = catalog.table_input(ds, d.lake_uri)

        def read_table(name: str = ds.name) -> Any:
            table = catalog.get_table(glue, d.glue_database, name)
            return MISSING if table is None else table

        def apply_table(current: Any, desired: dict = desired) -> None:
            if current is MISSING:
                glue.create_table(DatabaseName=d.glue_database, TableInput=desired)
            else:
                glue.update_table(DatabaseName=d.glue_database, TableInput=desired)

        out.append(
            Resource(
                "glue table",
                f"{d.glue_database}.{ds.name}",
                desired=constant(desired),
                read=read_table,
                apply=apply_table,
                drift=catalog.table_drift,
            )
        )
    return out


def athena_workgroup(acct: Account) -> list[Resource]:
    athena, d = acct.client("athena"), acct.d

    def config() -> dict[str, Any]:
        return athena_mod.workgroup_configuration(
            d.results_uri, acct.key_arn, d.bytes_scanned_cutoff
        )

    def read_workgroup() -> Any:
        group = missing_on("InvalidRequestException")(
            lambda: athena.get_work_group(WorkGroup=d.workgroup).get("WorkGroup")
        )
        if not group:  # some endpoints answer an empty document instead of an error
            return MISSING
        return athena_mod.comparable_workgroup(group.get("Configuration", {}))

    def apply_workgroup(current: Any) -> None:
        if current is MISSING:
            athena.create_work_group(
                Name=d.workgroup,
                Description=f"shoplake {d.name}: queries over the lake, scan-limited",
                Configuration=config(),
                Tags=tag_list(d.tags),
            )
            return
        athena.update_work_group(
            WorkGroup=d.workgroup, ConfigurationUpdates=athena_mod.workgroup_updates(config())
        )

    out = [
        Resource(
            "athena workgroup",
            d.workgroup,
            desired=lambda: athena_mod.comparable_workgroup(config()),
            read=read_workgroup,
            apply=apply_workgroup,
        )
    ]
    for query in acct.named_queries:
        out.append(_named_query(acct, query))
    return out


def _named_query(acct: Account, query: athena_mod.NamedQuery) -> Resource:
    athena, d = acct.client("athena"), acct.d
    desired = {
        "Database": d.glue_database,
        "Description": query.description,
        "QueryString": query.sql,
    }
    found: dict[str, str] = {}

    def read() -> Any:
        if not _workgroup_exists(athena, d.workgroup):
            return MISSING
        current = athena_mod.find_named_query(athena, d.workgroup, query.name)
        if current is None:
            return MISSING
        found["id"] = current["NamedQueryId"]
        return {k: current.get(k, "") for k in desired}

    def apply(current: Any) -> None:
        if current is not MISSING and current["Database"] == desired["Database"]:
            athena.update_named_query(
                NamedQueryId=found["id"],
                Name=query.name,
                Description=query.description,
                QueryString=query.sql,
            )
            return
        if current is not MISSING:  # the database of a named query cannot be updated
            athena.delete_named_query(NamedQueryId=found["id"])
        athena.create_named_query(Name=query.name, WorkGroup=d.workgroup, **desired)

    return Resource(
        "athena named query",
        f"{d.workgroup}/{query.name}",
        desired=lambda: desired,
        read=read,
        apply=apply,
    )


def _workgroup_exists(athena: Any, workgroup: str) -> bool:
    with refused("InvalidRequestException"):
        return bool(athena.get_work_group(WorkGroup=workgroup).get("WorkGroup"))
    return False

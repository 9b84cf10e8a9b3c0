{#- Weekly warehouse upkeep for dbt Cloud (orchestration/dbt_cloud/shoplake_weekly_maintain_job.json),
    which can only run dbt commands: the same statements as `shoplake maintain`
    (src/shoplake/maintain.py; pytests/operate/test_maintain_schedules.py checks that the two
    agree), over the marts' tables:

        dbt run-operation shoplake_maintain --target prod

    Redshift: VACUUM FULL then ANALYZE of each table, each statement on its own (dbt-redshift
    connections autocommit, and VACUUM cannot run inside a transaction block). Other adapters:
    nothing (run `shoplake maintain` there). -#}
{% macro shoplake_maintain() %}
    {%- if target.type != 'redshift' -%}
        {{ log("shoplake_maintain: use `shoplake maintain` on " ~ target.type, info=true) }}
        {{ return(none) }}
    {%- endif -%}
    {%- for statement in shoplake_maintain_statements() -%}
        {{ log("shoplake_maintain: " ~ statement, info=true) }}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{% endmacro %}

{#- The statements of shoplake_maintain, in order: the tables of models/marts/, by name. -#}
{% macro shoplake_maintain_statements() %}
    {%- set statements = [] -%}
    {%- set marts = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.original_file_path.startswith('models/marts/')
              and node.config.materialized in ('table', 'incremental') -%}
            {%- do marts.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in marts | sort(attribute='name') -%}
        {%- set relation = '"' ~ node.schema ~ '"."' ~ node.alias ~ '"' -%}
        {%- do statements.append('vacuum full ' ~ relation) -%}
        {%- do statements.append('analyze ' ~ relation) -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

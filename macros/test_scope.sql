{#- Data tests scoped to the rows a build changed (dbt's get_where_subquery, overridden).

    A test on a large incremental model can carry a `where` config with the placeholders
    `__changed_since__` and `__relation__`, e.g.

        where: "click_id in (select click_id from __relation__ where ingest_seq > __changed_since__)"

    At run time `__changed_since__` is the ingest batch the previous recorded build had
    consumed (SHOPLAKE_TESTS_CHANGED_SINCE, set by `shoplake build`: every row a build
    writes carries a later ingest_seq), so the test reads the rows of this build's
    batches, and for a uniqueness test those keys wherever they are. It is -1 (every row)
    on --full-refresh, when no build was recorded, and when the variable is unset
    (`dbt build` by hand): the whole-table test, which is also the periodic full check
    (docs/operate.md). `__relation__` is the tested relation. The variable is read only
    while executing, never while parsing, so its value changing from one build to the
    next does not invalidate dbt's partial parsing. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__changed_since__' in where -%}
            {%- set since = env_var('SHOPLAKE_TESTS_CHANGED_SINCE', '-1') if execute else '-1' -%}
            {%- set since = since if since | int | string == since else '-1' -%}
            {%- set where = where | replace('__changed_since__', since)
                | replace('__relation__', relation | string) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

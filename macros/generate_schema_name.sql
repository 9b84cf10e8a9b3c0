{#- Where each layer lives: staging models (stg_*) in <target schema>_staging,
    intermediate models (int_*) in <target schema>_intermediate; the marts (dimensions,
    facts, sales_fact, the gold agg_*), seeds and everything else in the target schema,
    the analysts' one (main on DuckDB, analytics by default on PostgreSQL and Redshift).
    A custom schema (+schema, e.g. the tests' stored failures: audit) is appended to the
    target schema, as dbt does by default: <target schema>_audit. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if node is not none and node.resource_type == 'model' -%}
        {%- for prefix, layer in [('stg_', 'staging'), ('int_', 'intermediate')] -%}
            {%- if node.name.startswith(prefix) -%}
                {{ return(target.schema ~ '_' ~ layer) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

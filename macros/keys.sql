{#- A surrogate key: md5 (dbt.hash) of the fields, nulls made explicit, '-' between
    fields. The same text on every adapter, so keys are equal across targets. -#}
{% macro surrogate_key(fields) %}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
        {%- if not loop.last -%}{%- do parts.append("'-'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{% endmacro %}

{#- date_key: the integer YYYYMMDD of a date or timestamp expression. -#}
{% macro date_key(expression) -%}
    cast(
        extract(year from {{ expression }}) * 10000
        + extract(month from {{ expression }}) * 100
        + extract(day from {{ expression }})
        as integer
    )
{%- endmacro %}

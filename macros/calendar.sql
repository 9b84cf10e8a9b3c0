{#- ISO day of week: 1 = Monday ... 7 = Sunday. -#}
{% macro iso_day_of_week(date_expression) %}
    {{ return(adapter.dispatch('iso_day_of_week', 'shoplake')(date_expression)) }}
{% endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as integer)
{%- endmacro %}

{% macro redshift__iso_day_of_week(date_expression) -%}
    cast(case when date_part(dow, {{ date_expression }}) = 0 then 7
        else date_part(dow, {{ date_expression }}) end as integer)
{%- endmacro %}

{#- English month name of a month number 1-12 (no locale-dependent formatting). -#}
{% macro month_name(month_number) -%}
    case {{ month_number }}
        {%- for name in ['January', 'February', 'March', 'April', 'May', 'June', 'July',
                         'August', 'September', 'October', 'November', 'December'] %}
        when {{ loop.index }} then '{{ name }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- The numbers 0-9 as rows of a column `n` (a CTE body): spines are built from them by
    cross joins sized to the span they need (no generate_series: Redshift runs it on the
    leader node only). -#}
{% macro digit_rows() -%}
    {%- for n in range(10) -%}
        select {{ n }} as n{{ " union all " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

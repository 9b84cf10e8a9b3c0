{#- An amount converted to USD with a rate (USD per unit), rounded half away from zero
    to cents. round() and numeric arithmetic behave the same on DuckDB, PostgreSQL and
    Redshift, so converted figures are identical on every target. -#}
{% macro to_usd(amount, usd_per_unit) -%}
    cast(round(({{ amount }}) * ({{ usd_per_unit }}), 2) as numeric(18, 2))
{%- endmacro %}

{#- numerator / denominator rounded half up to `scale` decimals, exactly and identically on
    every adapter (DuckDB would divide decimals in floating point). Both operands must be
    non-negative and the numerator must have at most `scale` decimals (money with scale
    2, counts). Null when the denominator is 0. -#}
{% macro ratio(numerator, denominator, scale=2) -%}
    {%- set factor = 10 ** scale -%}
    {%- set scaled = "cast((" ~ numerator ~ ") * " ~ factor ~ " as bigint)" -%}
    {%- set den = "cast((" ~ denominator ~ ") as bigint)" -%}
    case
        when {{ den }} = 0 then null
        else cast(
            cast({{ integer_divide("2 * " ~ scaled ~ " + " ~ den, "2 * " ~ den) }} as numeric(38, 0))
            * {{ "0." ~ "0" * (scale - 1) ~ "1" }}
            as numeric(18, {{ scale }})
        )
    end
{%- endmacro %}

{#- Integer division truncating toward zero (for non-negative operands: floor). -#}
{% macro integer_divide(numerator, denominator) %}
    {{ return(adapter.dispatch('integer_divide', 'shoplake')(numerator, denominator)) }}
{% endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

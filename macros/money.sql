{#- Money in the marts is numeric(38, 2) wherever a product or a sum of amounts can
    exceed numeric(18, 2): every amount (up to contract.MAX_AMOUNT) and quantity (up to
    contract.MAX_QUANTITY) the contract accepts fits, and so do sums over many lines
    and orders. Single delivered amounts (prices, payments) stay numeric(18, 2).

    An amount converted to USD with a rate (USD per unit), rounded half away from zero
    to cents. The rounding rule of the warehouse: each order line and each payment is
    converted and rounded on its own; an order's USD amount is the sum of its lines'
    rounded USD amounts (models/intermediate/int_sales_converted.sql), so orders and
    lines agree to the cent. round() and numeric arithmetic behave the same on DuckDB,
    PostgreSQL and Redshift, so converted figures are identical on every target. -#}
{% macro to_usd(amount, usd_per_unit) -%}
    cast(round(cast({{ amount }} as numeric(38, 2)) * ({{ usd_per_unit }}), 2) as numeric(38, 2))
{%- endmacro %}

{#- quantity * unit_price, exact, in numeric(38, 2) (a bigint times a numeric(18, 2)
    overflows 18 digits on DuckDB near the contract's bounds). -#}
{% macro line_amount(quantity, unit_price) -%}
    cast(cast({{ quantity }} as numeric(38, 0)) * cast({{ unit_price }} as numeric(38, 2)) as numeric(38, 2))
{%- endmacro %}

{#- numerator / denominator rounded half up to `scale` decimals, as numeric(`width`,
    `scale`), exactly and identically on every adapter (DuckDB would divide decimals in
    floating point). Both operands must be non-negative and the numerator must have at
    most `scale` decimals (money with scale 2, counts); the scaled numerator must fit a
    bigint (money up to 92 million million). Null when the denominator is 0. -#}
{% macro ratio(numerator, denominator, scale=2, width=18) -%}
    {%- set factor = 10 ** scale -%}
    {%- set scaled = "cast((" ~ numerator ~ ") * " ~ factor ~ " as bigint)" -%}
    {%- set den = "cast((" ~ denominator ~ ") as bigint)" -%}
    case
        when {{ den }} = 0 then null
        else cast(
            cast({{ integer_divide("2 * " ~ scaled ~ " + " ~ den, "2 * " ~ den) }} as numeric(38, 0))
            * {{ "0." ~ "0" * (scale - 1) ~ "1" }}
            as numeric({{ width }}, {{ scale }})
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

{#- One row per order line, with its order's customer and currency.

    Incremental (delete+insert on sale_id): a line is (re)computed when it was ingested
    after the watermark, or when a new version of its order was (the order carries the
    customer and the currency). Lines wait for their order header: a line whose order
    has not arrived is picked up in the run that brings the header. -#}
-- depends_on: {{ ref('stg_lake__orders') }} (read in the incremental branch only)
{{ config(
    materialized='incremental',
    unique_key='sale_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    dist='order_id',
    sort=['sold_at'],
    backup=true
) }}

with

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

orders as (

    select * from {{ ref('int_orders_deduplicated') }}

),

exchange_rates as (

    select * from {{ ref('exchange_rates') }}

),

{% if is_incremental() %}

order_versions as (

    select * from {{ ref('stg_lake__orders') }}

),

changed_sale_ids as (

    select sale_id from sales
    where ingested_at > {{ ingested_since() }}

    union all

    select sales.sale_id
    from sales
    inner join order_versions
        on sales.order_id = order_versions.order_id
    where order_versions.ingested_at > {{ ingested_since() }}

),

changed_sales as (

    select distinct sale_id from changed_sale_ids

),

{% endif %}

selected_sales as (

    select sales.*
    from sales
    {% if is_incremental() %}
        inner join changed_sales
            on sales.sale_id = changed_sales.sale_id
    {% endif %}

),

lines as (

    select
        selected_sales.*,
        orders.customer_id,
        orders.currency,
        orders.ingested_at as order_ingested_at,
        cast(selected_sales.sold_at as date) as sold_date,
        cast(
            selected_sales.quantity * selected_sales.unit_price - selected_sales.discount_amount
            as numeric(18, 2)
        ) as total_amount

    from selected_sales
    inner join orders
        on selected_sales.order_id = orders.order_id

),

final as (

    select
        cast(lines.sale_id as varchar(256)) as sale_id,
        cast(lines.order_id as varchar(256)) as order_id,
        cast({{ surrogate_key(['lines.customer_id']) }} as varchar(32)) as customer_key,
        cast({{ surrogate_key(['lines.product_id']) }} as varchar(32)) as product_key,
        cast(lines.product_id as varchar(256)) as product_id,
        {{ date_key('lines.sold_date') }} as date_key,
        lines.sold_at,
        cast(lines.quantity as bigint) as quantity,
        lines.unit_price,
        lines.discount_amount,
        lines.total_amount,
        cast(lines.currency as varchar(3)) as currency,
        {{ to_usd('lines.total_amount', 'exchange_rates.usd_per_unit') }} as total_amount_usd,
        greatest(lines.ingested_at, lines.order_ingested_at) as ingested_at

    from lines
    left join exchange_rates
        on
            lines.currency = exchange_rates.currency
            and cast({{ dbt.date_trunc('month', 'lines.sold_date') }} as date)
            = exchange_rates.rate_month

)

select * from final

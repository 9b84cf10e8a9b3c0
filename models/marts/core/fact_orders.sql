{#- One row per order, latest status, with the totals of its lines.

    Incremental (delete+insert on order_id): an order is recomputed, from all of its
    versions and lines, when a version of it or one of its lines was ingested after the
    watermark (macros/incremental.sql). Watermarking on ingested_at rather than on the
    business date picks up late lines and status changes however old the order is, at
    the cost of nothing: the changed orders are found by a filter on the new rows. -#}
-- depends_on: {{ ref('stg_lake__orders') }} (read in the incremental branch only)
{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    dist='order_id',
    sort=['order_date'],
    backup=true
) }}

with

orders as (

    select * from {{ ref('int_orders_deduplicated') }}

),

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

exchange_rates as (

    select * from {{ ref('exchange_rates') }}

),

{% if is_incremental() %}

order_versions as (

    select * from {{ ref('stg_lake__orders') }}

),

changed_order_ids as (

    select order_id from order_versions
    where ingested_at > {{ ingested_since() }}

    union all

    select order_id from sales
    where ingested_at > {{ ingested_since() }}

),

changed_orders as (

    select distinct order_id from changed_order_ids

),

{% endif %}

selected_orders as (

    select orders.*
    from orders
    {% if is_incremental() %}
        inner join changed_orders
            on orders.order_id = changed_orders.order_id
    {% endif %}

),

line_totals as (

    select
        sales.order_id,
        sum(sales.quantity) as item_count,
        sum(sales.quantity * sales.unit_price) as gross_amount,
        sum(sales.discount_amount) as discount_amount,
        max(sales.ingested_at) as ingested_at

    from sales
    inner join selected_orders
        on sales.order_id = selected_orders.order_id
    group by sales.order_id

),

amounts as (

    select
        selected_orders.*,
        cast(selected_orders.order_ts as date) as order_date,
        coalesce(line_totals.item_count, 0) as item_count,
        cast(coalesce(line_totals.gross_amount, 0) as numeric(18, 2)) as gross_amount,
        cast(coalesce(line_totals.discount_amount, 0) as numeric(18, 2)) as discount_amount,
        coalesce(line_totals.ingested_at, selected_orders.ingested_at) as lines_ingested_at

    from selected_orders
    left join line_totals
        on selected_orders.order_id = line_totals.order_id

),

final as (

    select
        cast(amounts.order_id as varchar(256)) as order_id,
        cast({{ surrogate_key(['amounts.customer_id']) }} as varchar(32)) as customer_key,
        cast(amounts.customer_id as varchar(256)) as customer_id,
        {{ date_key('amounts.order_date') }} as date_key,
        amounts.order_ts,
        amounts.order_date,
        cast(amounts.status as varchar(32)) as status,
        cast(amounts.channel as varchar(32)) as channel,
        cast(amounts.currency as varchar(3)) as currency,
        cast(amounts.country_code as varchar(2)) as country_code,
        cast(amounts.item_count as bigint) as item_count,
        amounts.gross_amount,
        amounts.discount_amount,
        cast(amounts.gross_amount - amounts.discount_amount as numeric(18, 2)) as net_amount,
        {{ to_usd(
            'amounts.gross_amount - amounts.discount_amount',
            'exchange_rates.usd_per_unit'
        ) }} as net_amount_usd,
        amounts.updated_at,
        greatest(amounts.ingested_at, amounts.lines_ingested_at) as ingested_at

    from amounts
    left join exchange_rates
        on
            amounts.currency = exchange_rates.currency
            and cast({{ dbt.date_trunc('month', 'amounts.order_date') }} as date)
            = exchange_rates.rate_month

)

select * from final

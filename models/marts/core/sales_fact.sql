{#- One row per order line, with its order's customer and currency; the line's figures
    come from int_sales_converted (the rounding rule is documented there).

    Incremental (delete+insert on sale_id): a line is (re)computed when it was written
    by an ingest batch after the watermark (macros/incremental.sql), or when a new
    version of its order was (the order carries the customer and the currency), or when
    its exchange rate came with such a batch (a late or corrected rate; every non-USD
    line when a first rates feed replaces the demo rates: macros/exchange_rates.sql). Lines
    wait for their order header: a line whose order has not arrived is picked up in the
    run that brings the header. -#}
-- depends_on: {{ ref('stg_lake__sales') }} (read in the incremental branch only)
-- depends_on: {{ ref('stg_lake__orders') }} (read in the incremental branch only)
-- depends_on: {{ ref('int_exchange_rates_daily') }} (read in the incremental branch only)
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

lines as (

    select * from {{ ref('int_sales_converted') }}

),

{% if is_incremental() %}

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

order_versions as (

    select * from {{ ref('stg_lake__orders') }}

),

exchange_rates as (

    select * from {{ ref('int_exchange_rates_daily') }}

),

{#- Lines in the fact: those of the loaded batches whose order arrived in one. -#}
{%- set expected_sql %}
    select count(*) as silver_rows
    from {{ ref('stg_lake__sales') }} as sales
    inner join (
        select order_versions.order_id
        from {{ ref('stg_lake__orders') }} as order_versions
        cross join loaded
        group by order_versions.order_id, loaded.newest_seq
        having min(order_versions.ingest_seq) <= loaded.newest_seq
    ) as arrived_orders
        on sales.order_id = arrived_orders.order_id
    cross join loaded
    where sales.ingest_seq <= loaded.newest_seq
{%- endset %}
{%- set watermark = fact_watermark(expected_sql) %}
{{- incremental_watermark_ctes(expected_sql, watermark) }}

{{ repriced_rates() }}

changed_sale_ids as (

    select sales.sale_id
    from sales
    where sales.ingest_seq > {{ watermark }}

    union all

    select sales.sale_id
    from sales
    inner join order_versions
        on sales.order_id = order_versions.order_id
    where order_versions.ingest_seq > {{ watermark }}

    union all

    select lines.sale_id
    from lines
    inner join repriced_days
        on
            lines.currency = repriced_days.currency
            and lines.sold_date = repriced_days.rate_day

    union all

    select lines.sale_id
    from lines
    cross join feed_arrived
    where feed_arrived.rate_rows > 0 and lines.currency != 'USD'

),

changed_sales as (

    select distinct sale_id from changed_sale_ids

),

{% endif %}

selected_lines as (

    select lines.*
    from lines
    {% if is_incremental() %}
        inner join changed_sales
            on lines.sale_id = changed_sales.sale_id
    {% endif %}

),

final as (

    select
        cast(sale_id as varchar(256)) as sale_id,
        cast(order_id as varchar(256)) as order_id,
        cast({{ surrogate_key(['customer_id']) }} as varchar(32)) as customer_key,
        cast({{ surrogate_key(['product_id']) }} as varchar(32)) as product_key,
        cast(product_id as varchar(256)) as product_id,
        {{ date_key('sold_date') }} as date_key,
        sold_at,
        cast(quantity as bigint) as quantity,
        unit_price,
        discount_amount,
        total_amount,
        cast(currency as varchar(3)) as currency,
        total_amount_usd,
        greatest(ingested_at, order_ingested_at) as ingested_at,
        cast(greatest(ingest_seq, order_ingest_seq, rate_ingest_seq) as bigint) as ingest_seq

    from selected_lines

)

select * from final

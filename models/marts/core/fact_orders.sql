{#- One row per order, latest status, with the totals of its lines.

    The order's amounts are the sums of its lines' (int_sales_converted): gross, discount
    and net in the order currency, and net_amount_usd the sum of the lines' rounded USD
    amounts, so an order and its lines in sales_fact agree to the cent (null when a line
    has no usable rate). An order without lines has zero amounts (in USD too, when its
    date has a usable rate).

    Incremental (delete+insert on order_id): an order is recomputed, from all of its
    versions and lines, when a version of it or one of its lines was written by an
    ingest batch after the watermark (macros/incremental.sql), however old the order
    is: late lines and status changes land without a full refresh. So is an order whose
    lines' (or, without lines, its own) exchange rate came with such a batch (a late or
    corrected rate), and every non-USD order when a first rates feed replaces the demo
    rates (int_exchange_rates_daily, macros/exchange_rates.sql). -#}
-- depends_on: {{ ref('stg_lake__orders') }} (read in the incremental branch only)
-- depends_on: {{ ref('stg_lake__sales') }} (read in the incremental branch only)
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

lines as (

    select * from {{ ref('int_sales_converted') }}

),

exchange_rates as (

    select * from {{ ref('int_exchange_rates_daily') }}

),

{% if is_incremental() %}

order_versions as (

    select * from {{ ref('stg_lake__orders') }}

),

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

{%- set expected_sql %}
    select count(distinct order_versions.order_id) as silver_rows
    from {{ ref('stg_lake__orders') }} as order_versions
    cross join loaded
    where order_versions.ingest_seq <= loaded.newest_seq
{%- endset %}
{%- set watermark = fact_watermark(expected_sql) %}
{{- incremental_watermark_ctes(expected_sql, watermark) }}

{{ repriced_rates() }}

changed_order_ids as (

    select order_versions.order_id
    from order_versions
    where order_versions.ingest_seq > {{ watermark }}

    union all

    select sales.order_id
    from sales
    where sales.ingest_seq > {{ watermark }}

    union all

    select lines.order_id
    from lines
    inner join repriced_days
        on
            lines.currency = repriced_days.currency
            and lines.sold_date = repriced_days.rate_day

    union all

    select orders.order_id
    from orders
    inner join repriced_days
        on
            orders.currency = repriced_days.currency
            and cast(orders.order_ts as date) = repriced_days.rate_day

    union all

    select orders.order_id
    from orders
    cross join feed_arrived
    where feed_arrived.rate_rows > 0 and orders.currency != 'USD'

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
        lines.order_id,
        sum(lines.quantity) as item_count,
        sum(lines.gross_amount) as gross_amount,
        sum(lines.discount_amount) as discount_amount,
        sum(lines.total_amount) as net_amount,
        case
            when count(lines.total_amount_usd) = count(*) then sum(lines.total_amount_usd)
        end as net_amount_usd,
        max(lines.ingested_at) as ingested_at,
        max(greatest(lines.ingest_seq, lines.rate_ingest_seq)) as ingest_seq

    from lines
    inner join selected_orders
        on lines.order_id = selected_orders.order_id
    group by lines.order_id

),

amounts as (

    select
        selected_orders.*,
        cast(selected_orders.order_ts as date) as order_date,
        line_totals.order_id is not null as has_lines,
        coalesce(line_totals.item_count, 0) as item_count,
        cast(coalesce(line_totals.gross_amount, 0) as numeric(38, 2)) as gross_amount,
        cast(coalesce(line_totals.discount_amount, 0) as numeric(38, 2)) as discount_amount,
        cast(coalesce(line_totals.net_amount, 0) as numeric(38, 2)) as net_amount,
        cast(line_totals.net_amount_usd as numeric(38, 2)) as lines_amount_usd,
        coalesce(line_totals.ingested_at, selected_orders.ingested_at) as lines_ingested_at,
        coalesce(line_totals.ingest_seq, selected_orders.ingest_seq) as lines_ingest_seq

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
        amounts.net_amount,
        case
            when amounts.has_lines then amounts.lines_amount_usd
            else {{ to_usd('0', usd_rate('amounts.currency', 'exchange_rates.usd_per_unit')) }}
        end as net_amount_usd,
        amounts.updated_at,
        greatest(amounts.ingested_at, amounts.lines_ingested_at) as ingested_at,
        cast(greatest(
            amounts.ingest_seq,
            amounts.lines_ingest_seq,
            case when amounts.has_lines then 0 else coalesce(exchange_rates.ingest_seq, 0) end
        ) as bigint) as ingest_seq

    from amounts
    left join exchange_rates
        on
            amounts.currency = exchange_rates.currency
            and amounts.order_date = exchange_rates.rate_day

)

select * from final

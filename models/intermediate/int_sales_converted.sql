{#- Every order line whose order header has arrived, with its order's customer and
    currency, its amounts and its amount in USD: the one place where a line's figures
    are computed, so that sales_fact and fact_orders add up to the cent.

    The rounding rule: a line's total (quantity * unit_price - discount) is converted to
    USD at the rate of its sale date (int_exchange_rates_daily: that day's rate, else the
    latest earlier one at most 7 days older; USD is always 1; no usable rate: null) and
    rounded to cents (macros/money.sql);
    an order's USD amount is the sum of its lines' rounded USD amounts. Products and
    sums are computed in numeric(38, 2): every amount and quantity the contract accepts
    fits. -#}
with

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

orders as (

    select * from {{ ref('int_orders_deduplicated') }}

),

exchange_rates as (

    select * from {{ ref('int_exchange_rates_daily') }}

),

lines as (

    select
        sales.sale_id,
        sales.order_id,
        sales.product_id,
        orders.customer_id,
        orders.currency,
        sales.quantity,
        sales.unit_price,
        sales.discount_amount,
        sales.sold_at,
        cast(sales.sold_at as date) as sold_date,
        {{ line_amount('sales.quantity', 'sales.unit_price') }} as gross_amount,
        sales.ingested_at,
        sales.ingest_seq,
        orders.ingested_at as order_ingested_at,
        orders.ingest_seq as order_ingest_seq

    from sales
    inner join orders
        on sales.order_id = orders.order_id

),

final as (

    select
        lines.sale_id,
        lines.order_id,
        lines.product_id,
        lines.customer_id,
        lines.currency,
        lines.quantity,
        lines.unit_price,
        lines.discount_amount,
        lines.sold_at,
        lines.sold_date,
        lines.gross_amount,
        cast(lines.gross_amount - lines.discount_amount as numeric(38, 2)) as total_amount,
        {{ to_usd(
            'lines.gross_amount - lines.discount_amount',
            usd_rate('lines.currency', 'exchange_rates.usd_per_unit')
        ) }} as total_amount_usd,
        cast(coalesce(exchange_rates.ingest_seq, 0) as bigint) as rate_ingest_seq,
        lines.ingested_at,
        lines.ingest_seq,
        lines.order_ingested_at,
        lines.order_ingest_seq

    from lines
    left join exchange_rates
        on
            lines.currency = exchange_rates.currency
            and lines.sold_date = exchange_rates.rate_day

)

select * from final

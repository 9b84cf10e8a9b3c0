-- Row-count sanity: the facts hold exactly one row per distinct key of the lake
-- (orders, payments, clicks), and one per line whose order has arrived.
with

fact_orders as (

    select count(*) as fact_rows from {{ ref('fact_orders') }}

),

silver_orders as (

    select count(distinct order_id) as expected_rows from {{ ref('stg_lake__orders') }}

),

sales_fact as (

    select count(*) as fact_rows from {{ ref('sales_fact') }}

),

silver_sales as (

    select count(*) as expected_rows
    from {{ ref('stg_lake__sales') }} as sales
    inner join {{ ref('int_orders_deduplicated') }} as orders
        on sales.order_id = orders.order_id

),

fact_payments as (

    select count(*) as fact_rows from {{ ref('fact_payments') }}

),

silver_payments as (

    select count(*) as expected_rows from {{ ref('stg_lake__payments') }}

),

fact_clicks as (

    select count(*) as fact_rows from {{ ref('fact_clicks') }}

),

silver_clicks as (

    select count(*) as expected_rows from {{ ref('stg_lake__clickstream') }}

),

counts as (

    select
        'fact_orders' as fact,
        fact_orders.fact_rows,
        silver_orders.expected_rows
    from fact_orders cross join silver_orders

    union all

    select
        'sales_fact' as fact,
        sales_fact.fact_rows,
        silver_sales.expected_rows
    from sales_fact cross join silver_sales

    union all

    select
        'fact_payments' as fact,
        fact_payments.fact_rows,
        silver_payments.expected_rows
    from fact_payments cross join silver_payments

    union all

    select
        'fact_clicks' as fact,
        fact_clicks.fact_rows,
        silver_clicks.expected_rows
    from fact_clicks cross join silver_clicks

)

select * from counts
where fact_rows != expected_rows

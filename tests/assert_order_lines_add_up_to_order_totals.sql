-- Money identity: every order's totals equal the sum of its lines (order currency);
-- an order without lines has zero amounts.
with

orders as (

    select * from {{ ref('fact_orders') }}

),

sales as (

    select * from {{ ref('sales_fact') }}

),

line_totals as (

    select
        order_id,
        sum(quantity) as item_count,
        sum({{ line_amount("quantity", "unit_price") }}) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(total_amount) as net_amount

    from sales
    group by order_id

),

compared as (

    select
        orders.order_id,
        orders.item_count,
        orders.gross_amount,
        orders.discount_amount,
        orders.net_amount,
        coalesce(line_totals.item_count, 0) as line_item_count,
        coalesce(line_totals.gross_amount, 0) as line_gross_amount,
        coalesce(line_totals.discount_amount, 0) as line_discount_amount,
        coalesce(line_totals.net_amount, 0) as line_net_amount

    from orders
    left join line_totals
        on orders.order_id = line_totals.order_id

)

select * from compared
where
    item_count != line_item_count
    or gross_amount != line_gross_amount
    or discount_amount != line_discount_amount
    or net_amount != line_net_amount

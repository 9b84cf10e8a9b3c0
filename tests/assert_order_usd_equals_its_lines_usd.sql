-- Money adds up in USD: every order's net_amount_usd equals, to the cent, the sum of
-- its lines' total_amount_usd in sales_fact (the rounding rule: each line is converted
-- and rounded to cents, an order is the sum of its rounded lines), and the USD totals
-- of the two facts are equal. An order without lines is left out (0, no line to sum);
-- an order with a line lacking its rate is null, and so is the sum of its lines.
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
        -- null when a line has no rate, as the order's amount is
        case
            when count(total_amount_usd) = count(*) then sum(total_amount_usd)
        end as lines_amount_usd

    from sales
    group by order_id

),

per_order as (

    select
        orders.order_id,
        orders.net_amount_usd,
        line_totals.lines_amount_usd

    from orders
    inner join line_totals
        on orders.order_id = line_totals.order_id
    where
        orders.net_amount_usd != line_totals.lines_amount_usd
        or (orders.net_amount_usd is null) != (line_totals.lines_amount_usd is null)

),

orders_total as (

    select sum(net_amount_usd) as net_amount_usd from orders

),

lines_total as (

    select sum(lines_amount_usd) as lines_amount_usd from line_totals

),

fact_totals as (

    select
        'all orders' as order_id,
        orders_total.net_amount_usd,
        lines_total.lines_amount_usd

    from orders_total
    cross join lines_total

),

totals_differ as (

    select * from fact_totals
    where net_amount_usd != lines_amount_usd

),

final as (

    select * from per_order

    union all

    select * from totals_differ

)

select * from final

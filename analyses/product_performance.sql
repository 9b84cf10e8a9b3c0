-- Product performance: units, revenue, discount rate and gross margin per product,
-- best sellers first.
with

sales as (

    select * from {{ ref('sales_fact') }}

),

orders as (

    select * from {{ ref('fact_orders') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

revenue_lines as (

    select sales.*
    from sales
    inner join orders
        on sales.order_id = orders.order_id
    where orders.status not in {{ non_revenue_statuses() }}

),

final as (

    select
        products.product_id,
        products.name,
        products.category,
        products.brand,
        count(distinct revenue_lines.order_id) as orders,
        sum(revenue_lines.quantity) as units,
        sum(revenue_lines.total_amount_usd) as revenue_usd,
        sum(revenue_lines.discount_amount) as discount_amount,
        sum(revenue_lines.quantity * products.unit_cost) as cost_of_goods

    from revenue_lines
    inner join products
        on revenue_lines.product_key = products.product_key
    group by
        products.product_id,
        products.name,
        products.category,
        products.brand

)

select * from final
order by revenue_usd desc

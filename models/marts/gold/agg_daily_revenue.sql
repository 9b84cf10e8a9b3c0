{#- Revenue per business day and region of the shipping country. Revenue = net_amount_usd
    of orders whose status is not cancelled or returned; aov_usd = revenue_usd / orders. -#}
with

orders as (

    select * from {{ ref('fact_orders') }}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

revenue_orders as (

    select
        orders.order_date,
        geography.region,
        orders.customer_id,
        orders.item_count,
        orders.net_amount_usd

    from orders
    left join geography
        on orders.country_code = geography.country_code
    where orders.status not in {{ non_revenue_statuses() }}

),

daily as (

    select
        order_date as date_day,
        region,
        count(*) as orders,
        sum(item_count) as items,
        count(distinct customer_id) as customers,
        sum(net_amount_usd) as revenue_usd

    from revenue_orders
    group by order_date, region

),

final as (

    select
        date_day,
        cast(region as varchar(32)) as region,
        cast(orders as bigint) as orders,
        cast(items as bigint) as items,
        cast(customers as bigint) as customers,
        cast(revenue_usd as numeric(38, 2)) as revenue_usd,
        {{ ratio('revenue_usd', 'orders', 2, 38) }} as aov_usd

    from daily

)

select * from final

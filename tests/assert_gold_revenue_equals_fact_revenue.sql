-- Revenue in gold equals revenue in the facts: per day, orders and net_amount_usd of
-- the orders that count as revenue (status not cancelled or returned).
with

orders as (

    select * from {{ ref('fact_orders') }}

),

daily_revenue as (

    select * from {{ ref('agg_daily_revenue') }}

),

from_facts as (

    select
        order_date as date_day,
        count(*) as orders,
        sum(net_amount_usd) as revenue_usd

    from orders
    where status not in {{ non_revenue_statuses() }}
    group by order_date

),

from_gold as (

    select
        date_day,
        sum(orders) as orders,
        sum(revenue_usd) as revenue_usd

    from daily_revenue
    group by date_day

),

compared as (

    select
        coalesce(from_facts.date_day, from_gold.date_day) as date_day,
        from_facts.orders as fact_orders,
        from_gold.orders as gold_orders,
        from_facts.revenue_usd as fact_revenue_usd,
        from_gold.revenue_usd as gold_revenue_usd

    from from_facts
    full outer join from_gold
        on from_facts.date_day = from_gold.date_day

)

select * from compared
where
    fact_orders is null
    or gold_orders is null
    or fact_orders != gold_orders
    or fact_revenue_usd != gold_revenue_usd

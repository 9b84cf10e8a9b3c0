-- agg_customer_segments covers every known (not inferred) customer and all of their
-- lifetime revenue.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

segments as (

    select * from {{ ref('agg_customer_segments') }}

),

from_dimension as (

    select
        count(*) as customers,
        coalesce(sum(lifetime_revenue_usd), 0) as lifetime_revenue_usd
    from customers
    where segment is not null

),

from_gold as (

    select
        coalesce(sum(customers), 0) as customers,
        coalesce(sum(lifetime_revenue_usd), 0) as lifetime_revenue_usd
    from segments

)

select
    from_dimension.customers as dimension_customers,
    from_gold.customers as gold_customers,
    from_dimension.lifetime_revenue_usd as dimension_revenue_usd,
    from_gold.lifetime_revenue_usd as gold_revenue_usd

from from_dimension
cross join from_gold
where
    from_dimension.customers != from_gold.customers
    or from_dimension.lifetime_revenue_usd != from_gold.lifetime_revenue_usd

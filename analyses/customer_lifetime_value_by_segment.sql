-- Customer lifetime value by segment and region: how much a customer is worth, on
-- average, and how concentrated the value is (top decile share).
with

customers as (

    select * from {{ ref('dim_customers') }}

),

ranked as (

    select
        segment,
        region,
        lifetime_revenue_usd,
        lifetime_orders,
        ntile(10) over (
            partition by segment
            order by lifetime_revenue_usd desc
        ) as value_decile

    from customers
    where not is_inferred

),

final as (

    select
        segment,
        region,
        count(*) as customers,
        sum(lifetime_orders) as orders,
        sum(lifetime_revenue_usd) as lifetime_revenue_usd,
        {{ ratio('sum(lifetime_revenue_usd)', 'count(*)', 2) }} as avg_lifetime_value_usd,
        sum(case when value_decile = 1 then lifetime_revenue_usd else 0 end)
            as top_decile_revenue_usd

    from ranked
    group by segment, region

)

select * from final
order by segment asc, lifetime_revenue_usd desc

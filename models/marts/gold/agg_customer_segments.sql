{#- Customers per segment (current version; inferred customers have no segment and are
    left out) with their average lifetime value and orders. -#}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

segments as (

    select
        segment,
        count(*) as customers,
        sum(lifetime_revenue_usd) as lifetime_revenue_usd,
        sum(lifetime_orders) as lifetime_orders

    from customers
    where segment is not null
    group by segment

),

final as (

    select
        cast(segment as varchar(32)) as segment,
        cast(customers as bigint) as customers,
        {{ ratio('lifetime_revenue_usd', 'customers', 2, 38) }} as avg_lifetime_value_usd,
        {{ ratio('lifetime_orders', 'customers', 2) }} as avg_orders_per_customer,
        cast(lifetime_revenue_usd as numeric(38, 2)) as lifetime_revenue_usd

    from segments

)

select * from final

{#- One row per customer, current version, with lifetime figures from fact_orders
    (orders that count as revenue: status not cancelled or returned). Customers seen in
    orders but not (yet) in the customer source are inferred members (is_inferred), so
    every fact row has its dimension row. -#}
with

customer_versions as (

    select * from {{ ref('int_customers_versioned') }}

),

orders as (

    select * from {{ ref('fact_orders') }}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

current_customers as (

    select * from customer_versions
    where is_current

),

inferred_customers as (

    select distinct orders.customer_id
    from orders
    left join current_customers
        on orders.customer_id = current_customers.customer_id
    where current_customers.customer_id is null

),

all_customers as (

    select
        customer_id,
        segment,
        country_code,
        signup_ts,
        email_hash,
        false as is_inferred
    from current_customers

    union all

    select
        customer_id,
        cast(null as varchar(32)) as segment,
        cast(null as varchar(2)) as country_code,
        cast(null as timestamp) as signup_ts,
        cast(null as varchar(64)) as email_hash,
        true as is_inferred
    from inferred_customers

),

order_summary as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as lifetime_orders,
        sum(net_amount_usd) as lifetime_revenue_usd

    from orders
    where status not in {{ non_revenue_statuses() }}
    group by customer_id

),

final as (

    select
        cast({{ surrogate_key(['all_customers.customer_id']) }} as varchar(32)) as customer_key,
        cast(all_customers.customer_id as varchar(256)) as customer_id,
        cast(all_customers.segment as varchar(32)) as segment,
        cast(all_customers.country_code as varchar(2)) as country_code,
        geography.region,
        cast(all_customers.signup_ts as date) as signup_date,
        order_summary.first_order_date,
        order_summary.last_order_date,
        cast(coalesce(order_summary.lifetime_orders, 0) as bigint) as lifetime_orders,
        cast(coalesce(order_summary.lifetime_revenue_usd, 0) as numeric(38, 2))
            as lifetime_revenue_usd,
        cast(all_customers.email_hash as varchar(64)) as email_hash,
        all_customers.is_inferred

    from all_customers
    left join order_summary
        on all_customers.customer_id = order_summary.customer_id
    left join geography
        on all_customers.country_code = geography.country_code

)

select * from final

-- Monthly revenue trend by region, with month-over-month growth.
with

daily_revenue as (

    select * from {{ ref('agg_daily_revenue') }}

),

monthly as (

    select
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as revenue_month,
        region,
        sum(orders) as orders,
        sum(revenue_usd) as revenue_usd

    from daily_revenue
    group by {{ dbt.date_trunc('month', 'date_day') }}, region

),

final as (

    select
        revenue_month,
        region,
        orders,
        revenue_usd,
        lag(revenue_usd) over (
            partition by region
            order by revenue_month
        ) as previous_revenue_usd,
        revenue_usd - lag(revenue_usd) over (
            partition by region
            order by revenue_month
        ) as revenue_change_usd

    from monthly

)

select * from final
order by region, revenue_month

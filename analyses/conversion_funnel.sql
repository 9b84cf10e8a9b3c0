-- The conversion funnel per week: how many sessions reach each step, and the step
-- conversion rates.
with

daily_funnel as (

    select * from {{ ref('agg_daily_funnel') }}

),

weekly as (

    select
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        sum(sessions) as sessions,
        sum(product_view_sessions) as product_view_sessions,
        sum(add_to_cart_sessions) as add_to_cart_sessions,
        sum(checkout_sessions) as checkout_sessions,
        sum(purchase_sessions) as purchase_sessions

    from daily_funnel
    group by {{ dbt.date_trunc('week', 'date_day') }}

),

final as (

    select
        week_start,
        sessions,
        product_view_sessions,
        add_to_cart_sessions,
        checkout_sessions,
        purchase_sessions,
        {{ ratio('product_view_sessions', 'sessions', 4) }} as view_rate,
        {{ ratio('add_to_cart_sessions', 'product_view_sessions', 4) }} as cart_rate,
        {{ ratio('checkout_sessions', 'add_to_cart_sessions', 4) }} as checkout_rate,
        {{ ratio('purchase_sessions', 'checkout_sessions', 4) }} as purchase_rate,
        {{ ratio('purchase_sessions', 'sessions', 4) }} as conversion_rate

    from weekly

)

select * from final
order by week_start

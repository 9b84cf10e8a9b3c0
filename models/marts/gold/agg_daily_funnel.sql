{#- Sessions per day (the day of the session's first event) and how far they got. A
    session converts when it has a purchase event. -#}
with

clicks as (

    select * from {{ ref('fact_clicks') }}

),

sessions as (

    select
        session_id,
        cast(min(event_time) as date) as session_date,
        max(case when action = 'product_view' then 1 else 0 end) as has_product_view,
        max(case when action = 'add_to_cart' then 1 else 0 end) as has_add_to_cart,
        max(case when action = 'checkout_start' then 1 else 0 end) as has_checkout,
        max(case when action = 'purchase' then 1 else 0 end) as has_purchase

    from clicks
    group by session_id

),

daily as (

    select
        session_date as date_day,
        count(*) as sessions,
        sum(has_product_view) as product_view_sessions,
        sum(has_add_to_cart) as add_to_cart_sessions,
        sum(has_checkout) as checkout_sessions,
        sum(has_purchase) as purchase_sessions

    from sessions
    group by session_date

),

final as (

    select
        date_day,
        cast(sessions as bigint) as sessions,
        cast(product_view_sessions as bigint) as product_view_sessions,
        cast(add_to_cart_sessions as bigint) as add_to_cart_sessions,
        cast(checkout_sessions as bigint) as checkout_sessions,
        cast(purchase_sessions as bigint) as purchase_sessions,
        {{ ratio('purchase_sessions', 'sessions', 4) }} as conversion_rate

    from daily

)

select * from final

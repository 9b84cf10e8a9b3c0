{#- One row per clickstream user_id (customers and anonymous visitors). -#}
with

clicks as (

    select * from {{ ref('fact_clicks') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

latest_click as (

    select
        user_id,
        user_agent,
        row_number() over (
            partition by user_id
            order by event_time desc, click_id desc
        ) as recency_rank

    from clicks

),

user_summary as (

    select
        user_id,
        min(event_time) as first_seen,
        max(event_time) as last_seen,
        count(*) as events,
        count(distinct session_id) as sessions

    from clicks
    group by user_id

),

final as (

    select
        cast(user_summary.user_id as varchar(256)) as user_id,
        user_summary.first_seen,
        user_summary.last_seen,
        cast(latest_click.user_agent as varchar(4096)) as last_user_agent,
        (customers.customer_id is not null) as is_customer,
        cast(user_summary.events as bigint) as events,
        cast(user_summary.sessions as bigint) as sessions

    from user_summary
    inner join latest_click
        on
            user_summary.user_id = latest_click.user_id
            and latest_click.recency_rank = 1
    left join customers
        on user_summary.user_id = customers.customer_id

)

select * from final

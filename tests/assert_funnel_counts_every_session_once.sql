-- agg_daily_funnel counts every session of fact_clicks exactly once, and every
-- converted session (with a purchase event).
with

clicks as (

    select * from {{ ref('fact_clicks') }}

),

daily_funnel as (

    select * from {{ ref('agg_daily_funnel') }}

),

from_facts as (

    select
        count(distinct session_id) as sessions,
        count(distinct case when action = 'purchase' then session_id end) as purchase_sessions
    from clicks

),

from_gold as (

    select
        coalesce(sum(sessions), 0) as sessions,
        coalesce(sum(purchase_sessions), 0) as purchase_sessions
    from daily_funnel

)

select
    from_facts.sessions as fact_sessions,
    from_gold.sessions as gold_sessions,
    from_facts.purchase_sessions as fact_purchase_sessions,
    from_gold.purchase_sessions as gold_purchase_sessions

from from_facts
cross join from_gold
where
    from_facts.sessions != from_gold.sessions
    or from_facts.purchase_sessions != from_gold.purchase_sessions

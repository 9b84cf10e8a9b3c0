-- agg_payment_status holds every payment once: counts and USD amounts add up to
-- fact_payments.
with

payments as (

    select * from {{ ref('fact_payments') }}

),

payment_status as (

    select * from {{ ref('agg_payment_status') }}

),

from_facts as (

    select
        count(*) as payments,
        coalesce(sum(amount_usd), 0) as amount_usd
    from payments

),

from_gold as (

    select
        coalesce(sum(payments), 0) as payments,
        coalesce(sum(amount_usd), 0) as amount_usd
    from payment_status

)

select
    from_facts.payments as fact_payments,
    from_gold.payments as gold_payments,
    from_facts.amount_usd as fact_amount_usd,
    from_gold.amount_usd as gold_amount_usd

from from_facts
cross join from_gold
where
    from_facts.payments != from_gold.payments
    or from_facts.amount_usd != from_gold.amount_usd

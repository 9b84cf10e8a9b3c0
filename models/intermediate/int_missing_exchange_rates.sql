{#- The amounts that have no USD value because their currency had no usable exchange rate
    on their business date (no rate that day nor in the 7 days before): one row per fact,
    currency and date, with how many records and how much (in the currency) is affected.
    Empty when every amount converted. The warning test
    assert_every_amount_has_a_usable_rate and the dashboard's data-quality panel report
    it. -#}
with

orders as (

    select * from {{ ref('fact_orders') }}

),

payments as (

    select * from {{ ref('fact_payments') }}

),

missing as (

    select
        'fact_orders' as fact,
        orders.currency,
        orders.order_date as business_date,
        orders.net_amount as amount
    from orders
    where orders.net_amount_usd is null

    union all

    select
        'fact_payments' as fact,
        payments.currency,
        payments.payment_date as business_date,
        payments.amount
    from payments
    where payments.amount_usd is null

),

final as (

    select
        cast(fact as varchar(32)) as fact,
        cast(currency as varchar(3)) as currency,
        business_date,
        count(*) as records,
        cast(sum(amount) as numeric(38, 2)) as amount
    from missing
    group by fact, currency, business_date

)

select * from final

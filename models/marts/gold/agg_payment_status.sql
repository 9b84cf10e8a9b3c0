with

payments as (

    select * from {{ ref('fact_payments') }}

),

daily as (

    select
        payment_date as date_day,
        method,
        status,
        count(*) as payments,
        sum(amount_usd) as amount_usd

    from payments
    group by payment_date, method, status

),

final as (

    select
        date_day,
        cast(method as varchar(32)) as method,
        cast(status as varchar(32)) as status,
        cast(payments as bigint) as payments,
        cast(amount_usd as numeric(38, 2)) as amount_usd

    from daily

)

select * from final

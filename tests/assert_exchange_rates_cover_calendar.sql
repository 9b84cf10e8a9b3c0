-- The exchange-rate seed has a rate for every currency of the raw contract in every
-- month of the calendar (dim_date), so no *_usd amount can be missing a rate.
with

calendar as (

    select * from {{ ref('dim_date') }}

),

exchange_rates as (

    select * from {{ ref('exchange_rates') }}

),

months as (

    select distinct
        year,
        month
    from calendar

),

currencies as (

    select 'USD' as currency
    union all
    select 'EUR' as currency
    union all
    select 'GBP' as currency
    union all
    select 'CAD' as currency
    union all
    select 'AUD' as currency

),

expected as (

    select
        months.year,
        months.month,
        currencies.currency
    from months
    cross join currencies

)

select expected.*
from expected
left join exchange_rates
    on
        expected.currency = exchange_rates.currency
        and expected.year = cast(extract(year from exchange_rates.rate_month) as integer)
        and expected.month = cast(extract(month from exchange_rates.rate_month) as integer)
where exchange_rates.currency is null

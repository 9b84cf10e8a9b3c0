-- Warning: amounts without a USD value, because their currency had no usable exchange
-- rate (that day's, or one at most 7 days older) on their business date. Each row names
-- the fact, the currency, the date, how many records and the amount affected; deliver
-- the missing rates (raw/exchange_rates/) and the next run reprices them.
{{ config(severity='warn') }}

select
    fact,
    currency,
    business_date,
    records,
    amount
from {{ ref('int_missing_exchange_rates') }}

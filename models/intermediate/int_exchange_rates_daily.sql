{#- The rate every amount converts with: one row per (currency, day) that has a usable
    rate, for the currencies the orders and payments use (USD excluded: it is always 1,
    macros/exchange_rates.sql).

    Rates are the delivered feed (stg_lake__exchange_rates): of several deliveries of one
    (rate_date, currency) the latest wins (ingest_seq, then raw path and line: a
    correction replaces the earlier value). A day converts with the rate of that day, else
    the latest earlier one at most rate_lookback_days() (7) days older (weekends,
    holidays); a day without either has no row, and its amounts no USD value. Only when
    no feed was ever delivered are the bundled demo rates (seed demo_exchange_rates, one
    rate per month) used instead, each for every day of its month.

    ingest_seq is the ingest batch of the rate used (0 for demo rates): the incremental
    facts reprice the amounts of every (currency, day) whose rate came with a batch after
    their watermark; first_feed_seq, the first batch of the feed, makes them reprice
    every amount once when a first feed replaces the demo rates. A table: the facts join
    it on equality. -#}
{{ config(materialized='table', dist='all') }}

with

delivered as (

    select * from {{ ref('stg_lake__exchange_rates') }}

),

demo_rates as (

    select * from {{ ref('demo_exchange_rates') }}

),

orders as (

    select * from {{ ref('int_orders_deduplicated') }}

),

payments as (

    select * from {{ ref('stg_lake__payments') }}

),

feed_state as (

    select
        count(*) as feed_rows,
        min(ingest_seq) as first_feed_seq
    from delivered

),

used_currencies as (

    select orders.currency from orders
    union
    select payments.currency from payments

),

deliveries as (

    select
        delivered.*,
        row_number() over (
            partition by delivered.rate_date, delivered.currency
            order by
                delivered.ingest_seq desc,
                delivered.source_file desc,
                delivered.source_line desc
        ) as delivery_rank

    from delivered

),

feed_rates as (

    select
        rate_date,
        currency,
        usd_per_unit,
        ingest_seq,
        {{ rate_lookback_days() }} as days_usable,
        'feed' as rate_source

    from deliveries
    where delivery_rank = 1

),

demo_month_rates as (

    select
        cast(demo_rates.rate_month as date) as rate_date,
        cast(demo_rates.currency as varchar(3)) as currency,
        cast(demo_rates.usd_per_unit as numeric(20, 10)) as usd_per_unit,
        cast(0 as bigint) as ingest_seq,
        cast(extract(day from cast({{ dbt.dateadd(
            'day', -1, dbt.dateadd('month', 1, 'demo_rates.rate_month')
        ) }} as date)) as integer) - 1 as days_usable,
        'demo' as rate_source

    from demo_rates
    cross join feed_state
    where feed_state.feed_rows = 0

),

rate_points as (

    select * from feed_rates
    union all
    select * from demo_month_rates

),

digits as (

    {{ digit_rows() }}

),

offsets as (

    select tens.n * 10 + ones.n as days_after
    from digits as tens
    cross join digits as ones
    where tens.n * 10 + ones.n <= 30

),

expanded as (

    select
        rate_points.currency,
        cast({{ dbt.dateadd('day', 'offsets.days_after', 'rate_points.rate_date') }} as date)
            as rate_day,
        rate_points.rate_date,
        rate_points.usd_per_unit,
        rate_points.rate_source,
        rate_points.ingest_seq

    from rate_points
    inner join used_currencies
        on rate_points.currency = used_currencies.currency
    inner join offsets
        on rate_points.days_usable >= offsets.days_after
    where rate_points.currency != 'USD'

),

ranked as (

    select
        expanded.*,
        row_number() over (
            partition by expanded.currency, expanded.rate_day
            order by expanded.rate_date desc
        ) as recency_rank

    from expanded

),

final as (

    select
        cast(ranked.currency as varchar(3)) as currency,
        ranked.rate_day,
        ranked.rate_date,
        cast(ranked.usd_per_unit as numeric(20, 10)) as usd_per_unit,
        cast(ranked.rate_source as varchar(8)) as rate_source,
        cast(ranked.ingest_seq as bigint) as ingest_seq,
        cast(feed_state.first_feed_seq as bigint) as first_feed_seq

    from ranked
    cross join feed_state
    where ranked.recency_rank = 1

)

select * from final

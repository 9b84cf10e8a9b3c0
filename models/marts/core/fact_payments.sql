{#- One row per payment. Payments never change once written (one silver row per
    payment_id); the incremental run (delete+insert on payment_id) loads the rows of the
    ingest batches after the watermark (macros/incremental.sql), whatever their business
    date, and reprices the payments whose exchange rate came with such a batch (a late or
    corrected rate; every non-USD payment when a first rates feed replaces the demo
    rates: macros/exchange_rates.sql). amount_usd is the payment converted at the rate of
    its date (int_exchange_rates_daily; USD is always 1; no usable rate: null) and
    rounded to cents on its own (macros/money.sql). -#}
{{ config(
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    dist='order_id',
    sort=['payment_ts'],
    backup=true
) }}

with

payments as (

    select * from {{ ref('stg_lake__payments') }}

),

exchange_rates as (

    select * from {{ ref('int_exchange_rates_daily') }}

),

{% if is_incremental() %}

{%- set expected_sql %}
    select count(*) as silver_rows
    from {{ ref('stg_lake__payments') }} as payments
    cross join loaded
    where payments.ingest_seq <= loaded.newest_seq
{%- endset %}
{%- set watermark = fact_watermark(expected_sql) %}
{{- incremental_watermark_ctes(expected_sql, watermark) }}

{{ repriced_rates() }}

{% endif %}

dated_payments as (

    select
        payments.*,
        cast(payments.payment_ts as date) as payment_date

    from payments

),

selected_payments as (

    select dated_payments.*
    from dated_payments
    {% if is_incremental() %}
        {#- Three disjoint sets, so that the first filter is a literal the scan prunes
            by: the new payments, and the older ones to reprice. -#}
        where dated_payments.ingest_seq > {{ watermark }}

        union all

        select dated_payments.*
        from dated_payments
        inner join repriced_days
            on
                dated_payments.currency = repriced_days.currency
                and dated_payments.payment_date = repriced_days.rate_day
        where dated_payments.ingest_seq <= {{ watermark }}

        union all

        select dated_payments.*
        from dated_payments
        cross join feed_arrived
        left join repriced_days
            on
                dated_payments.currency = repriced_days.currency
                and dated_payments.payment_date = repriced_days.rate_day
        where
            dated_payments.ingest_seq <= {{ watermark }}
            and feed_arrived.rate_rows > 0
            and dated_payments.currency != 'USD'
            and repriced_days.currency is null
    {% endif %}

),

final as (

    select
        cast(selected_payments.payment_id as varchar(256)) as payment_id,
        cast(selected_payments.order_id as varchar(256)) as order_id,
        {{ date_key('selected_payments.payment_date') }} as date_key,
        selected_payments.payment_ts,
        selected_payments.payment_date,
        cast(selected_payments.method as varchar(32)) as method,
        cast(selected_payments.status as varchar(32)) as status,
        selected_payments.amount,
        cast(selected_payments.currency as varchar(3)) as currency,
        {{ to_usd(
            'selected_payments.amount',
            usd_rate('selected_payments.currency', 'exchange_rates.usd_per_unit')
        ) }} as amount_usd,
        selected_payments.ingested_at,
        cast(greatest(
            selected_payments.ingest_seq, coalesce(exchange_rates.ingest_seq, 0)
        ) as bigint) as ingest_seq

    from selected_payments
    left join exchange_rates
        on
            selected_payments.currency = exchange_rates.currency
            and selected_payments.payment_date = exchange_rates.rate_day

)

select * from final

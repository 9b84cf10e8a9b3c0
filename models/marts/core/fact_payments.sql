{#- One row per payment. Payments never change once written (one silver row per
    payment_id), so the incremental run appends the rows of the ingest batches after the
    watermark (macros/incremental.sql), whatever their business date. amount_usd is the
    payment converted and rounded to cents on its own (macros/money.sql). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
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

    select * from {{ ref('exchange_rates') }}

),

{% if is_incremental() %}

{%- set expected_sql %}
    select count(*) as silver_rows
    from {{ ref('stg_lake__payments') }} as payments
    cross join loaded
    where payments.ingest_seq <= loaded.newest_seq
{%- endset %}
{{- fact_behind_lake_notice(expected_sql) }}

loaded as (

    {{ fact_load_state() }}

),

expected as (

    {{ expected_sql }}

),

watermark as (

    {{ ingest_watermark() }}

),

already_loaded as (

    select fact.payment_id
    from {{ this }} as fact
    cross join watermark
    where coalesce(fact.ingest_seq, -1) >= watermark.ingest_seq

),

{% endif %}

selected_payments as (

    select
        payments.*,
        cast(payments.payment_ts as date) as payment_date

    from payments
    {% if is_incremental() %}
        cross join watermark
        left join already_loaded
            on payments.payment_id = already_loaded.payment_id
        where
            payments.ingest_seq > watermark.ingest_seq
            and already_loaded.payment_id is null
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
        {{ to_usd('selected_payments.amount', 'exchange_rates.usd_per_unit') }} as amount_usd,
        selected_payments.ingested_at,
        selected_payments.ingest_seq

    from selected_payments
    left join exchange_rates
        on
            selected_payments.currency = exchange_rates.currency
            and cast({{ dbt.date_trunc('month', 'selected_payments.payment_date') }} as date)
            = exchange_rates.rate_month

)

select * from final

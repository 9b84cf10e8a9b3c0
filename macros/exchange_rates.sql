{#- Exchange rates: the delivered feed (dataset exchange_rates of the raw contract) or,
    when no feed was ever delivered, the bundled demo rates (seed demo_exchange_rates).
    models/intermediate/int_exchange_rates_daily.sql gives every (currency, day) its
    usable rate; the facts convert with usd_rate() below. -#}

{#- How many days a rate stays usable: an amount converts with the rate of its business
    date, else the latest earlier one at most this many days older
    (shoplake.contract.RATE_LOOKBACK_DAYS). -#}
{% macro rate_lookback_days() -%}
    7
{%- endmacro %}

{#- The rate (USD per unit) an amount in `currency` converts with: USD is always 1, with or
    without rates; any other currency has the looked-up rate, or null (no usable rate:
    the USD amount stays null and is reported, never converted with a wrong rate). -#}
{% macro usd_rate(currency, looked_up_rate) -%}
    case when {{ currency }} = 'USD' then 1 else {{ looked_up_rate }} end
{%- endmacro %}

{#- The CTEs of an incremental fact's run that say which amounts to reprice (they read
    the CTEs `exchange_rates`, int_exchange_rates_daily, and `watermark`):
    repriced_days, the (currency, rate_day) whose rate came with an ingest batch after
    the watermark (a late or corrected rate); feed_arrived, one row whose rate_rows is
    above 0 when the first rates feed came after the watermark (every non-USD amount
    was converted with the demo rates, or had none). -#}
{% macro repriced_rates() -%}
repriced_days as (

    select
        exchange_rates.currency,
        exchange_rates.rate_day
    from exchange_rates
    cross join watermark
    where exchange_rates.ingest_seq > watermark.ingest_seq

),

feed_arrived as (

    select count(*) as rate_rows
    from exchange_rates
    cross join watermark
    where exchange_rates.first_feed_seq > watermark.ingest_seq

),
{%- endmacro %}

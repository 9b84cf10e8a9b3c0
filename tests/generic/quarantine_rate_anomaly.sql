{#- The quarantine rate of each dataset per day (records quarantined / records read by
    the day's ingest runs, from the run history's run_datasets joined to runs) against
    the dataset's median rate over the previous `days` days that have one (at least
    `min_history`): one row per dataset and day whose rate exceeds both the median plus
    `min_points` and the median times (1 + band). Attached to the run history source;
    a warehouse without history yet has nothing to check. Warns by default; the
    defaults are the project variables anomaly_quarantine_band,
    anomaly_quarantine_min_points, anomaly_history_days and anomaly_min_history. -#}
{% test quarantine_rate_anomaly(model, runs, band=none, min_points=none, days=none, min_history=none) %}
{{ config(severity='warn') }}
{%- set band = band if band is not none else var('anomaly_quarantine_band') -%}
{%- set min_points = min_points if min_points is not none else var('anomaly_quarantine_min_points') -%}
{%- set days = days if days is not none else var('anomaly_history_days') -%}
{%- set min_history = min_history if min_history is not none else var('anomaly_min_history') -%}
{%- set datasets_relation = load_relation(model) if execute else none -%}
{%- set runs_relation = load_relation(runs) if execute else none -%}
{%- if datasets_relation is none or runs_relation is none %}

select
    cast(null as varchar(64)) as dataset,
    cast(null as date) as run_day
where 1 = 0

{%- else %}

with

daily as (

    select
        run_datasets.dataset,
        cast(runs.started_at as date) as run_day,
        sum(run_datasets.records_read) as records_read,
        sum(run_datasets.quarantined) as quarantined
    from {{ model }} as run_datasets
    inner join {{ runs }} as runs
        on run_datasets.run_id = runs.run_id
    group by run_datasets.dataset, cast(runs.started_at as date)
    having sum(run_datasets.records_read) > 0

),

rates as (

    select
        dataset,
        run_day,
        records_read,
        quarantined,
        cast(quarantined as double precision) / records_read as quarantine_rate
    from daily

),

baseline as (

    select
        cur.dataset,
        cur.run_day,
        cur.records_read,
        cur.quarantined,
        cur.quarantine_rate,
        count(*) as history_days,
        {{ group_median('past.quarantine_rate') }} as median_rate
    from rates as cur
    inner join rates as past
        on
            cur.dataset = past.dataset
            and past.run_day < cur.run_day
            and {{ datediff('past.run_day', 'cur.run_day', 'day') }} <= {{ days }}
    group by cur.dataset, cur.run_day, cur.records_read, cur.quarantined, cur.quarantine_rate

)

select
    dataset,
    run_day,
    records_read,
    quarantined,
    quarantine_rate,
    median_rate,
    history_days
from baseline
where
    history_days >= {{ min_history }}
    and quarantine_rate > median_rate + {{ min_points }}
    and quarantine_rate > median_rate * (1 + {{ band }})

{%- endif %}

{% endtest %}

{#- Schema changes in delivered files, from the run history: ingest records per run and
    dataset the columns its files delivered that the contract does not have (`added`)
    and the optional contract columns they lacked (`vanished`), in run_schema_changes.
    One row per column of the latest run that read files of a dataset which is such a
    change (of one of `kinds`) that none of the dataset's earlier runs of the previous
    `days` days recorded (at least `min_history` of them: before that there is nothing
    to compare with; a column delivered run after run is reported once, when it
    appears). Attached to the run history source; a warehouse without history yet has
    nothing to check. Warns by default; the defaults are the project variables
    anomaly_schema_change_kinds, anomaly_history_days and anomaly_schema_min_history. -#}
{% test schema_change_anomaly(model, run_datasets, runs, kinds=none, days=none, min_history=none) %}
{{ config(severity='warn') }}
{%- set kinds = kinds if kinds is not none else var('anomaly_schema_change_kinds') -%}
{%- set days = days if days is not none else var('anomaly_history_days') -%}
{%- set min_history = min_history if min_history is not none else var('anomaly_schema_min_history') -%}
{%- set changes_relation = load_relation(model) if execute else none -%}
{%- set datasets_relation = load_relation(run_datasets) if execute else none -%}
{%- set runs_relation = load_relation(runs) if execute else none -%}
{%- if changes_relation is none or datasets_relation is none or runs_relation is none or not kinds %}

select
    cast(null as varchar(64)) as dataset,
    cast(null as varchar(64)) as column_name
where 1 = 0

{%- else %}

with

ingests as (

    select
        run_datasets.dataset,
        run_datasets.run_id,
        runs.started_at,
        row_number() over (
            partition by run_datasets.dataset
            order by runs.started_at desc, run_datasets.run_id desc
        ) as recency
    from {{ run_datasets }} as run_datasets
    inner join {{ runs }} as runs
        on run_datasets.run_id = runs.run_id
    where run_datasets.files_read > 0

),

latest as (

    select
        dataset,
        run_id,
        started_at
    from ingests
    where recency = 1

),

earlier as (

    select
        ingests.dataset,
        ingests.run_id
    from ingests
    inner join latest
        on ingests.dataset = latest.dataset
    where
        ingests.recency > 1
        and {{ datediff('cast(ingests.started_at as date)', 'cast(latest.started_at as date)', 'day') }} <= {{ days }}

),

history as (

    select
        dataset,
        count(*) as earlier_runs
    from earlier
    group by dataset

),

seen_before as (

    select distinct
        changes.dataset,
        changes.column_name,
        changes.kind
    from {{ model }} as changes
    inner join earlier
        on
            changes.run_id = earlier.run_id
            and changes.dataset = earlier.dataset

)

select
    latest.dataset,
    latest.run_id,
    latest.started_at as run_started_at,
    changes.kind,
    changes.column_name,
    changes.files,
    history.earlier_runs
from latest
inner join {{ model }} as changes
    on
        latest.run_id = changes.run_id
        and latest.dataset = changes.dataset
inner join history
    on latest.dataset = history.dataset
left join seen_before
    on
        changes.dataset = seen_before.dataset
        and changes.column_name = seen_before.column_name
        and changes.kind = seen_before.kind
where
    history.earlier_runs >= {{ min_history }}
    and changes.kind in ({% for kind in kinds %}'{{ kind }}'{{ ", " if not loop.last }}{% endfor %})
    and seen_before.dataset is null

{%- endif %}

{% endtest %}

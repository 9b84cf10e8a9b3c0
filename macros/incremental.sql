{#- The incremental watermark of a fact: the newest `ingested_at` already in it, minus the
    lookback (var incremental_lookback_hours). Silver rows carry the start time of the
    ingest run that wrote them, so every late record and every new order version is
    newer than the watermark, whatever its business date. The lookback absorbs clock skew
    and ingest runs that overlap a build. An empty fact selects everything. -#}
{% macro ingested_since(column='ingested_at') -%}
    {{ dbt.dateadd(
        'hour',
        -1 * var('incremental_lookback_hours'),
        "coalesce((select max(" ~ column ~ ") from " ~ this ~ "), cast('1900-01-01' as timestamp))"
    ) }}
{%- endmacro %}

{#- The order statuses that count as revenue, as a SQL list for `not in`. -#}
{% macro non_revenue_statuses() -%}
    ({%- for s in var('non_revenue_statuses') -%}'{{ s }}'{{ ', ' if not loop.last }}{%- endfor -%})
{%- endmacro %}

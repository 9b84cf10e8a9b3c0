{#- Newest updated_at wins: silver keeps every version of an order (order_id, updated_at);
    this keeps the latest one per order, with the newest ingest batch holding any
    version of it (ingest_seq: a version that arrives late but loses is still news for
    the incremental facts). -#}
with

order_versions as (

    select * from {{ ref('stg_lake__orders') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by updated_at desc, ingested_at desc
        ) as version_rank,
        max(ingest_seq) over (partition by order_id) as newest_ingest_seq,
        min(ingest_seq) over (partition by order_id) as first_ingest_seq

    from order_versions

),

final as (

    select
        order_id,
        customer_id,
        order_ts,
        status,
        channel,
        currency,
        country_code,
        updated_at,
        ingested_at,
        newest_ingest_seq as ingest_seq,
        first_ingest_seq

    from ranked
    where version_rank = 1

)

select * from final

{#- The raw IP address and the free-form attributes stay in the lake. -#}
with

source as (

    select * from {{ source('lake', 'clickstream') }}

),

renamed as (

    select
        click_id,
        cast(event_time as timestamp) as event_time,
        user_id,
        session_id,
        action,
        page_url,
        user_agent,
        product_id,
        order_id,
        cast(ingested_at as timestamp) as ingested_at,
        cast(coalesce(ingest_seq, 0) as bigint) as ingest_seq

    from source

)

select * from renamed

with

source as (

    select * from {{ source('lake', 'orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        cast(order_ts as timestamp) as order_ts,
        status,
        channel,
        currency,
        shipping_country as country_code,
        cast(updated_at as timestamp) as updated_at,
        cast(ingested_at as timestamp) as ingested_at,
        cast(coalesce(ingest_seq, 0) as bigint) as ingest_seq

    from source

)

select * from renamed

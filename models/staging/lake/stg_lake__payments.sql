with

source as (

    select * from {{ source('lake', 'payments') }}

),

renamed as (

    select
        payment_id,
        order_id,
        cast(payment_ts as timestamp) as payment_ts,
        method,
        status,
        cast(amount as numeric(18, 2)) as amount,
        currency,
        cast(ingested_at as timestamp) as ingested_at,
        cast(coalesce(ingest_seq, 0) as bigint) as ingest_seq

    from source

)

select * from renamed

with

source as (

    select * from {{ source('lake', 'sales') }}

),

renamed as (

    select
        sale_id,
        order_id,
        product_id,
        cast(quantity as bigint) as quantity,
        cast(unit_price as numeric(18, 2)) as unit_price,
        cast(coalesce(discount_amount, 0) as numeric(18, 2)) as discount_amount,
        cast(sold_at as timestamp) as sold_at,
        cast(ingested_at as timestamp) as ingested_at,
        cast(coalesce(ingest_seq, 0) as bigint) as ingest_seq

    from source

)

select * from renamed

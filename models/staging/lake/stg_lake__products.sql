with

source as (

    select * from {{ source('lake', 'products') }}

),

renamed as (

    select
        product_id,
        sku,
        name,
        category,
        subcategory,
        brand,
        cast(list_price as numeric(18, 2)) as list_price,
        cast(unit_cost as numeric(18, 2)) as unit_cost,
        is_active,
        cast(updated_at as timestamp) as updated_at,
        cast(ingested_at as timestamp) as ingested_at

    from source

)

select * from renamed

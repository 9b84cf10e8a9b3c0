{#- Newest updated_at wins: the current version of every product in the catalog. -#}
with

product_versions as (

    select * from {{ ref('stg_lake__products') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by product_id
            order by updated_at desc, ingested_at desc
        ) as version_rank

    from product_versions

),

final as (

    select
        product_id,
        sku,
        name,
        category,
        subcategory,
        brand,
        list_price,
        unit_cost,
        is_active,
        updated_at,
        ingested_at

    from ranked
    where version_rank = 1

)

select * from final

{#- One row per product, current catalog version. Products sold but not (yet) in the
    catalog are inferred members (is_inferred, not active). -#}
with

products as (

    select * from {{ ref('int_products_deduplicated') }}

),

sales as (

    select * from {{ ref('stg_lake__sales') }}

),

inferred_products as (

    select distinct sales.product_id
    from sales
    left join products
        on sales.product_id = products.product_id
    where products.product_id is null

),

all_products as (

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
        false as is_inferred
    from products

    union all

    select
        product_id,
        cast(null as varchar(256)) as sku,
        cast(null as varchar(512)) as name,
        cast(null as varchar(128)) as category,
        cast(null as varchar(128)) as subcategory,
        cast(null as varchar(128)) as brand,
        cast(null as numeric(18, 2)) as list_price,
        cast(null as numeric(18, 2)) as unit_cost,
        false as is_active,
        cast(null as timestamp) as updated_at,
        true as is_inferred
    from inferred_products

),

final as (

    select
        cast({{ surrogate_key(['product_id']) }} as varchar(32)) as product_key,
        cast(product_id as varchar(256)) as product_id,
        cast(sku as varchar(256)) as sku,
        cast(name as varchar(512)) as name,
        cast(category as varchar(128)) as category,
        cast(subcategory as varchar(128)) as subcategory,
        cast(brand as varchar(128)) as brand,
        cast(list_price as numeric(18, 2)) as list_price,
        cast(unit_cost as numeric(18, 2)) as unit_cost,
        is_active,
        updated_at,
        is_inferred

    from all_products

)

select * from final

with

customer_versions as (

    select * from {{ ref('int_customers_versioned') }}

),

geography as (

    select * from {{ ref('dim_geography') }}

),

final as (

    select
        cast(customer_versions.customer_version_key as varchar(32)) as customer_version_key,
        cast(customer_versions.customer_key as varchar(32)) as customer_key,
        cast(customer_versions.customer_id as varchar(256)) as customer_id,
        cast(customer_versions.segment as varchar(32)) as segment,
        cast(customer_versions.country_code as varchar(2)) as country_code,
        geography.region,
        customer_versions.valid_from,
        customer_versions.valid_to,
        customer_versions.is_current

    from customer_versions
    left join geography
        on customer_versions.country_code = geography.country_code

)

select * from final

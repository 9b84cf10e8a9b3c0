with

countries as (

    select * from {{ ref('countries') }}

),

final as (

    select
        cast(country_code as varchar(2)) as country_code,
        cast(country_name as varchar(128)) as country_name,
        cast(region as varchar(32)) as region,
        cast(subregion as varchar(64)) as subregion

    from countries

)

select * from final

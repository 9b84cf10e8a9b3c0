{#- Personal data stops here: names, postal code and the e-mail address itself are not
    selected; the e-mail leaves staging only as a salted SHA-256 (macros/hash_email.sql).
    A table, unlike the other staging models: the salt is read from the build's session
    (never written into SQL), so a view would not work in anyone else's session. -#}
{{ config(
    materialized='table',
    pre_hook="{{ set_email_salt() }}",
    backup=false
) }}

with

source as (

    select * from {{ source('lake', 'customers') }}

),

renamed as (

    select
        customer_id,
        {{ hash_email('email') }} as email_hash,
        segment,
        cast(signup_ts as timestamp) as signup_ts,
        address_city as city,
        address_region as state_region,
        address_country as country_code,
        marketing_opt_in as is_marketing_opt_in,
        cast(updated_at as timestamp) as updated_at,
        cast(ingested_at as timestamp) as ingested_at

    from source

)

select * from renamed

{#- Slowly changing dimension, type 2: every customer version in silver becomes a row
    valid from its updated_at until the next version's updated_at (exclusive); the last
    version is open (valid_to null) and current. -#}
with

customer_versions as (

    select * from {{ ref('stg_lake__customers') }}

),

windowed as (

    select
        customer_id,
        email_hash,
        segment,
        signup_ts,
        city,
        state_region,
        country_code,
        is_marketing_opt_in,
        updated_at as valid_from,
        lead(updated_at) over (
            partition by customer_id
            order by updated_at
        ) as valid_to

    from customer_versions

),

final as (

    select
        {{ surrogate_key(['customer_id', 'valid_from']) }} as customer_version_key,
        {{ surrogate_key(['customer_id']) }} as customer_key,
        customer_id,
        email_hash,
        segment,
        signup_ts,
        city,
        state_region,
        country_code,
        is_marketing_opt_in,
        valid_from,
        valid_to,
        (valid_to is null) as is_current

    from windowed

)

select * from final

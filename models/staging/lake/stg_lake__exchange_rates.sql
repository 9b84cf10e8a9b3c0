{#- Every delivered exchange rate in silver: one row per distinct (rate_date, currency,
    usd_per_unit); a correction is a later delivery (ingest_seq) of the same rate_date and
    currency. No rows when no feed was ever delivered. -#}
with

source as (

    select * from {{ source('lake', 'exchange_rates') }}

),

renamed as (

    select
        cast(rate_date as date) as rate_date,
        cast(currency as varchar(3)) as currency,
        cast(usd_per_unit as numeric(20, 10)) as usd_per_unit,
        cast(source_file as varchar(1024)) as source_file,
        cast(source_line as bigint) as source_line,
        cast(ingested_at as timestamp) as ingested_at,
        cast(coalesce(ingest_seq, 0) as bigint) as ingest_seq

    from source

)

select * from renamed

{#- One row per calendar day from var calendar_start to var calendar_end (inclusive). -#}
with

spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('calendar_start') ~ "' as date)",
        dbt.dateadd('day', 1, "cast('" ~ var('calendar_end') ~ "' as date)")
    ) }}

),

days as (

    select cast(date_day as date) as date_day
    from spine

),

final as (

    select
        {{ date_key('date_day') }} as date_key,
        date_day,
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month,
        cast({{ month_name('cast(extract(month from date_day) as integer)') }} as varchar(16))
            as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        {{ iso_day_of_week('date_day') }} as day_of_week,
        case
            when {{ iso_day_of_week('date_day') }} in (6, 7) then true else false
        end as is_weekend

    from days

)

select * from final

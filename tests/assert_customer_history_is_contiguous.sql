-- SCD-2 integrity: every customer has exactly one current version, and each version
-- ends exactly where the next one starts (no gaps, no overlaps).
with

history as (

    select * from {{ ref('dim_customers_history') }}

),

ordered as (

    select
        customer_id,
        valid_from,
        valid_to,
        is_current,
        lead(valid_from) over (
            partition by customer_id
            order by valid_from
        ) as next_valid_from

    from history

),

broken_links as (

    select customer_id
    from ordered
    where
        (next_valid_from is null and (valid_to is not null or not is_current))
        or (next_valid_from is not null and (valid_to != next_valid_from or is_current))

),

current_counts as (

    select customer_id
    from history
    group by customer_id
    having sum(case when is_current then 1 else 0 end) != 1

)

select customer_id from broken_links
union all
select customer_id from current_counts

{#- Row-count sanity: fails (one row) when the model's row count is below min_value or
    above max_value (either bound optional). -#}
{% test row_count_between(model, min_value=none, max_value=none) %}

with

counted as (

    select count(*) as row_count
    from {{ model }}

)

select row_count
from counted
where
    1 = 2
    {%- if min_value is not none %}
    or row_count < {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
    or row_count > {{ max_value }}
    {%- endif %}

{% endtest %}

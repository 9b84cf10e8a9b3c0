{#- Fails on every row where the boolean SQL expression is not true (null counts as a
    failure). Plain SQL, so it runs on DuckDB, PostgreSQL and Redshift. -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}

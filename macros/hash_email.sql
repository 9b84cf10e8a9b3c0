{#- email_hash: salted SHA-256 (hex) of the trimmed, lower-cased e-mail address.

    The salt (SHOPLAKE_EMAIL_SALT, never in the repository) is never rendered into SQL:
    the SQL reads it by name from the session (email_salt_sql), and `shoplake build`
    puts it there outside any statement text (src/shoplake/warehouse.py):

    * DuckDB: a variable set by the profile's dbt-duckdb plugin (shoplake.dbt_plugin)
      with a bound parameter, read with getvariable();
    * PostgreSQL: a custom setting shoplake.email_salt passed by libpq at connection
      start (PGOPTIONS="-c shoplake.email_salt=..."), read with current_setting(); a
      session without it fails with "unrecognized configuration parameter";
    * Redshift: a session context variable set by the hashing model's pre-hook
      (set_email_salt) with a bound parameter, read with current_setting().

    The local targets (dev and postgres, which hold only generated test data) fall back
    to a fixed, public development salt so that a fresh checkout builds; any other
    target (prod) refuses to run without the variable, so a production hash can never be
    made with the public salt. The model that hashes is a table: a view would read the
    session's salt when an analyst queries it. -#}
{% macro hash_email(column) %}
    {{ sha256_hex(email_salt_sql() ~ " || lower(trim(" ~ column ~ "))") }}
{% endmacro %}

{#- The salt, read from the session. -#}
{% macro email_salt_sql() %}
    {{ return(adapter.dispatch('email_salt_sql', 'shoplake')()) }}
{% endmacro %}

{% macro default__email_salt_sql() -%}
    current_setting('shoplake.email_salt')
{%- endmacro %}

{% macro duckdb__email_salt_sql() -%}
    getvariable('shoplake_email_salt')
{%- endmacro %}

{#- Redshift: refuse to compile without the salt (the pre-hook sets it at run time). -#}
{% macro redshift__email_salt_sql() -%}
    {%- do require_email_salt() -%}
    current_setting('shoplake.email_salt')
{%- endmacro %}

{#- The pre-hook of the hashing model: on Redshift, set the session's salt with a bound
    parameter (dbt logs the statement, not its parameters); elsewhere the connection
    already has it. Renders to nothing. -#}
{% macro set_email_salt() %}
    {{ return(adapter.dispatch('set_email_salt', 'shoplake')()) }}
{% endmacro %}

{% macro default__set_email_salt() %}
    {{ return('') }}
{% endmacro %}

{% macro redshift__set_email_salt() %}
    {%- if execute -%}
        {%- do adapter.add_query(
            "select set_config('shoplake.email_salt', %s, false)",
            bindings=[require_email_salt()],
            auto_begin=false
        ) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- SHOPLAKE_EMAIL_SALT on a target that must have it; read at run time only (never
    while parsing, so that dbt's partial-parsing state does not record it). -#}
{% macro require_email_salt() %}
    {%- set salt = env_var('SHOPLAKE_EMAIL_SALT', '') if execute else '' -%}
    {%- if execute and not salt -%}
        {{ exceptions.raise_compiler_error(
            "SHOPLAKE_EMAIL_SALT is not set: target '" ~ target.name ~ "' needs the "
            ~ "e-mail hashing salt from the environment (it is never stored in the "
            ~ "repository); export SHOPLAKE_EMAIL_SALT and run again") }}
    {%- endif -%}
    {{ return(salt) }}
{% endmacro %}

{#- Lower-case hex SHA-256 of a text expression, the same digest on every adapter. -#}
{% macro sha256_hex(expression) %}
    {{ return(adapter.dispatch('sha256_hex', 'shoplake')(expression)) }}
{% endmacro %}

{% macro default__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{% macro duckdb__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro redshift__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}

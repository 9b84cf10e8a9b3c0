{#- email_hash: salted SHA-256 (hex) of the trimmed, lower-cased e-mail address.

    The salt comes from the SHOPLAKE_EMAIL_SALT environment variable, never from the
    repository. Local targets (var `dev_salt_targets`: dev and postgres, which hold only
    generated test data) fall back to a fixed, public development salt so that a fresh
    checkout builds; any other target (prod) refuses to run without the variable, so a
    production hash can never be made with the public salt. -#}
{% macro email_salt() %}
    {%- set salt = env_var('SHOPLAKE_EMAIL_SALT', '') -%}
    {%- if not salt -%}
        {%- if target.name in var('dev_salt_targets', ['dev', 'postgres']) -%}
            {%- set salt = 'shoplake-public-development-salt' -%}
        {%- elif execute -%}
            {{ exceptions.raise_compiler_error(
                "SHOPLAKE_EMAIL_SALT is not set: target '" ~ target.name ~ "' needs the "
                ~ "e-mail hashing salt from the environment (it is never stored in the "
                ~ "repository); export SHOPLAKE_EMAIL_SALT and run again") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(salt) }}
{% endmacro %}

{% macro hash_email(column) %}
    {%- set salt = email_salt() | replace("'", "''") -%}
    {{ sha256_hex("'" ~ salt ~ "' || lower(trim(" ~ column ~ "))") }}
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

"""The dbt project's conventions as dbt-score rules: names by layer, every model tested,
keys tested, marts with enforced contracts, gold marts public in an owned group.

dbt-score loads them by the namespace configured in ``pyproject.toml`` (``[tool.dbt-score]``)
next to its own generic rules; ``make test`` lints the project's manifest with both
(``pytests/operate/test_dbt_conventions.py``). A development tool: nothing in the
pipeline imports this module.
"""

from pathlib import PurePosixPath

from dbt_score import Model, RuleViolation, Severity, rule

#: Names that keep an older spelling because users asked for them (a mart name is part
#: of the warehouse contract): each one documented where it is defined.
KEPT_NAMES = frozenset({"sales_fact"})

#: Name prefixes of each layer, by the model's folder under models/.
LAYER_PREFIXES = {
    "intermediate": ("int_",),
    "marts/core": ("dim_", "fact_"),
    "marts/gold": ("agg_",),
}

#: Tests that prove a key unique: dbt's own and the project's composite-key test.
KEY_TESTS = frozenset({"unique", "unique_combination_of_columns"})


def _folder(model: Model) -> PurePosixPath:
    path = PurePosixPath(model.original_file_path)
    return path.parent.relative_to("models") if path.parts[0] == "models" else path.parent


def _is_mart(model: Model) -> bool:
    return _folder(model).parts[:1] == ("marts",)


def _is_gold(model: Model) -> bool:
    return _folder(model).parts[:2] == ("marts", "gold")


@rule(severity=Severity.HIGH)
def name_follows_its_layer(model: Model) -> RuleViolation | None:
    """Staging models are stg_<source>__<entity>, then int_, dim_/fact_ and agg_ by layer."""
    if model.name in KEPT_NAMES:
        return None
    folder = _folder(model)
    if folder.parts[:1] == ("staging",) and len(folder.parts) >= 2:
        source = folder.parts[1]
        prefix = f"stg_{source}__"
        if model.name.startswith(prefix) and len(model.name) > len(prefix):
            return None
        return RuleViolation(f"a staging model of source {source} is named {prefix}<entity>")
    for layer, prefixes in LAYER_PREFIXES.items():
        if folder.as_posix() == layer:
            if model.name.startswith(prefixes):
                return None
            return RuleViolation(f"a model in {layer} is named {' or '.join(prefixes)}...")
    return RuleViolation(f"{folder} is not a layer of the project")


@rule(severity=Severity.HIGH)
def has_a_test(model: Model) -> RuleViolation | None:
    """Every model has at least one data test, on the model or on a column."""
    if model.tests or any(column.tests for column in model.columns):
        return None
    return RuleViolation("the model has no data test")


@rule(severity=Severity.HIGH)
def key_is_tested(model: Model) -> RuleViolation | None:
    """Every model's key is tested unique (a column's unique test or a composite key)."""
    tests = [*model.tests, *(t for column in model.columns for t in column.tests)]
    if any(test.type in KEY_TESTS for test in tests):
        return None
    return RuleViolation("no unique or unique_combination_of_columns test proves its key")


@rule(severity=Severity.HIGH)
def mart_contract_is_enforced(model: Model) -> RuleViolation | None:
    """Marts are queried by name on every target: their columns and types are enforced."""
    if not _is_mart(model) or (model.config.get("contract") or {}).get("enforced"):
        return None
    return RuleViolation("a mart without an enforced contract")


@rule(severity=Severity.HIGH)
def access_follows_the_layer(model: Model) -> RuleViolation | None:
    """Gold marts are public in a group (whose owner answers for them); the rest is not."""
    if _is_gold(model):
        if model.access == "public" and model.group:
            return None
        return RuleViolation("a gold mart is public and in a group")
    if model.access == "public":
        return RuleViolation("only gold marts are public")
    return None

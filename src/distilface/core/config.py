"""Strict validation of a workflow config against ``config/schema.yaml``, with readable errors.

Snakemake's own ``validate`` reports only the first violation, without the key path of the
bad value. :func:`validate_config` reports every violation, each as ``<key path>: <what is
wrong>`` (``ablations.simcse-unsup.batch_size[0]: 'abc' is not of type 'integer'``); an
unknown key is named with the closest known one (``ablation: unknown key (did you mean
'ablations'?)``). The Snakefile and ``python -m distilface.reproduce`` call it before anything
runs, so a typo never silently drops part of an experiment.

This module imports nothing heavy: the Snakefile calls it at parse time.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"

#: TrainConfig fields that are NOT training settings: the grid (or the train rule) sets them
#: from other parts of the config, so ``$defs.settings`` must not list them (a value there
#: would be overwritten without a word). ``tests/test_config.py`` checks that
#: ``$defs.settings`` + these == the fields of ``distilface.train.TrainConfig``.
SET_BY_GRID: dict[str, str] = {
    "objective": "variants.<v>.objective",
    "student": "variants.<v>.student / init_from",
    "data": "variants.<v>.data -> training.data",
    "teacher_cache": "variants.<v>.teacher (rule teacher_cache)",
    "senteval_root": "training.senteval_root",
    "seed": "variants.<v>.seeds / ablations.<v>.seeds",
    "extra": "the run's ids (grid.train_config_kwargs)",
    "out_dir": "the train rule's output folder",
    "work_dir": "the train rule's checkpoint folder",
}


class ConfigError(ValueError):
    """A config violates the schema; the message lists every violation by key path."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The parsed schema (YAML)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def key_path(parts: Iterable[str | int]) -> str:
    """``("ablations", "x", "batch_size", 0)`` -> ``ablations.x.batch_size[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _unknown_keys(error: Any) -> list[str]:
    """Keys an ``additionalProperties: false`` violation is about."""
    allowed = set(error.schema.get("properties", {}))
    return sorted(k for k in error.instance if k not in allowed)


def _suggestion(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _messages(error: Any) -> list[str]:
    """One line per problem of one jsonschema error, each starting with its key path."""
    where = list(error.absolute_path)
    if (
        error.validator == "additionalProperties"
        and error.schema.get("additionalProperties") is False
        and isinstance(error.instance, Mapping)
    ):
        allowed = sorted(error.schema.get("properties", {}))
        return [
            f"{key_path([*where, key])}: unknown key{_suggestion(key, allowed)}; "
            f"allowed {'at the top level' if not where else 'here'}: {', '.join(allowed)}"
            for key in _unknown_keys(error)
        ]
    if error.validator == "oneOf" and error.context:
        reasons = "; ".join(sorted({c.message for c in error.context}))
        return [f"{key_path(where) or '<top level>'}: {error.instance!r} is invalid ({reasons})"]
    return [f"{key_path(where) or '<top level>'}: {error.message}"]


def config_errors(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every schema violation of ``config`` as ``<key path>: <message>``, sorted by path."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(dict(schema if schema is not None else load_schema()))
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return [msg for error in errors for msg in _messages(error)]


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last one
    silently: two ``simcse-unsup:`` blocks would run only the second)."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: explicit keys win
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                f"{key_node.start_mark.name}:{line}: duplicated key {key!r} (first at line "
                f"{seen[key]}); YAML would keep only the last one"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def load_config_file(path: str | Path) -> Any:
    """Read a YAML config strictly: a duplicated key or a syntax error (a tab in the
    indentation, say) is a :class:`ConfigError` naming ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err})") from err
    try:
        return yaml.load(text, Loader=_loader_for(path))  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = err.problem or err.context or "invalid YAML"
        if "\t" in text.splitlines()[mark.line] if mark else False:
            what += " (a tab character: YAML indents with spaces only)"
        raise ConfigError(f"{where}: {what}") from err


def _loader_for(path: Path) -> type[_StrictLoader]:
    """A strict loader class whose marks carry ``path`` as the file name."""

    class Named(_StrictLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.name = str(path)

    return Named


def validate_config(
    config: Mapping[str, Any], source: str = "config", schema_path: str | Path = SCHEMA_PATH
) -> None:
    """Raise :class:`ConfigError` listing every violation (``source`` names the file(s))."""
    problems = config_errors(config, load_schema(schema_path))
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{source}: {len(problems)} problem(s) against {schema_path}:\n{lines}")


def with_defaults(
    config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH
) -> dict[str, Any]:
    """A copy of ``config`` with the schema's ``default`` values filled in, exactly as the
    Snakefile's ``snakemake.utils.validate`` fills them (the jsonschema FAQ's recipe: a property
    with a default is set wherever its parent mapping exists). Call :func:`validate_config`
    first: this one reports nothing."""
    from jsonschema import Draft202012Validator, validators

    properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, schema):  # noqa: ANN001, ANN202 (jsonschema)
        if isinstance(instance, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from properties(validator, props, instance, schema)

    filled = copy.deepcopy(dict(config))
    filler = validators.extend(Draft202012Validator, {"properties": set_defaults})
    for _ in filler(load_schema(schema_path)).iter_errors(filled):
        pass  # errors are validate_config's job
    return filled

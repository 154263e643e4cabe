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
import re
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
    "tensorboard_dir": "results/tensorboard/<model id> when settings tensorboard is on",
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
    if "propertyNames" in error.schema_path:
        return [
            f"{key_path(where)}: key {error.instance!r} is not a valid id: letters, digits, '.', "
            "'_', '-', starting with a letter or digit, no '/' or '..' (it names a folder "
            "under results/)"
        ]
    if error.validator == "oneOf" and error.context:
        reasons = "; ".join(sorted({c.message for c in error.context}))
        return [f"{key_path(where) or '<top level>'}: {error.instance!r} is invalid ({reasons})"]
    return [f"{key_path(where) or '<top level>'}: {error.message}"]


def _strict_validator_class() -> Any:
    """Draft 2020-12 where ``integer`` means a YAML integer: JSON Schema counts ``16.0`` as an
    integer, and ``batch_size: 16.0`` would then fail deep in torch with a TypeError naming no
    key. ``True`` is not an integer either."""
    # lazy: the YAML loader alone does not need it
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(Draft202012Validator, type_checker=checker)


def config_errors(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every schema violation of ``config`` as ``<key path>: <message>``, sorted by path."""
    validator = _strict_validator_class()(dict(schema if schema is not None else load_schema()))
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
    config: Mapping[str, Any],
    source: str = "config",
    schema_path: str | Path = SCHEMA_PATH,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Raise :class:`ConfigError` listing every violation (``source`` names the file(s)); a
    problem under a key given on the command line (``overrides``, Snakemake's ``--config``)
    says so, since the file does not hold that value."""
    problems = config_errors(config, load_schema(schema_path))
    if problems:
        given = [key_path(p) for p in _leaf_paths(overrides or {})]
        lines = "\n".join(
            f"  {p}" + (" (given with --config)" if _under_any(p, given) else "") for p in problems
        )
        raise ConfigError(f"{source}: {len(problems)} problem(s) against {schema_path}:\n{lines}")


def _leaf_paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Key paths of every leaf of nested mappings (a list is a leaf)."""
    if isinstance(tree, Mapping) and tree:
        return [p for k, v in tree.items() for p in _leaf_paths(v, (*prefix, k))]
    return [prefix] if prefix else []


def _under_any(problem: str, paths: Sequence[str]) -> bool:
    where = problem.split(":", 1)[0]
    return any(where == p or where.startswith((p + ".", p + "[")) for p in paths)


#: JSON Schema type names of Python values (for :func:`type_overrides`).
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (type(None), "null"),
               (list, "array"), (dict, "object"), (str, "string"))  # fmt: skip


def _json_type(value: Any) -> str:
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def schema_types(schema: Mapping[str, Any], path: Sequence[str]) -> set[str]:
    """The JSON types the schema allows at key ``path`` (empty: unknown, or anything goes).
    Follows local ``$ref``, ``properties``, ``patternProperties``, ``additionalProperties``
    and ``oneOf`` / ``anyOf``."""

    def deref(node: Any) -> Any:
        while isinstance(node, Mapping) and "$ref" in node:
            target: Any = schema
            for part in str(node["$ref"]).removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def alternatives(node: Any) -> list[Mapping[str, Any]]:
        node = deref(node)
        if not isinstance(node, Mapping):
            return []
        subs = [s for k in ("oneOf", "anyOf") for sub in node.get(k, ()) for s in alternatives(sub)]
        return [node, *subs]

    def child(node: Mapping[str, Any], key: str) -> Any:
        if key in node.get("properties", {}):
            return node["properties"][key]
        for pattern, sub in node.get("patternProperties", {}).items():
            if re.search(pattern, key):
                return sub
        extra = node.get("additionalProperties")
        return extra if isinstance(extra, Mapping) else None

    nodes: list[Any] = [schema]
    for key in path:
        nodes = [c for n in nodes for alt in alternatives(n) if (c := child(alt, str(key)))]
    types: set[str] = set()
    for alt in (a for n in nodes for a in alternatives(n)):
        found = alt.get("type")
        types |= {found} if isinstance(found, str) else set(found or ())
        types |= {_json_type(v) for v in alt.get("enum", ())}
    return types


def type_overrides(
    overrides: Mapping[str, Any], schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Snakemake's ``--config`` values, typed by the schema.

    Snakemake parses a nested ``--config 'evaluation={"batch_size": 64}'`` with YAML's
    BaseLoader, so every nested value arrives as a string (``'64'``, ``'null'``). A string leaf
    whose YAML reading is not a string and has a type the schema allows there is replaced by
    that reading (``'64'`` -> 64; ``'null'`` -> None for ``data.mirror``); a label ``"42"``
    stays a string. Anything else is left for :func:`validate_config` to report, naming
    ``--config`` as where the value came from."""
    schema = schema if schema is not None else load_schema()

    def typed(value: Any, path: tuple) -> Any:
        if isinstance(value, Mapping):
            return {k: typed(v, (*path, k)) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        allowed = schema_types(schema, path)
        if isinstance(parsed, str) and "number" in allowed:
            try:  # YAML 1.1 reads "1e-5" (no dot) as a string
                parsed = float(value)
            except ValueError:
                return value
        if isinstance(parsed, str):
            return value
        kind = _json_type(parsed)
        fits = kind in allowed or (kind == "integer" and "number" in allowed)
        return parsed if fits else value

    return {k: typed(v, (k,)) for k, v in overrides.items()}


def with_defaults(
    config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH
) -> dict[str, Any]:
    """A copy of ``config`` with the schema's ``default`` values filled in, exactly as the
    Snakefile's ``snakemake.utils.validate`` fills them (the jsonschema FAQ's recipe: a property
    with a default is set wherever its parent mapping exists). Call :func:`validate_config`
    first: this one reports nothing."""
    # lazy: the YAML loader alone does not need it
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m distilface.core.config FILE...``: load each config strictly and validate
    it, printing ``file:line:col`` for a YAML error (a tab, say) or every key-path problem.
    Snakemake reads ``--configfile`` itself before the Snakefile runs and reports a YAML error
    without file or line; the Makefile's run targets call this first."""
    # lazy: only the command line needs it
    import sys

    failed = 0
    for name in argv if argv is not None else sys.argv[1:]:
        try:
            validate_config(load_config_file(name), source=name)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""File lists of the report stage (imported by workflow/rules/report.smk; pure, no I/O)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from distilface.core import paths
from distilface.core.names import EVAL_POOLINGS
from distilface.plan import grid
from distilface.report.axes import ablation_axes, default_slug

REPORT_FIGURES: tuple[str, ...] = ("per_task", "training_curves", "size_quality")
#: Tables that need the per-pair scores (paired / percentile bootstrap).
BOOTSTRAP_TABLES: tuple[str, ...] = ("seeds", "comparisons")


def report_targets(config: dict, bootstrap: bool = True) -> list[str]:
    """Every table and figure the report rules write for ``config`` (without the bootstrap
    tables when ``bootstrap`` is False: a results bundle without per-pair scores)."""
    targets = [f"results/tables/main.{ext}" for ext in ("csv", "md", "tex", "html")]
    targets += ["results/tables/main_compact.tex", "results/tables/headline.html"]
    targets += [f"results/tables/baselines.{ext}" for ext in ("csv", "md", "html")]
    bootstrap_tables = BOOTSTRAP_TABLES if bootstrap else ()
    targets += [f"results/tables/{n}.{ext}" for n in bootstrap_tables for ext in ("csv", "html")]
    targets += [f"results/tables/efficiency.{ext}" for ext in ("csv", "md", "html")]
    for axis in ablation_axes(config):
        targets += [f"results/tables/ablation_{axis}.{ext}" for ext in ("csv", "html")]
        targets += [f"results/figures/ablation_{axis}.{ext}" for ext in ("png", "pdf")]
    for name in REPORT_FIGURES:
        targets += [f"results/figures/{name}.{ext}" for ext in ("png", "pdf")]
    return targets


def present(paths: Iterable[str], only_existing: bool = False) -> list[str]:
    """``paths``, or with ``only_existing`` (Snakefile.report, a results bundle) only those that
    exist: a bundle may lack the per-pair scores or int8 reports, which are then left out."""
    return [p for p in paths if os.path.exists(p)] if only_existing else list(paths)


def npz_for(eval_jsons: Iterable[str]) -> list[str]:
    """The per-pair score file beside each eval JSON (the bootstrap reads them)."""
    return [p[: -len(".json")] + ".scores.npz" for p in eval_jsons]


def model_dirs_for(train_logs: Iterable[str]) -> list[str]:
    """Trained model folders holding the training logs (the train rule outputs directories,
    so the folders, not the train_log.jsonl inside them, are the report's inputs)."""
    return sorted({os.path.dirname(p) for p in train_logs})


def int8_targets(config: dict) -> list[tuple[str, str]]:
    """(model id, pooling) of every model named in config ``efficiency.int8``.

    An entry is a baseline model (a key of ``models``; pooling ``avg`` unless written
    ``name@pooling``) or a variant (every seed of its default hparams, with the pooling the main
    table shows it with: ``report.main_pooling`` or the grid's evaluation pooling). Anything else
    is an error naming the entry.
    """

    entries = (config.get("efficiency") or {}).get("int8") or []
    forced = (config.get("report") or {}).get("main_pooling") or {}
    runs = grid.expand_grid(config) if entries else []
    out: list[tuple[str, str]] = []
    for i, entry in enumerate(entries):
        where = f"config key efficiency.int8[{i}] ({entry!r})"
        name, _, pooling = str(entry).partition("@")
        if pooling and pooling not in EVAL_POOLINGS:
            raise ValueError(f"{where}: pooling {pooling!r} not in {EVAL_POOLINGS}")
        if name in (config.get("models") or {}):
            found = [(name, pooling or "avg")]
        elif name in (config.get("variants") or {}):
            slug = default_slug(config, name)
            found = [
                (r.model_id, pooling or forced.get(name) or r.eval_pooling)
                for r in runs
                if r.variant == name and r.hparams == slug
            ]
        else:
            raise ValueError(f"{where}: not a key of `models` or `variants`")
        out += [t for t in found if t not in out]
    return out


def int8_reports(config: dict) -> list[str]:
    """The ``evaluate_int8`` JSON of every :func:`int8_targets` entry (inputs of the
    efficiency table)."""
    return [paths.int8_eval_json(m, p) for m, p in int8_targets(config)]


def reference_problems(config: dict, published_entries: Iterable[str]) -> list[str]:
    """What ``report.comparisons`` / ``published`` / ``main_pooling`` / ``superseded`` name that
    this config does not run, as ``<key path>: ...`` lines (empty: all known). The Snakefile
    calls it at parse time, so a typo stops the run before any job, not in the last report
    job. A comparison names a variant, a model id, a ``variant/hparams`` group or a baseline
    ``model/pooling`` label, optionally ``@pooling``."""
    runs = grid.expand_grid(config)
    baselines = grid.baseline_model_ids(config)  # an unknown one is its own error, first
    variants = set(config.get("variants") or {})
    models = set(config.get("models") or {})
    known = variants | models | {r.model_id for r in runs}
    known |= {f"{r.variant}/{r.hparams}" for r in runs}
    known |= {f"{m}/{p}" for m in baselines for p in EVAL_POOLINGS}
    report = config.get("report") or {}
    problems = []
    for i, pair in enumerate(report.get("comparisons") or []):
        for j, ref in enumerate(pair[:2]):
            name, _, pooling = str(ref).partition("@")
            if name not in known:
                problems.append(
                    f"report.comparisons[{i}][{j}]: {ref!r} is not a variant, model id or "
                    "variant/hparams group of this config (variants: "
                    f"{', '.join(sorted(variants))})"
                )
            elif pooling and pooling not in EVAL_POOLINGS:
                problems.append(
                    f"report.comparisons[{i}][{j}]: pooling {pooling!r} is not one of "
                    f"{', '.join(EVAL_POOLINGS)}"
                )
    entries = set(published_entries)
    for label, names in (report.get("published") or {}).items():
        if label not in known:
            problems.append(f"report.published.{label}: not a variant or model id of this config")
        for name in [names] if isinstance(names, str) else list(names):
            if name not in entries:
                problems.append(
                    f"report.published.{label}: {name!r} is not an entry of published.yaml "
                    f"(entries: {', '.join(sorted(entries))})"
                )
    for key in ("main_pooling", "superseded"):
        for variant in report.get(key) or {}:
            if variant not in variants:
                problems.append(f"report.{key}.{variant}: not a variant of this config")
    teacher = report.get("teacher")
    if teacher and teacher not in models:
        problems.append(f"report.teacher: {teacher!r} is not a `models` id")
    return problems

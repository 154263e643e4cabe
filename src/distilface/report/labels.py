"""Human labels for table rows, figure legends and axes (config ``label:`` keys, else derived).

A model (``models.<id>.label``) or variant (``variants.<name>.label``) may carry its own
``label:``; otherwise one is derived from the config: a ``bundled:`` or hub name without its
prefix, the objective of a variant (``DisCo CKD``), a fine-tune as ``<stage 1> → <stage 2>``.
"""

from __future__ import annotations

import pandas as pd

from distilface.core.names import STS_TASKS, TASK_LABELS
from distilface.plan.objectives import OBJECTIVES

OBJECTIVE_LABELS: dict[str, str] = {name: row.label for name, row in OBJECTIVES.items()}

#: Readable axis names of the ablation hparams (the config keys are not axis labels).
AXIS_LABELS: dict[str, str] = {
    "temperature": "temperature τ",
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "dropout": "dropout rate",
    "max_seq_length": "max. sequence length (tokens)",
    "pooling": "pooling (training → evaluation)",
    "seeds": "seed",
}


#: Short pooling names for tables and legends (SimCSE's names in the captions' legend).
POOLING_LABELS: dict[str, str] = {
    "cls": "CLS+MLP",
    "cls_before_pooler": "CLS",
    "avg": "mean",
    "avg_first_last": "first-last",
    "avg_top2": "top-2",
}
POOLING_LEGEND = (
    "Pooling: CLS = [CLS] vector without the MLP (SimCSE's cls_before_pooler), CLS+MLP = "
    "with the pooler MLP (cls), mean = mean of the last layer (avg), first-last = mean of the "
    "first and last layers (avg_first_last), top-2 = mean of the last two layers (avg_top2)."
)

#: the mark of a ``report.superseded`` variant's rows, wherever they are shown
SUPERSEDED = "[superseded]"


def pooling_label(pooling: object) -> str:
    """Short display name of a SimCSE pooling (unchanged when unknown or empty)."""
    return POOLING_LABELS.get(str(pooling), "" if pooling is None else str(pooling))


def axis_label(axis: str) -> str:
    """Axis title of an ablation hparam (the key itself when unknown)."""
    return AXIS_LABELS.get(axis, axis.replace("_", " "))


def _name_from_path(path: str) -> str:
    """``bundled:all-MiniLM-L6-v2`` / ``org/name`` / ``/a/b/name`` -> ``name``."""
    name = path.split(":", 1)[1] if path.startswith("bundled:") else path
    return name.rstrip("/").rsplit("/", 1)[-1] or path


def model_label(config: dict, model: str) -> str:
    """Label of a ``models:`` id (its ``label:``, else the encoder's name), or of a student."""
    spec = (config.get("models") or {}).get(model)
    if isinstance(spec, dict):
        return str(spec.get("label") or _name_from_path(str(spec.get("path", model))))
    student = ((config.get("training") or {}).get("students") or {}).get(model)
    if isinstance(student, dict) and student.get("label"):
        return str(student["label"])
    if isinstance(student, dict) and isinstance(student.get("from_model2vec"), dict):
        spec = student["from_model2vec"]
        dims, teacher = spec.get("pca_dims", 256), _name_from_path(str(spec.get("teacher")))
        return f"static student ({dims or 'full'}-d, model2vec of {teacher})"
    if isinstance(student, dict) and isinstance(student.get("from_layers"), dict):
        spec = student["from_layers"]
        layers = spec.get("layers") or []
        if not layers:
            return model
        if spec.get("layer_init") == "random":
            return f"{len(layers)}-layer student, random layers"
        return f"{len(layers)}-layer student, layers {','.join(map(str, layers))} of its teacher"
    return model


def variant_label(config: dict, variant: str, _depth: int = 0) -> str:
    """Label of a variant: ``variants.<name>.label``, else derived from its objective."""
    spec = (config.get("variants") or {}).get(variant)
    if not isinstance(spec, dict):
        return variant
    if spec.get("label"):
        return str(spec["label"])
    objective = str(spec.get("objective", ""))
    if objective == "none":
        return f"{model_label(config, str(spec.get('student', variant)))}, untrained"
    name = OBJECTIVE_LABELS.get(objective, objective or variant)
    parent = spec.get("init_from")
    if parent and _depth < 5:
        return f"{variant_label(config, str(parent), _depth + 1)} → {name}"
    return name


def is_untrained(config: dict, variant: str) -> bool:
    """True for an ``objective: none`` variant (the untrained student)."""
    spec = (config.get("variants") or {}).get(variant)
    return isinstance(spec, dict) and spec.get("objective") == "none"


def teachers(config: dict) -> list[str]:
    """``models:`` ids used as a teacher: of a DisCo variant, or ``report.teacher``. A model
    that only donates layers or embeddings to a student is not a teacher."""
    out: list[str] = []
    for spec in (config.get("variants") or {}).values():
        if isinstance(spec, dict) and spec.get("teacher"):
            out.append(str(spec["teacher"]))
    named = (config.get("report") or {}).get("teacher")
    if named:
        out.append(str(named))
    return list(dict.fromkeys(out))


#: Headers of the shown (md / html) tables; the CSVs keep the machine names.
SHOWN_HEADERS: dict[str, str] = {
    "model": "Model", "pooling": "Pooling", "avg": "Avg", "avg_no_sick": "Avg-6", "note": "Note",
    "a": "A", "b": "B", "pooling_a": "Pooling A", "pooling_b": "Pooling B", "n_a": "Seeds A",
    "n_b": "Seeds B", "delta": "Δ", "ci_low": "CI low", "ci_high": "CI high", "p_value": "p",
    "ci_level": "CI level", "n_bootstrap": "Resamples", "claim": "Claim", "holds": "Holds",
    "label": "Row", "n_seeds": "Seeds", "avg_mean": "Avg", "avg_std": "Avg s.d.",
    "stsb_dev_mean": "STS-B dev", "stsb_dev_std": "STS-B dev s.d.",
}  # fmt: skip


def shown(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """``frame`` as a reader sees it: ids as labels (models, variants), poolings by their short
    names, human headers (task columns ``X_mean`` / ``X_std`` as ``X`` / ``X s.d.``)."""
    out = frame.copy()
    for column in ("model", "a", "b", "label"):
        if column in out:
            out[column] = [_row_label(config, v) for v in out[column]]
    for column in ("pooling", "pooling_a", "pooling_b"):
        if column in out:
            out[column] = [pooling_label(v) if isinstance(v, str) else v for v in out[column]]

    def header(name: str) -> str:
        if name in SHOWN_HEADERS:
            return SHOWN_HEADERS[name]
        for task in STS_TASKS:
            if name == f"{task}_mean":
                return TASK_LABELS[task]
            if name == f"{task}_std":
                return f"{TASK_LABELS[task]} s.d."
        return name.replace("_", " ")

    return out.rename(columns={c: header(str(c)) for c in out.columns})


def _row_label(config: dict, ref: object) -> object:
    """A model id, variant, ``variant/hparams`` group or ``model/pooling`` as its label."""
    if not isinstance(ref, str):
        return ref
    head = ref.partition("@")[0].split("/")[0]
    if head in (config.get("models") or {}):
        return model_label(config, head)
    if head in (config.get("variants") or {}):
        return variant_label(config, head)
    return ref

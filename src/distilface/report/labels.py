"""Human labels for table rows, figure legends and axes (config ``label:`` keys, else derived).

A model (``models.<id>.label``) or variant (``variants.<name>.label``) may carry its own
``label:``; otherwise one is derived from the config: a ``bundled:`` or hub name without its
prefix, the objective of a variant (``DisCo CKD``), a fine-tune as ``<stage 1> → <stage 2>``.
"""

from __future__ import annotations

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

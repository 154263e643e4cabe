"""Ablation axes and default hparams, read through :mod:`distilface.plan.grid` (the only coupling).

Config shape (grid.py): ``ablations: {variant: {axis: [values]}}`` with ``axis`` one hparam
(``temperature``, ``batch_size``, ...) or ``seeds``. An axis is named ``{variant}-{axis}``
in output file names (``results/tables/ablation_{variant}-{axis}.csv``).
"""

from __future__ import annotations

from typing import Any

from distilface.core.names import TRAIN_TO_EVAL_POOLING
from distilface.plan import grid


def default_slug(config: dict, variant: str) -> str | None:
    """The hparams slug of ``variant`` at its configured defaults (None if not configured)."""
    spec = (config.get("variants") or {}).get(variant)
    if not isinstance(spec, dict):
        return None
    if spec.get("objective") == "none":
        return grid.UNTRAINED
    return grid.hparams_slug(spec["hparams"])


def eval_pooling(slug: str) -> str | None:
    """The pooling a run with this slug is evaluated with (None for unparseable slugs)."""
    try:
        return TRAIN_TO_EVAL_POOLING[grid.parse_slug(slug)["pooling"]]
    except (grid.GridError, KeyError):
        return None


def ablation_axes(config: dict) -> dict[str, dict[str, Any]]:
    """``{"{variant}-{axis}": {"variant", "axis", "values"}}`` in config order (may be empty)."""
    out = {}
    for variant, axes in (config.get("ablations") or {}).items():
        if not isinstance(axes, dict):
            raise ValueError(f"config key 'ablations.{variant}': expected a mapping axis -> values")
        for axis, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"config key 'ablations.{variant}.{axis}': a non-empty list")
            out[f"{variant}-{axis}"] = {
                "variant": variant,
                "axis": axis,
                "values": _with_default(config, variant, axis, values),
            }
    return out


def _with_default(config: dict, variant: str, axis: str, values: list) -> list:
    """The axis values plus the variant's own default (the point every value is compared
    with: the grid trains it anyway), numeric axes in ascending order."""
    spec = (config.get("variants") or {}).get(variant)
    if isinstance(spec, dict):
        default = spec.get("seeds") if axis == "seeds" else (spec.get("hparams") or {}).get(axis)
        extra = default if isinstance(default, list) else [default] if default is not None else []
        values = [*extra, *values]
    unique = list(dict.fromkeys(values))
    if all(isinstance(v, int | float) for v in unique):
        unique.sort()
    return unique


def axis_slugs(config: dict, spec: dict[str, Any]) -> dict[str, Any]:
    """``{hparams slug: axis value}`` of one hparam axis (not ``seeds``)."""
    variant = (config.get("variants") or {}).get(spec["variant"])
    if not isinstance(variant, dict) or "hparams" not in variant:
        raise ValueError(f"config key 'variants.{spec['variant']}': missing (needed by ablations)")
    out = {}
    for value in spec["values"]:
        out[grid.hparams_slug({**variant["hparams"], spec["axis"]: value})] = value
    return out

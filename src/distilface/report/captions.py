"""Captions the report's tables carry: what the cells are and what each mark means."""

from __future__ import annotations

import pandas as pd

from distilface.report.labels import POOLING_LEGEND, SUPERSEDED, variant_label


def main_caption(table: pd.DataFrame, aggregation: str, config: dict | None = None) -> str:
    """Caption of the main table: what the cells are, notes on published rows, and why a
    row is superseded (``report.superseded``)."""
    seeded = table.loc[table["group"] == "trained", "Seeds"].dropna()
    parts = [
        "Spearman's ρ × 100 on the STS test sets "
        f"('{aggregation}' aggregation for STS12-16; Avg = mean of the seven).",
    ]
    if len(seeded) and (seeded > 1).any():
        runs = (
            f"{int(seeded.iloc[0])} seeds each"
            if seeded.nunique() == 1
            else "n = number of seeds; one seed: no std"
        )
        parts.append(
            f"Trained rows: mean ± standard deviation over seeds ({runs}) of the "
            "hyperparameters and pooling chosen on STS-B dev."
        )
    elif len(seeded):
        parts.append(
            "Trained rows: one seed each (no standard deviation), hyperparameters and pooling "
            "chosen on STS-B dev."
        )
    parts.append("Bold: best trained row per column.")
    parts.append(POOLING_LEGEND)
    published = table[table["group"] == "published"]
    if len(published):
        parts.append(
            "Published rows are the numbers the cited papers report (config/published.yaml); "
            "a Δ X row = our row X − the published row above it."
        )
        for _, row in published.iterrows():
            marks = "" if pd.isna(row["Not comparable"]) else str(row["Not comparable"])
            if marks:
                parts.append(f"†: {row['Model']}: {marks} measured on a different split, no Δ.")
    return " ".join([*parts, *superseded_notes(config or {})])


def superseded_notes(config: dict) -> list[str]:
    """One caption sentence per ``report.superseded`` variant: its label and why."""
    notes = ((config.get("report") or {}).get("superseded")) or {}
    return [
        f"{variant_label(config, v)} {SUPERSEDED}: {str(why).rstrip('.')}."
        for v, why in notes.items()
    ]


EFFICIENCY_CAPTION = (
    "Efficiency, one row per model (pooling changes neither size nor speed). Family: "
    "transformer, or static (one vector per token, a sentence = their mean: model2vec). Params "
    "in millions; Disk = size of the model folder; Sent/s = sentences encoded per second on the "
    "device and precision named (CPU fp32 and int8 from the evaluate_int8 job, back to back on "
    "one machine, when the model is in efficiency.int8; otherwise from the evaluation); speeds "
    "measured on different machines are not comparable. int8 = dynamic int8 quantisation of the "
    "Linear layers (CPU); Avg = 7-task average Spearman × 100 (mean over seeds); % of teacher "
    "= Avg / the teacher's Avg; Avg fp32 / int8 = the same for each; Δ int8 = "
    "int8 − fp32; Weights = serialised state dict. All sizes in MiB (2^20 bytes)."
)

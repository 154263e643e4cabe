"""Render a table frame as Markdown or LaTeX (booktabs); CSV keeps full precision."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from distilface.report.io import atomic_write_text

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def format_cell(value: object, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals, missing values as an en dash, text unchanged."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table (text left-aligned, numbers right-aligned)."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"
    body = [
        "| " + " | ".join(format_cell(v, digits).replace("|", r"\|") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(frame: pd.DataFrame, caption: str, label: str, digits: int = 2) -> str:
    """A booktabs ``table`` (\\toprule / \\midrule / \\bottomrule), numbers right-aligned."""
    spec = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(str(c)) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(latex_escape(format_cell(v, digits)) for v in row) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_table(
    frame: pd.DataFrame,
    stem: str | Path,
    formats: tuple[str, ...] = ("csv",),
    caption: str = "",
    label: str = "",
) -> list[Path]:
    """Write ``frame`` as ``{stem}.csv`` (full precision) and optionally ``.md`` / ``.tex``."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        if fmt == "csv":
            text = frame.to_csv(index=False)
        elif fmt == "md":
            text = to_markdown(frame)
        elif fmt == "tex":
            text = to_latex(frame, caption=caption, label=label or f"tab:{stem.name}")
        else:
            raise ValueError(f"unknown table format {fmt!r} (csv, md, tex)")
        written.append(atomic_write_text(path, text))
    return written

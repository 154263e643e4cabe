"""The compact paper table (``main_compact.tex``): one column of a two-column venue.

The full grid (``main.tex``, a ``table*``) has every task; this one keeps what a paper's main
table argues with: the encoders (the teacher among them), each student's untrained start and
its trained rows, and the published rows, with the 7-set average, the average without SICK-R
where a row saw SICK's training sentences, and the share of the gap to the teacher closed.
``mean ± s.d.`` sits in one aligned cell pair (``r@{\\,$\\pm$\\,}l``: the means align on
their decimal point, the deviations after them; labels wrap in a ``p`` column), with nothing
but booktabs, so the table pastes into any venue's template; bold marks the best trained row's
average. Written by hand rather than by pandas' Styler: the two-column ± alignment and the
student group headers are not Styler's.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from distilface.report.labels import SUPERSEDED
from distilface.report.render import latex_text

#: the separator of a ``mean ± s.d.`` cell pair
PM = "\\,$\\pm$\\,"
#: width of the Model column with ``± s.d.`` cells (labels wrap inside it): one column of a
#: two-column page (the rest: two mean ± s.d. pairs and the gap)
MODEL_WIDTH = "9.5em"
#: the caption's pointer to the full grid (LaTeX, added after the escaped caption)
FULL_TABLE_REF = "Every task, pooling and spread: Table~\\ref{tab:main}."
#: a trained row's label ends with its student in brackets (the group header names it); the
#: superseded mark stays
_STUDENT_SUFFIX = re.compile(r"\s*\[(?!superseded\])[^\]]*\]")


def _cell(mean: float, std: float, bold: bool = False) -> str:
    """``mean & std`` for an ``r@{\\,$\\pm$\\,}l`` pair; without a spread the mean keeps its
    decimal point in line and no ± follows it; ``bold`` sets the mean in bold."""
    if pd.isna(mean):
        return "\\multicolumn{2}{c}{--}"
    text = f"\\textbf{{{mean:.2f}}}" if bold else f"{mean:.2f}"
    if pd.isna(std):
        return f"\\multicolumn{{1}}{{r@{{\\hphantom{{{PM}}}}}}}{{{text}}} & "
    return f"{text} & {std:.2f}"


def _name(model: str) -> str:
    """A row's method name without its student suffix (the group header says it)."""
    return latex_text(_STUDENT_SUFFIX.sub("", str(model)).strip())


def compact_rows(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(group title, rows) in the main table's order: encoders, each student, published."""
    students = table["Student"].fillna("").astype(str)
    published = table["group"] == "published"
    groups: list[tuple[str, pd.DataFrame]] = []
    encoders = table[(students == "") & ~published]
    if len(encoders):
        groups.append(("Encoders", encoders))
    for student in dict.fromkeys(students[(students != "") & ~published]):
        groups.append((student, table[(students == student) & ~published]))
    shown = table[published & ~table["Model"].astype(str).str.startswith("Δ ")]
    if len(shown):
        groups.append(("Published", shown))
    return groups


def compact_latex(table: pd.DataFrame, caption: str, in_domain: set[str]) -> str:
    """The compact table of ``table`` (:func:`distilface.report.tables.main_table`'s frame)."""
    six = "Avg-6" in table and table["Avg-6"].notna().any() and bool(in_domain)
    gap = "Gap closed (%)" in table and table["Gap closed (%)"].notna().any()
    trained = table[
        (table["group"] == "trained") & ~table["Model"].astype(str).str.endswith(SUPERSEDED)
    ]
    best = trained["Avg"].idxmax() if len(trained) and trained["Avg"].notna().any() else None
    spread = any(table[c].notna().any() for c in ("Avg std", "Avg-6 std") if c in table)
    model_width = MODEL_WIDTH if spread else "13em"  # no ± column: room for the labels
    spec = f"@{{}}p{{{model_width}}}" + f"r@{{{PM}}}l" * (2 if six else 1)
    spec += ("r" if gap else "") + "@{}"
    head = ["Model", "\\multicolumn{2}{c}{Avg}"]
    head += ["\\multicolumn{2}{c}{Avg-6}"] if six else []
    head += ["Gap (\\%)"] if gap else []
    width = 1 + 2 * (2 if six else 1) + (1 if gap else 0)
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        "\\footnotesize",
        "\\setlength{\\tabcolsep}{2.5pt}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(head) + " \\\\",
    ]
    for title, rows in compact_rows(table):
        header = f"\\multicolumn{{{width}}}{{@{{}}l}}{{\\textit{{{latex_text(title)}}}}} \\\\"
        lines += ["\\midrule", header]
        for index, row in rows.iterrows():
            name = _name(row["Model"])
            mark = "$^\\ddagger$" if row["key"] in in_domain else ""
            avg = _cell(row["Avg"], row.get("Avg std", np.nan), bold=index == best)
            cells = [f"\\raggedright\\hangindent=1em\\hspace*{{0.5em}}{name}{mark}", avg]
            if six:
                cells.append(_cell(row["Avg-6"], row.get("Avg-6 std", np.nan)))
            if gap:
                value = row["Gap closed (%)"]
                cells.append("" if pd.isna(value) else f"{value:.0f}")
            lines.append(" & ".join(cells) + " \\\\")
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{{latex_text(caption)} {FULL_TABLE_REF}}}",
        "\\label{tab:main-compact}",
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


def compact_caption(table: pd.DataFrame, aggregation: str, in_domain: bool) -> str:
    """What the compact table's cells and marks are."""
    seeds = table.loc[table["group"] == "trained", "Seeds"].dropna()
    many = len(seeds) and seeds.max() > 1
    spread = f"mean ± s.d. over {int(seeds.max())} seeds" if many else "one run"

    parts = [
        f"Average Spearman's ρ × 100 over the seven STS test sets ('{aggregation}' aggregation "
        f"for STS12-16); trained rows: {spread}. Bold: the best trained row.",
    ]
    if in_domain:
        parts.append(
            "‡: trained on SICK's or STS-B's training sentences, so SICK-R is in-domain; Avg-6 "
            "leaves SICK-R out."
        )
    if "Gap closed (%)" in table and table["Gap closed (%)"].notna().any():
        parts.append(
            "Gap: share of the distance from the row's untrained student to the teacher closed."
        )
    return " ".join(parts)

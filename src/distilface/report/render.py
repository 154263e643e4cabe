"""Render tables: CSV keeps full precision; Markdown, LaTeX (booktabs) and HTML are rounded.

Paper tables go through a :class:`TableView` (display strings, bold cells, row groups) and are
rendered with pandas (``Styler.to_latex`` / ``Styler.to_html`` / ``DataFrame.to_markdown``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from distilface.core.io import write_text_atomic

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


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def write_table(
    frame: pd.DataFrame, stem: str | Path, formats: tuple[str, ...] = ("csv",)
) -> list[Path]:
    """Write ``frame`` as ``{stem}.csv`` at full precision (rounded formats: :func:`write_view`)."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        if fmt != "csv":
            raise ValueError(f"write_table writes CSV only, not {fmt!r}; use write_view")
        written.append(write_text_atomic(stem.with_suffix(".csv"), frame.to_csv(index=False)))
    return written


# Characters pdflatex cannot typeset from UTF-8 input with the standard T1/OT1 fonts.
LATEX_UNICODE: dict[str, str] = {
    "Δ": r"$\Delta$",
    "±": r"$\pm$",
    "→": r"$\rightarrow$",
    "ρ": r"$\rho$",
    "τ": r"$\tau$",
    "×": r"$\times$",
    "†": r"$^\dagger$",
    "‡": r"$^\ddagger$",
    "−": r"$-$",
    "–": "--",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


def latex_text(text: object) -> str:
    r"""Escape LaTeX specials and spell out the non-ASCII symbols our tables use; a leading
    NUL (set by :func:`split_std_rows`) sets the cell in ``\scriptsize``."""
    text = str(text)
    small = text.startswith("\x00")
    body = "".join(LATEX_UNICODE.get(ch, ch) for ch in latex_escape(text.lstrip("\x00")))
    return f"{{\\scriptsize {body}}}" if small else body


def mean_std(mean: float, std: float = float("nan"), digits: int = 2) -> str:
    """``"72.36"``, ``"72.36 ± 0.55"`` (std given), or an empty string for a missing mean."""
    if mean is None or pd.isna(mean):
        return ""
    if std is None or pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def signed(value: float, digits: int = 2) -> str:
    """A difference as a reader writes it: ``+1.23``, ``−1.23`` (a minus sign, not a
    hyphen), and ``0.00`` when it rounds to zero (never ``-0.00``); empty for a missing one."""
    if value is None or pd.isna(value):
        return ""
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if value > 0 else "\u2212") + text


@dataclass
class TableView:
    """A table ready for display: text cells (Unicode, unescaped), which cells are bold, and
    a group name per row (a rule separates groups)."""

    cells: pd.DataFrame
    bold: pd.DataFrame
    groups: list[str]
    numeric: list[bool]

    def __post_init__(self) -> None:
        if self.bold.shape != self.cells.shape or len(self.groups) != len(self.cells):
            raise ValueError("TableView: cells, bold and groups differ in shape")

    def without(self, columns) -> TableView:
        """The same view without ``columns`` (those it has)."""
        keep = [c for c in self.cells.columns if c not in set(columns)]
        numeric = [n for c, n in zip(self.cells.columns, self.numeric, strict=True) if c in keep]
        return TableView(self.cells[keep], self.bold[keep], list(self.groups), numeric)


def drop_empty_columns(frame: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Drop columns whose every cell is missing or an empty string (``keep`` always stays)."""
    empty = [
        c
        for c in frame.columns
        if c not in keep and frame[c].map(lambda v: v is None or pd.isna(v) or v == "").all()
    ]
    return frame.drop(columns=empty)


def _group_starts(groups: list[str]) -> list[int]:
    """Row indices (>0) where a new group begins."""
    return [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]


STD_SEPARATOR = " ± "


def split_std_rows(view: TableView, fold: tuple[str, str] | None = None) -> TableView:
    """Move every ``mean ± std`` cell's std to a row of its own beneath (set in a smaller font
    by :func:`latex_text`), so a column is as narrow as its means. ``fold=(col, into)`` moves
    column ``col`` (e.g. the seed count) into that sub-row under column ``into`` as
    ``col=value`` and drops it."""
    if fold is not None and fold[0] not in view.cells.columns:
        fold = None
    columns = [c for c in view.cells.columns if fold is None or c != fold[0]]
    rows, bold, groups = [], [], []
    for i in range(len(view.cells)):
        row = view.cells.iloc[i]
        means = {c: str(row[c]).split(STD_SEPARATOR)[0] for c in columns}
        sub = {
            c: "±" + str(row[c]).split(STD_SEPARATOR)[1] if STD_SEPARATOR in str(row[c]) else ""
            for c in columns
        }
        if fold is not None and str(row[fold[0]]):
            sub[fold[1]] = f"{fold[0]}={row[fold[0]]}"
        rows.append(means)
        bold.append({c: bool(view.bold.iloc[i][c]) for c in columns})
        groups.append(view.groups[i])
        if any(sub.values()):
            rows.append({c: f"\x00{v}" if v else "" for c, v in sub.items()})
            bold.append(dict.fromkeys(columns, False))
            groups.append(view.groups[i])
    numeric = [n for c, n in zip(view.cells.columns, view.numeric, strict=True) if c in columns]
    return TableView(
        pd.DataFrame(rows, columns=columns), pd.DataFrame(bold, columns=columns), groups, numeric
    )


def render_latex(
    view: TableView,
    caption: str,
    label: str,
    size: str = r"\footnotesize",
    tabcolsep: str = "2pt",
    wrap: dict[str, str] | None = None,
    fold: tuple[str, str] | None = None,
    small: tuple[str, ...] = (),
    wide: bool = False,
) -> str:
    """A booktabs ``table`` (``table*`` spanning both columns of a two-column page when
    ``wide``) (``Styler.to_latex``): bold via ``\\textbf``, a ``\\midrule``
    between row groups, text escaped and Unicode symbols spelled out for pdflatex; ``wrap``
    gives text columns a fixed width (``p{..}``) in which long labels break; ``fold`` see
    :func:`split_std_rows`; ``small`` columns (secondary text) are set in ``\\scriptsize``."""
    view = split_std_rows(view, fold)
    cells = view.cells.map(latex_text)
    for col in wrap or {}:  # ragged-right text in a fixed-width column (a first column only)
        cells[col] = [rf"\raggedright {v}" if v else v for v in cells[col]]
    for col in small:
        if col in cells:
            cells[col] = [
                v if not v or v.startswith("{\\scriptsize") else f"{{\\scriptsize {v}}}"
                for v in cells[col]
            ]
    cells.columns = [latex_text(c) for c in view.cells.columns]
    bold = pd.DataFrame(view.bold.to_numpy(), index=cells.index, columns=cells.columns)
    styler = cells.style.hide(axis="index").apply(
        lambda _: np.where(bold, "textbf:--rwrap;", ""), axis=None
    )
    widths = wrap or {}
    spec = "".join(
        "r" if num else (f"p{{{widths[c]}}}" if c in widths else "l")
        for c, num in zip(view.cells.columns, view.numeric, strict=True)
    )
    tex = styler.to_latex(
        hrules=True,
        column_format=spec,
        position="t",
        caption=latex_text(caption),
        label=label,
    )
    lines = tex.splitlines()
    start = lines.index(r"\midrule") + 1  # first body row
    for offset, row in enumerate(_group_starts(view.groups)):
        lines.insert(start + row + offset, r"\midrule")
    head = lines.index(r"\begin{table}[t]") + 1
    lines[head:head] = [r"\centering", size, rf"\setlength{{\tabcolsep}}{{{tabcolsep}}}"]
    if wide:
        lines[head - 1] = r"\begin{table*}[t]"
        lines[lines.index(r"\end{table}")] = r"\end{table*}"
    return "\n".join(lines) + "\n"


def render_markdown(view: TableView) -> str:
    """GitHub Markdown (``DataFrame.to_markdown``): numbers right-aligned, bold as ``**``."""
    cells = view.cells.copy()
    for col in cells.columns:
        cells[col] = [
            f"**{v}**" if b and v else str(v).replace("|", r"\|")
            for v, b in zip(cells[col], view.bold[col], strict=True)
        ]
    align = ["right" if num else "left" for num in view.numeric]
    return cells.to_markdown(index=False, colalign=align, disable_numparse=True) + "\n"


HTML_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 8px; }
table { border-collapse: collapse; }
caption { caption-side: top; text-align: left; padding-bottom: 6px; max-width: 70em; }
th, td { padding: 3px 8px; white-space: nowrap; }
thead th { border-top: 2px solid #333; border-bottom: 1px solid #333; }
tbody tr:last-child td { border-bottom: 2px solid #333; }
"""


def _scope_css(css: str, scope: str) -> str:
    """Prefix every selector of one-rule-per-line CSS with ``scope`` (``body`` -> scope)."""
    rules = []
    for line in css.strip().splitlines():
        selectors, _, body = line.partition("{")
        scoped = [
            scope if sel.strip() == "body" else f"{scope} {sel.strip()}"
            for sel in selectors.split(",")
        ]
        rules.append(", ".join(scoped) + " {" + body)
    return "\n".join(rules) + "\n"


def render_html(
    view: TableView, caption: str = "", title: str = "", standalone: bool = True
) -> str:
    """The rounded table as HTML (``Styler.to_html``), bold cells and group rules as in the
    LaTeX version: a whole page, or (``standalone=False``) a fragment with its own styles
    for embedding (the report's landing page)."""
    cells = view.cells.copy()
    bold = pd.DataFrame(view.bold.to_numpy(), index=cells.index, columns=cells.columns)
    # a stable id (pandas picks a random one): re-rendering the same table gives the same bytes
    uuid = hashlib.sha256(f"{caption}{list(cells.columns)}".encode()).hexdigest()[:8]
    styler = (
        cells.style.hide(axis="index")
        .set_uuid(uuid)
        .apply(lambda _: np.where(bold, "font-weight: bold;", ""), axis=None)
        .set_caption(caption)
        .set_table_styles(
            [
                {"selector": f"td.col{j}", "props": "text-align: right;"}
                for j, num in enumerate(view.numeric)
                if num
            ]
        )
    )
    html = styler.to_html(doctype_html=False)
    style = HTML_STYLE + "".join(
        f"td.row{row} {{ border-top: 1px solid #999; }}\n" for row in _group_starts(view.groups)
    )
    if not standalone:
        scoped = _scope_css(style, ".distilface-table")
        # its own horizontal scroll: a wide table never runs under the report's rule graph
        # nor widens the page
        box = 'class="distilface-table" style="overflow-x: auto; max-width: 100%;"'
        return f"<div {box}>\n<style>{scoped}</style>\n{html}\n</div>\n"
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title or caption[:60]}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f"{html}\n</body>\n</html>\n"
    )


def frame_view(frame: pd.DataFrame, digits: int = 2, right: tuple[str, ...] = ()) -> TableView:
    """A plain :class:`TableView` of a data frame: floats rounded to ``digits``, integers as
    integers, missing values empty; ``right``: text columns of numbers (already formatted,
    e.g. :func:`signed`) aligned as numbers."""
    cells = pd.DataFrame(index=range(len(frame)))
    numeric = []
    for col in frame.columns:
        values = frame[col].tolist()
        is_num = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(
            frame[col]
        )
        numeric.append(is_num or col in right)
        cells[str(col)] = [
            ""
            if v is None or (not isinstance(v, str) and pd.isna(v))
            else (
                str(int(v))
                if is_num and float(v).is_integer() and not pd.api.types.is_float_dtype(frame[col])
                else f"{v:.{digits}f}"
                if is_num
                else str(v)
            )
            for v in values
        ]
    bold = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    return TableView(cells, bold, ["all"] * len(cells), numeric)


def write_view(
    view: TableView,
    stem: str | Path,
    formats: tuple[str, ...],
    caption: str,
    label: str = "",
    wrap: dict[str, str] | None = None,
    fold: tuple[str, str] | None = None,
    small: tuple[str, ...] = (),
    tabcolsep: str = "2pt",
    wide: bool = False,
) -> list[Path]:
    """Write a :class:`TableView` as ``{stem}.md`` / ``.tex`` / ``.html``."""
    stem = Path(stem)
    render = {
        "md": lambda: render_markdown(view) + "\n" + caption + "\n",  # the marks explained
        "tex": lambda: render_latex(
            view,
            caption,
            label or f"tab:{stem.name}",
            tabcolsep=tabcolsep,
            wrap=wrap,
            fold=fold,
            small=small,
            wide=wide,
        ),
        "html": lambda: render_html(view, caption),
    }
    written = []
    for fmt in formats:
        if fmt not in render:
            raise ValueError(f"unknown table format {fmt!r} (md, tex, html)")
        written.append(write_text_atomic(stem.with_suffix(f".{fmt}"), render[fmt]()))
    return written

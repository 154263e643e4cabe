"""Every LaTeX table compiles with pdflatex and fits \\textwidth (no overfull box).

pdflatex comes from Debian's texlive (installed by .ci/tools.sh in CI); without it the test
is skipped locally and fails in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from synthetic import SIMCSE_DEFAULTS, write_eval, write_train_log

from distilface.plan.grid import hparams_slug
from distilface.report import build

REPO = Path(__file__).resolve().parents[1]
DOCUMENT = r"""\documentclass[OPTIONS]{article}
\usepackage[T1]{fontenc}
\usepackage{booktabs}
\begin{document}
\input{TABLE}
\end{document}
"""
OVERFULL = re.compile(r"Overfull \\hbox \(([\d.]+)pt too wide\)")


def pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex missing in CI: .ci/tools.sh installs texlive")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-recommended)")
    return exe


def compile_table(tex: Path, workdir: Path, twocolumn: bool = False) -> str:
    """Compile a minimal article (default \\textwidth; ``twocolumn``: a two-column page, where
    a ``table`` gets one column and a ``table*`` both) that inputs ``tex``; return the log.
    Fails on any LaTeX error and on an overfull box (a table wider than its space)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(tex, workdir / "table.tex")
    options = "twocolumn" if twocolumn else ""
    (workdir / "doc.tex").write_text(
        DOCUMENT.replace("TABLE", "table.tex").replace("OPTIONS", options)
    )
    run = subprocess.run(
        [pdflatex(), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (workdir / "doc.log").read_text(errors="replace")
    assert run.returncode == 0, f"{tex}: pdflatex failed:\n{run.stdout[-2000:]}"
    overfull = OVERFULL.findall(log)
    assert not overfull, f"{tex}: table wider than \\textwidth by {overfull} pt"
    return log


def _synthetic_main(tmp_path: Path) -> Path:
    """main.tex of synthetic results with 3 seeds, a fine-tune chain, published + Δ rows."""
    config = {
        "models": {"minilm-l6": {"path": "bundled:all-MiniLM-L6-v2"}},
        "variants": {
            "disco-ckd": {"objective": "disco_ckd", "hparams": SIMCSE_DEFAULTS, "seeds": [1]},
            "disco-ckd-ft": {
                "objective": "simcse_unsup",
                "init_from": "disco-ckd",
                "hparams": SIMCSE_DEFAULTS,
                "seeds": [1, 2, 3],
            },
        },
        "report": {"published": {"minilm-l6/avg": "mteb-all-minilm-l6-v2"}},
    }
    evals = [write_eval(tmp_path / "eval", "minilm-l6", p, 0.3) for p in ("avg", "avg_first_last")]
    logs = []
    slug = hparams_slug(SIMCSE_DEFAULTS)
    for variant, seeds in (("disco-ckd", [1]), ("disco-ckd-ft", [1, 2, 3])):
        for seed in seeds:
            model = f"{variant}/{slug}/seed{seed}"
            evals.append(write_eval(tmp_path / "eval", model, "cls_before_pooler", 0.4, seed=seed))
            logs.append(write_train_log(tmp_path / "models", model, seed=seed))
    build.build_tidy(evals, logs, tmp_path / "tidy.csv")
    build.build_main(
        tmp_path / "tidy.csv", config, REPO / "config/published.yaml", tmp_path / "main"
    )
    return tmp_path / "main.tex"


def test_synthetic_main_table_compiles_and_fits(tmp_path):
    tex = _synthetic_main(tmp_path)
    log = compile_table(tex, tmp_path / "latex")
    assert "Output written on doc.pdf" in log


def test_the_compact_table_fits_one_column_of_a_two_column_page(tmp_path):
    """main_compact.tex: a ``table`` that fits \\columnwidth of a two-column page (the full
    grid is a ``table*``), mean ± s.d. in an aligned cell pair, the best trained row bold."""
    _synthetic_main(tmp_path)
    compact = tmp_path / "main_compact.tex"
    text = compact.read_text()
    assert text.startswith("\\begin{table}[t]") and "r@{\\,$\\pm$\\,}l" in text
    assert "\\begin{table*}[t]" in (tmp_path / "main.tex").read_text()
    assert text.count("\\textbf{") == 1 and "\\ref{tab:main}" in text
    assert "\\textit{Published}" in text and text.isascii()
    log = compile_table(compact, tmp_path / "two", twocolumn=True)
    assert "Output written on doc.pdf" in log
    compile_table(tmp_path / "main.tex", tmp_path / "wide", twocolumn=True)
    narrow = compact.read_text().replace("Model &", "\\mbox{" + "wide" * 30 + "} &", 1)
    compact.write_text(narrow)  # the check is not vacuous at column width
    with pytest.raises(AssertionError, match="wider than"):
        compile_table(compact, tmp_path / "three", twocolumn=True)


def test_the_overfull_check_catches_a_wide_table(tmp_path):
    """The check is not vacuous: a 30-column table is reported as too wide."""
    wide = tmp_path / "wide.tex"
    cells = " & ".join(["123456.78"] * 30)
    wide.write_text("\\begin{tabular}{" + "r" * 30 + "}\n" + cells + " \\\\\n\\end{tabular}\n")
    with pytest.raises(AssertionError, match="wider than"):
        compile_table(wide, tmp_path / "latex")


@pytest.mark.parametrize(
    "tex",
    sorted((REPO / "results/reference").rglob("*.tex")),
    ids=lambda p: f"{p.parent.parent.name}-{p.stem}",
)
def test_committed_reference_tables_compile_and_fit(tex, tmp_path):
    compile_table(tex, tmp_path / "latex")
    compile_table(tex, tmp_path / "two", twocolumn=True)  # table*: both columns; table: one
    assert tex.read_text().isascii()


def test_config_yaml_published_rows_render_and_compile(tmp_path):
    """config/config.yaml compares DistilFace (72.1) and SimCSE unsup with the DistilBERT
    SimCSE row, SimCSE sup with the sup row and BERT first-last avg with its baseline: each
    gets a published row and a Δ row, and the table still compiles and fits."""
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert cfg["report"]["published"]["simcse-unsup"] == ["distilface", "simcse-unsup-bert-base"]
    evals = [write_eval(tmp_path / "eval", "bert-base", "avg_first_last", 0.5, seed=1)]
    for i, variant in enumerate(("simcse-unsup", "simcse-sup")):
        slug = hparams_slug(cfg["variants"][variant]["hparams"])
        model = f"{variant}/{slug}/seed42"
        evals.append(write_eval(tmp_path / "eval", model, "cls_before_pooler", 0.3, seed=2 + i))
    build.build_tidy(evals, [], tmp_path / "tidy.csv")
    table = build.build_main(
        tmp_path / "tidy.csv", cfg, REPO / "config/published.yaml", tmp_path / "main"
    )
    published = table[table["group"] == "published"].set_index("key")
    assert published.loc["distilface", "Avg"] == 72.1
    ours = table.set_index("key").loc["simcse-unsup", "Avg"]
    assert published.loc["simcse-unsup-distilface", "Avg"] == pytest.approx(ours - 72.1)
    assert published.loc["simcse-unsup-bert-base", "STS12"] == 68.40
    assert {"simcse-sup-bert-base", "bert-base-first-last-avg"} <= set(published.index)
    assert len(published) == 2 * 4  # four comparisons, each a published and a Δ row
    compile_table(tmp_path / "main.tex", tmp_path / "latex")

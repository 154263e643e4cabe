"""End to end: the report rules on synthetic results, then `snakemake --report`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from distilface.grid import hparams_slug
from distilface.report.synthetic import SIMCSE_DEFAULTS, write_eval, write_train_log

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = SIMCSE_DEFAULTS
CONFIG = {
    "variants": {"simcse": {"objective": "simcse_unsup", "hparams": DEFAULTS, "seeds": [1, 2]}},
    "ablations": {"simcse": {"temperature": [0.05, 0.1], "dropout": [0.1]}},
    "report": {
        "n_bootstrap": 100,
        "comparisons": [["simcse", "minilm-l6/avg"]],
        "published": {"minilm-l6/avg": "simcse-unsup-bert-base"},
    },
}
SNAKEFILE = """
import json
configfile: "config.yaml"
report: "{repo}/workflow/report/workflow.rst"
EVALS = json.load(open("evals.json"))
LOGS = json.load(open("logs.json"))
def all_eval_jsons():
    return EVALS
def all_train_logs():
    return LOGS
include: "{repo}/workflow/rules/report.smk"
rule all:
    input: report_targets(config)
"""


@pytest.mark.slow
def test_report_rules_and_html(tmp_path):
    evals = [
        str(write_eval(tmp_path / "results/eval", "minilm-l6", p, n, seed=i).relative_to(tmp_path))
        for i, (p, n) in enumerate([("avg", 0.3), ("cls", 0.6)])
    ]
    logs = []
    for temp in (0.05, 0.1):
        slug = hparams_slug({**DEFAULTS, "temperature": temp})
        for seed in (1, 2):
            model = f"simcse/{slug}/seed{seed}"
            for pooling, noise in (("cls_before_pooler", 0.2 + temp), ("avg", 0.4)):
                path = write_eval(tmp_path / "results/eval", model, pooling, noise, seed=seed)
                evals.append(str(path.relative_to(tmp_path)))
            log = write_train_log(tmp_path / "results/models", model, seed=seed)
            logs.append(str(log.relative_to(tmp_path)))
    (tmp_path / "evals.json").write_text(pd.Series(evals).to_json(orient="values"))
    (tmp_path / "logs.json").write_text(pd.Series(logs).to_json(orient="values"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config/published.yaml", tmp_path / "config/published.yaml")
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(repo=REPO))
    snake = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--directory",
        str(tmp_path),
        "--snakefile",
        str(tmp_path / "Snakefile"),
    ]
    run = subprocess.run(snake, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    main = pd.read_csv(tmp_path / "results/tables/main.csv")
    ours = main[main["group"] != "published"]
    assert set(ours["key"]) == {"simcse", "minilm-l6/avg", "minilm-l6/cls"}
    assert main.loc[main["key"] == "simcse-unsup-bert-base", "Avg"].item() == 76.25
    for name in (
        "ablation_simcse-temperature",
        "ablation_simcse-dropout",
        "per_task",
        "training_curves",
        "size_quality",
    ):
        assert (tmp_path / f"results/figures/{name}.png").stat().st_size > 1000
    html = tmp_path / "results/report.html"
    run = subprocess.run(
        [*snake, "--report", str(html)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    text = html.read_text(errors="replace")
    assert "per_task.png" in text and "main.csv" in text

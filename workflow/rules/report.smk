# Report rules: one tidy frame of every result -> tables, figures, statistics.
# Needs, defined in the Snakefile before this include:
#   all_eval_jsons()  -> list of results/eval/{model}/{pooling}.json
#   all_train_logs()  -> list of results/models/{variant}/{hparams}/seed{seed}/train_log.jsonl
# Every rule is a thin call of one function of distilface.report.build.
from pathlib import Path

from distilface.report.targets import (
    REPORT_FIGURES,
    int8_reports,
    model_dirs_for,
    npz_for,
    report_targets,
)

rule report_tidy:
    input:
        evals=lambda wc: all_eval_jsons(),
        model_dirs=lambda wc: model_dirs_for(all_train_logs()),
    output:
        "results/tables/tidy.csv",
    params:
        logs=lambda wc: all_train_logs(),
    log:
        "results/logs/report/tidy.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_tidy.py"


rule report_main:
    input:
        tidy="results/tables/tidy.csv",
        published=str(Path(workflow.basedir) / "config/published.yaml"),
    output:
        csv=report(
            "results/tables/main.csv",
            caption="../report/main_table.rst",
            category="Tables",
            labels={"table": "main"},
        ),
        md="results/tables/main.md",
        tex="results/tables/main.tex",
    log:
        "results/logs/report/main.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_main.py"


rule report_baselines:
    input:
        tidy="results/tables/tidy.csv",
    output:
        csv=report(
            "results/tables/baselines.csv",
            caption="../report/baselines_table.rst",
            category="Tables",
            labels={"table": "baselines"},
        ),
        md="results/tables/baselines.md",
    log:
        "results/logs/report/baselines.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_baselines.py"


rule report_seeds:
    input:
        tidy="results/tables/tidy.csv",
        npz=lambda wc: npz_for(all_eval_jsons()),
    output:
        report(
            "results/tables/seeds.csv",
            caption="../report/seeds.rst",
            category="Tables",
            labels={"table": "seeds"},
        ),
    log:
        "results/logs/report/seeds.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_seeds.py"


rule report_comparisons:
    input:
        tidy="results/tables/tidy.csv",
        npz=lambda wc: npz_for(all_eval_jsons()),
    output:
        report(
            "results/tables/comparisons.csv",
            caption="../report/comparisons.rst",
            category="Tables",
            labels={"table": "comparisons"},
        ),
    log:
        "results/logs/report/comparisons.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_comparisons.py"


rule report_efficiency:
    input:
        tidy="results/tables/tidy.csv",
        int8=int8_reports(config),  # efficiency.int8: float32 vs int8 on the CPU
    output:
        report(
            "results/tables/efficiency.csv",
            caption="../report/efficiency.rst",
            category="Tables",
            labels={"table": "efficiency"},
        ),
        "results/tables/efficiency.md",
    params:
        models_root="results/models",
    log:
        "results/logs/report/efficiency.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_efficiency.py"


rule report_ablation:
    input:
        tidy="results/tables/tidy.csv",
        npz=lambda wc: npz_for(all_eval_jsons()),  # bootstrap CIs of one-seed points
    output:
        csv=report(
            "results/tables/ablation_{axis}.csv",
            caption="../report/ablation_table.rst",
            category="Ablations",
            labels={"axis": "{axis}", "kind": "table"},
        ),
        png=report(
            "results/figures/ablation_{axis}.png",
            caption="../report/ablation_plot.rst",
            category="Ablations",
            labels={"axis": "{axis}", "kind": "figure"},
        ),
        pdf="results/figures/ablation_{axis}.pdf",
    log:
        "results/logs/report/ablation_{axis}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_ablation.py"


rule report_figures:
    input:
        tidy="results/tables/tidy.csv",
        npz=lambda wc: npz_for(all_eval_jsons()),  # bootstrap CIs of one-run rows
    output:
        per_task=report(
            "results/figures/per_task.png",
            caption="../report/per_task.rst",
            category="Figures",
            labels={"figure": "per-task scores"},
        ),
        curves=report(
            "results/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Figures",
            labels={"figure": "training curves"},
        ),
        size=report(
            "results/figures/size_quality.png",
            caption="../report/size_quality.rst",
            category="Figures",
            labels={"figure": "size vs quality"},
        ),
        pdfs=[f"results/figures/{name}.pdf" for name in REPORT_FIGURES],
    log:
        "results/logs/report/figures.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_figures.py"

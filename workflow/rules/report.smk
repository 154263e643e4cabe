# Report rules: one tidy frame of every result -> tables, figures, statistics.
# Needs, defined in the Snakefile before this include:
#   all_eval_jsons()  -> list of results/eval/{model}/{pooling}.json
#   all_train_logs()  -> list of results/models/{variant}/{hparams}/seed{seed}/train_log.jsonl
# Every rule is a thin call of one function of distilface.report.build.
# Tables enter the HTML report as rounded HTML tables (the "eye" shows them); their CSV (full
# precision) sits beside them. The landing page (workflow/report/workflow.rst) embeds
# results/tables/headline.html, the main table with the paper comparison.
# Snakefile.report (results only: tables, figures and report from existing result files) sets
# REPORT_ONLY: per-pair scores and int8 reports are then used where present, not required.
from pathlib import Path

from distilface.report.targets import (
    REPORT_FIGURES,
    int8_reports,
    model_dirs_for,
    npz_for,
    present,
    report_targets,
)

REPORT_ONLY = globals().get("REPORT_ONLY", False)  # set by Snakefile.report before include

rule report_tidy:
    input:
        evals=lambda wc: all_eval_jsons(),
        model_dirs=lambda wc: model_dirs_for(all_train_logs()),
    output:
        paths.table("tidy", "csv"),
    params:
        logs=lambda wc: all_train_logs(),
    log:
        paths.job_log("report", "tidy", "log"),
    benchmark:
        paths.benchmark("report_tidy", "tidy"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_tidy.py"


rule report_main:
    input:
        tidy=paths.table("tidy", "csv"),
        published=str(Path(workflow.basedir) / "config/published.yaml"),
    output:
        csv=paths.table("main", "csv"),
        html=report(
            paths.table("main", "html"),
            caption="../report/main_table.rst",
            category="Tables",
            labels={"table": "main"},
        ),
        md=paths.table("main", "md"),
        tex=paths.table("main", "tex"),
        compact=paths.table("main_compact", "tex"),
        headline=paths.table("headline", "html"),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "main", "log"),
    benchmark:
        paths.benchmark("report_main", "main"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_main.py"


rule report_baselines:
    input:
        tidy=paths.table("tidy", "csv"),
    output:
        csv=paths.table("baselines", "csv"),
        html=report(
            paths.table("baselines", "html"),
            caption="../report/baselines_table.rst",
            category="Tables",
            labels={"table": "baselines"},
        ),
        md=paths.table("baselines", "md"),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "baselines", "log"),
    benchmark:
        paths.benchmark("report_baselines", "baselines"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_baselines.py"


rule report_seeds:
    input:
        tidy=paths.table("tidy", "csv"),
        npz=lambda wc: present(npz_for(all_eval_jsons()), REPORT_ONLY),
    output:
        csv=paths.table("seeds", "csv"),
        html=report(
            paths.table("seeds", "html"),
            caption="../report/seeds.rst",
            category="Tables",
            labels={"table": "seeds"},
        ),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "seeds", "log"),
    benchmark:
        paths.benchmark("report_seeds", "seeds"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_seeds.py"


rule report_comparisons:
    input:
        tidy=paths.table("tidy", "csv"),
        npz=lambda wc: present(npz_for(all_eval_jsons()), REPORT_ONLY),
    output:
        csv=paths.table("comparisons", "csv"),
        html=report(
            paths.table("comparisons", "html"),
            caption="../report/comparisons.rst",
            category="Tables",
            labels={"table": "comparisons"},
        ),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "comparisons", "log"),
    benchmark:
        paths.benchmark("report_comparisons", "comparisons"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_comparisons.py"


rule report_efficiency:
    input:
        tidy=paths.table("tidy", "csv"),
        # efficiency.int8: float32 vs int8 on the CPU
        int8=present(int8_reports(config), REPORT_ONLY),
    output:
        csv=paths.table("efficiency", "csv"),
        html=report(
            paths.table("efficiency", "html"),
            caption="../report/efficiency.rst",
            category="Tables",
            labels={"table": "efficiency"},
        ),
        md=paths.table("efficiency", "md"),
    params:
        config=config,  # the report reads it: a change re-runs this job
        models_root=paths.MODELS_ROOT,
    log:
        paths.job_log("report", "efficiency", "log"),
    benchmark:
        paths.benchmark("report_efficiency", "efficiency"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_efficiency.py"


rule report_ablation:
    input:
        tidy=paths.table("tidy", "csv"),
        # bootstrap CIs of one-seed points
        npz=lambda wc: present(npz_for(all_eval_jsons()), REPORT_ONLY),
    output:
        csv=paths.table("ablation_{axis}", "csv"),
        html=report(
            paths.table("ablation_{axis}", "html"),
            caption="../report/ablation_table.rst",
            category="Ablations",
            labels={"axis": "{axis}", "kind": "table"},
        ),
        png=report(
            paths.figure("ablation_{axis}", "png"),
            caption="../report/ablation_plot.rst",
            category="Ablations",
            labels={"axis": "{axis}", "kind": "figure"},
        ),
        pdf=paths.figure("ablation_{axis}", "pdf"),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "ablation_{axis}", "log"),
    benchmark:
        paths.benchmark("report_ablation", "ablation_{axis}"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_ablation.py"


rule report_figures:
    input:
        tidy=paths.table("tidy", "csv"),
        # bootstrap CIs of one-run rows
        npz=lambda wc: present(npz_for(all_eval_jsons()), REPORT_ONLY),
    output:
        per_task=report(
            paths.figure("per_task", "png"),
            caption="../report/per_task.rst",
            category="Figures",
            labels={"figure": "per-task scores"},
        ),
        curves=report(
            paths.figure("training_curves", "png"),
            caption="../report/training_curves.rst",
            category="Figures",
            labels={"figure": "training curves"},
        ),
        size=report(
            paths.figure("size_quality", "png"),
            caption="../report/size_quality.rst",
            category="Figures",
            labels={"figure": "size vs quality"},
        ),
        pdfs=[paths.figure(name, "pdf") for name in REPORT_FIGURES],
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("report", "figures", "log"),
    benchmark:
        paths.benchmark("report_figures", "figures"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_figures.py"

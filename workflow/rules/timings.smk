# Where the run's time goes: every rule's `benchmark:` file (results/benchmarks/{rule}/{job}.tsv)
# gathered into one table once everything else is done (its inputs are the run's final outputs,
# so it runs last). Per job: results/tables/timings.csv; per rule: timings.{md,html} (report).
# Needs all_eval_jsons() (common.smk) and report_targets / release_targets / int8_reports.


rule timings:
    input:
        all_eval_jsons(),
        report_targets(config),
        release_targets(config),
        int8_reports(config),
    output:
        csv=paths.table("timings", "csv"),
        md=paths.table("timings", "md"),
        html=report(
            paths.table("timings", "html"),
            caption="../report/timings.rst",
            category="Tables",
            labels={"table": "timings"},
        ),
    params:
        root=paths.JOB_TIMES_ROOT,
    log:
        paths.job_log("report", "timings", ext="log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report_timings.py"

# Performance suite (not part of `all`: timings depend on the machine).
#   snakemake --cores 2 --configfile config/quick.yaml bench
# Optional config key `bench:` (defaults below): device, repeats, steps, wait_quiet (seconds to
# wait for a 1-minute load average < 1.5 before each benchmark).
# Uses common.smk (SENTEVAL, CORPUS, encoder_inputs, encoder_path, bench_argv,
# baseline_model_ids), included before it.



wildcard_constraints:
    bench_name="|".join(BENCH_SCRIPTS),
    bench_device="cpu|cuda",


rule bench_one:
    input:
        senteval=SENTEVAL,
        corpus=CORPUS,
    output:
        f"{paths.BENCH_ROOT}/bench_{{bench_name}}_{{bench_device}}.json",
    params:
        argv=bench_argv,
    log:
        paths.job_log("bench", "{bench_name}_{bench_device}", ext="log"),
    threads: config["evaluation"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/bench.yaml"
    script:
        "../scripts/bench_run.py"


rule bench:
    input:
        expand(f"{paths.BENCH_ROOT}/bench_{{name}}_{{device}}.json", name=BENCH_SCRIPTS,
               device=[BENCH["device"]]),
        # the int8 export of each baseline (rule evaluate_int8 in evaluate.smk)
        [paths.int8_eval_json(m, "avg") for m in baseline_model_ids()],

# Performance suite and int8 export (not part of `all`: timings depend on the machine).
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
        "results/bench/bench_{bench_name}_{bench_device}.json",
    params:
        argv=bench_argv,
    log:
        "results/logs/bench/{bench_name}_{bench_device}.log",
    threads: config["evaluation"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/bench_run.py"


rule quantize_int8:
    input:
        senteval=SENTEVAL,
        encoder=encoder_inputs,
    output:
        model=directory("results/models_int8/{model}"),
        report="results/bench/quantize/{model}.json",
    params:
        encoder=encoder_path,
        settings=config["evaluation"],
    log:
        "results/logs/quantize/{model}.jsonl",
    threads: config["evaluation"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/quantize.py"


rule bench:
    input:
        expand("results/bench/bench_{name}_{device}.json", name=BENCH_SCRIPTS,
               device=[BENCH["device"]]),
        expand("results/bench/quantize/{model}.json", model=baseline_model_ids()),

# Performance suite and int8 export (not part of `all`: timings depend on the machine).
#   snakemake --cores 2 --configfile config/quick.yaml bench
# Optional config key `bench:` (defaults below): device, repeats, steps, wait_quiet (seconds to
# wait for a 1-minute load average < 1.5 before each benchmark).
# Needs evaluate.smk (encoder_inputs, encoder_path) and common.smk (SENTEVAL, CORPUS,
# baseline_model_ids) included before it.

BENCH = {"device": "cpu", "repeats": 3, "steps": 20, "wait_quiet": 0, **config.get("bench", {})}
BENCH_SCRIPTS = ["eval", "train", "scaling", "cpu_precision"]


wildcard_constraints:
    bench_name="|".join(BENCH_SCRIPTS),
    bench_device="cpu|cuda",


def bench_argv(wildcards) -> list[str]:
    """Command-line options of benchmarks/bench_<name>.py for this config."""
    common = ["--device", wildcards.bench_device, "--senteval-root", SENTEVAL,
              "--wait-quiet", str(BENCH["wait_quiet"])]
    extra = {
        "eval": ["--repeats", str(BENCH["repeats"])],
        "train": ["--repeats", str(BENCH["repeats"]), "--steps", str(BENCH["steps"]),
                  "--corpus", CORPUS],
        "scaling": ["--skip-snakemake", "--corpus", CORPUS],  # no snakemake inside snakemake
        "cpu_precision": ["--repeats", str(BENCH["repeats"])],
    }[wildcards.bench_name]
    return common + extra


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
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=60,
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
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../scripts/quantize.py"


rule bench:
    input:
        expand("results/bench/bench_{name}_{device}.json", name=BENCH_SCRIPTS,
               device=[BENCH["device"]]),
        expand("results/bench/quantize/{model}.json", model=baseline_model_ids()),

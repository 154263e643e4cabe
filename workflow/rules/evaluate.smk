# Stage 3 — evaluation: every model on the seven STS sets, all five SimCSE poolings in one
# forward pass (a pooling the checkpoint cannot offer writes a JSON saying why it is skipped).
# Every job's time lands in results/benchmarks/ (rule timings: results/tables/timings.csv).
rule evaluate:
    input:
        senteval=SENTEVAL,
        encoder=encoder_inputs,
    output:
        json=[paths.eval_json("{model}", p) for p in EVAL_POOLINGS],
        # per-pair cosines for the bootstrap (a skipped pooling's npz holds only the reason)
        scores=[paths.scores_npz("{model}", p) for p in EVAL_POOLINGS],
    params:
        encoder=encoder_path,
        poolings=list(EVAL_POOLINGS),
        cache_dir=lambda wc: grid.eval_cache_dir(config, wc.model),
        settings=config["evaluation"],
    log:
        paths.job_log("eval", "{model}"),
    benchmark:
        paths.benchmark("evaluate", "{model}"),
    threads: config["evaluation"].get("threads", 2)
    resources:
        gpu=config.get("resources", {}).get("eval_gpu", 0),
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/evaluate.py"


# Efficiency: models named in `efficiency.int8` exported as dynamic int8 (CPU inference) and
# scored before/after on the CPU in one process; the report's efficiency table reads the JSON.
wildcard_constraints:
    pooling="|".join(EVAL_POOLINGS),


rule export_int8:
    input:
        encoder=encoder_inputs,
    output:
        directory(paths.int8_dir("{model}")),
    params:
        encoder=encoder_path,
    log:
        paths.job_log("int8", "{model}/export"),
    benchmark:
        paths.benchmark("export_int8", "{model}/export"),
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/export_int8.py"


rule evaluate_int8:
    input:
        senteval=SENTEVAL,
        encoder=encoder_inputs,
        int8=paths.int8_dir("{model}"),
        # the float32 scores of the evaluate rule (the int8 job re-encodes only int8, plus a
        # fixed sample of sentences per precision for the speed comparison)
        fp32_eval=paths.eval_json("{model}", "{pooling}"),
    output:
        paths.int8_eval_json("{model}", "{pooling}"),
    params:
        encoder=encoder_path,
        settings=config["evaluation"],
        tasks=config.get("efficiency", {}).get("int8_tasks"),
    log:
        paths.job_log("int8", "{model}/{pooling}"),
    benchmark:
        paths.benchmark("evaluate_int8", "{model}/{pooling}"),
    # the fp32 and int8 speed samples run back to back in this job; another job running beside
    # it slows both (on 2 cores with evaluation.threads 2 nothing else runs)
    threads: config["evaluation"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/evaluate_int8.py"

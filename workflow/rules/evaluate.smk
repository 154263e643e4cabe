# Stage 3 — evaluation: every model on the seven STS sets, all five SimCSE poolings in one
# forward pass (a pooling the checkpoint cannot offer writes a JSON saying why it is skipped).


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
        settings=config["evaluation"],
        cache_dir=paths.EMBEDDING_CACHE,
    log:
        paths.job_log("eval", "{model}"),
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
    output:
        paths.int8_eval_json("{model}", "{pooling}"),
    params:
        encoder=encoder_path,
        settings=config["evaluation"],
        tasks=config.get("efficiency", {}).get("int8_tasks"),
    log:
        paths.job_log("int8", "{model}/{pooling}"),
    # the fp32 and int8 encodes run back to back in this job; another job running beside it
    # slows both (on 2 cores with evaluation.threads 2 nothing else runs)
    threads: config["evaluation"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/evaluate_int8.py"

# Stage 3 — evaluation: every model on the seven STS sets, all five SimCSE poolings in one
# forward pass (a pooling the checkpoint cannot offer writes a JSON saying why it is skipped).


rule evaluate:
    input:
        senteval=SENTEVAL,
        encoder=encoder_inputs,
    output:
        json=[f"results/eval/{{model}}/{p}.json" for p in POOLINGS],
        # per-pair cosines for the bootstrap (a skipped pooling's npz holds only the reason)
        scores=[f"results/eval/{{model}}/{p}.scores.npz" for p in POOLINGS],
    params:
        encoder=encoder_path,
        poolings=list(POOLINGS),
        settings=config["evaluation"],
    log:
        "results/logs/eval/{model}.jsonl",
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
    pooling="|".join(POOLINGS),


rule export_int8:
    input:
        encoder=encoder_inputs,
    output:
        directory("results/models_int8/{model}"),
    params:
        encoder=encoder_path,
    log:
        "results/logs/int8/{model}/export.jsonl",
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
        int8="results/models_int8/{model}",
    output:
        "results/eval_int8/{model}/{pooling}.json",
    params:
        encoder=encoder_path,
        settings=config["evaluation"],
        tasks=config.get("efficiency", {}).get("int8_tasks"),
    log:
        "results/logs/int8/{model}/{pooling}.jsonl",
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

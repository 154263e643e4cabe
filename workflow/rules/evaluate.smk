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

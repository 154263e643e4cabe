# Stage 3 — evaluation: every model on the seven STS sets, all five SimCSE poolings in one
# forward pass (a pooling the checkpoint cannot offer writes a JSON saying why it is skipped).


def encoder_inputs(wildcards) -> list[str]:
    """A trained model's folder is an input; a named encoder (hub / bundled / path) is not."""
    if wildcards.model in config["models"]:
        return []
    return [f"results/models/{wildcards.model}"]


def encoder_path(wildcards) -> str:
    if wildcards.model in config["models"]:
        return config["models"][wildcards.model]["path"]
    return f"results/models/{wildcards.model}"


rule evaluate:
    input:
        senteval=SENTEVAL,
        encoder=encoder_inputs,
    output:
        json=[f"results/eval/{{model}}/{p}.json" for p in POOLINGS],
        scores=[f"results/eval/{{model}}/{p}.scores.npz" for p in POOLINGS],
    params:
        encoder=encoder_path,
        poolings=list(POOLINGS),
        settings=config["evaluation"],
    log:
        "results/logs/eval/{model}.jsonl",
    threads: workflow.cores
    resources:
        gpu=config.get("resources", {}).get("eval_gpu", 0),
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/evaluate.py"

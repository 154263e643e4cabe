# Stage 3 — evaluation: every model on the seven STS sets, all five SimCSE poolings in one
# forward pass (a pooling the checkpoint cannot offer writes a JSON saying why it is skipped).
# Every job's time lands in results/benchmarks/ (rule timings: results/tables/timings.csv).
from distilface.data.models import cache_root


def eval_cache_dir(wildcards) -> str:
    """Named encoders (baselines, teachers: weights that never change) keep their STS embeddings
    across runs in the user cache ($DISTILFACE_CACHE/embeddings, keyed by weights, data,
    length, dtype, device and torch/transformers versions); a model this workflow trains is
    scored once per training and not cached ("": no cache), which keeps the cache at the
    baselines' size (quick config: MiniLM + mpnet, about 0.5 GB)."""
    return "" if encoder_path(wildcards).startswith("results/") else str(cache_root() / "embeddings")



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
        cache_dir=eval_cache_dir,
        settings=config["evaluation"],
    log:
        "results/logs/eval/{model}.jsonl",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv",
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
    benchmark:
        "results/benchmarks/export_int8/{model}/export.tsv",
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
        # the float32 scores of the evaluate rule (the int8 job re-encodes only int8, plus a
        # fixed sample of sentences per precision for the speed comparison)
        fp32_eval="results/eval/{model}/{pooling}.json",
    output:
        "results/eval_int8/{model}/{pooling}.json",
    params:
        encoder=encoder_path,
        settings=config["evaluation"],
        tasks=config.get("efficiency", {}).get("int8_tasks"),
    log:
        "results/logs/int8/{model}/{pooling}.jsonl",
    benchmark:
        "results/benchmarks/evaluate_int8/{model}/{pooling}.tsv",
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

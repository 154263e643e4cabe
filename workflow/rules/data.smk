# Stage 1 — data: download (or copy from `data.mirror`) and checksum every corpus.
MIRROR = config["data"]["mirror"]


rule senteval:
    output:
        directory(SENTEVAL),
    params:
        name="senteval",
        source=SOURCES["sources"]["senteval"],
        mirror=MIRROR,
    log:
        "results/logs/data/senteval.jsonl",
    resources:
        runtime=30,
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/materialize.py"


rule corpus:
    output:
        CORPUS,
    params:
        name="wiki1m",
        source=SOURCES["sources"]["wiki1m"],
        mirror=MIRROR,
    log:
        "results/logs/data/wiki1m.jsonl",
    resources:
        runtime=30,
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/materialize.py"


rule nli:
    output:
        NLI,
    params:
        name="nli",
        source=SOURCES["sources"]["nli"],
        mirror=MIRROR,
    log:
        "results/logs/data/nli.jsonl",
    resources:
        runtime=30,
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/materialize.py"

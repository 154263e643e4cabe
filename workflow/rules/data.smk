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


# Offline stand-ins built from the TRAINING splits only (never dev or test): SICK train as
# (premise, entailed, contradicted) triplets for DisCo's stage 2, and the unlabelled sentences of
# the STS-B and SICK training splits as an in-domain corpus for stage 1 (distilface.data).
rule sick_triplets:
    input:
        SENTEVAL,
    output:
        f"{DATA}/nli/sick_train_triplets.csv",
    params:
        kind="sick_triplets",
    log:
        "results/logs/data/sick_triplets.jsonl",
    resources:
        runtime=5,
        mem_mb=1000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/derived_data.py"


rule train_split_sentences:
    input:
        SENTEVAL,
    output:
        f"{DATA}/corpus/stsb_sick_train_sentences.txt",
    params:
        kind="train_split_sentences",
    log:
        "results/logs/data/train_split_sentences.jsonl",
    resources:
        runtime=5,
        mem_mb=1000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/derived_data.py"

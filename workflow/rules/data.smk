# Stage 1 — data: download (or copy from `data.mirror`) and checksum every corpus.
# data.mirror, else $DISTILFACE_MIRROR (the Makefile sets it when ../shared/data exists), else
# the upstream URLs of config/sources.yaml. Resolved to an absolute path here; a mirror named but
# missing fails the data job that reads it, naming the resolved folder (a dry run still plans).
MIRROR = resolve_mirror(config["data"].get("mirror"))


# One rule per source (their names and logs are what users and the timings table see), written
# once: `senteval` and `nli` reuse `corpus` with their own output, name, log and benchmark.
rule corpus:
    output:
        CORPUS,
    params:
        name="wiki1m",
        source=SOURCES["sources"]["wiki1m"],
        mirror=MIRROR,
    log:
        paths.job_log("data", "wiki1m"),
    benchmark:
        paths.benchmark("corpus", "wiki1m"),
    resources:
        runtime=30,
        mem_mb=2000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/materialize.py"


use rule corpus as senteval with:
    output:
        directory(SENTEVAL),
    params:
        name="senteval",
        source=SOURCES["sources"]["senteval"],
        mirror=MIRROR,
    log:
        paths.job_log("data", "senteval"),
    benchmark:
        paths.benchmark("senteval", "senteval"),


use rule corpus as nli with:
    output:
        NLI,
    params:
        name="nli",
        source=SOURCES["sources"]["nli"],
        mirror=MIRROR,
    log:
        paths.job_log("data", "nli"),
    benchmark:
        paths.benchmark("nli", "nli"),


# Offline stand-ins built from the TRAINING splits only (never dev or test), one per entry of
# distilface.data.DERIVED_FILES: SICK train as (premise, entailed, contradicted) triplets for
# DisCo's stage 2 (nli/sick_train_triplets.csv), and the unlabelled sentences of the STS-B and
# SICK training splits as an in-domain corpus for stage 1 (corpus/stsb_sick_train_sentences.txt).
rule derived_data:
    input:
        SENTEVAL,
    output:
        paths.data_file(DATA, "{derived}"),
    wildcard_constraints:
        derived="|".join(re.escape(name) for name in DERIVED_FILES),
    params:
        kind=lambda wc: DERIVED_FILES[wc.derived],
    log:
        paths.job_log("data", "{derived}"),
    benchmark:
        paths.benchmark("derived_data", "{derived}"),
    resources:
        runtime=5,
        mem_mb=1000,
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/derived_data.py"

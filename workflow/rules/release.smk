# Release folders: every trained model with a model card as its README (distilface.modelcard).
# The train rule's folder stays untouched (it is that rule's output); the release folder holds
# hard links to its files, the card, and the eval JSON the card quotes.
from distilface.modelcard import release_targets


def card_eval_json(wildcards) -> str:
    """The eval JSON the card quotes: the pooling the main table shows the variant with."""
    pooling = (config.get("report") or {}).get("main_pooling", {}).get(wildcards.variant)
    pooling = pooling or grid_run(wildcards).eval_pooling
    return f"results/eval/{wildcards.variant}/{wildcards.hparams}/seed{wildcards.seed}/{pooling}.json"


rule model_card:
    input:
        model="results/models/{variant}/{hparams}/seed{seed}",
        eval=card_eval_json,
    output:
        directory("results/release/{variant}/{hparams}/seed{seed}"),
    log:
        "results/logs/release/{variant}/{hparams}/seed{seed}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/model_card.py"

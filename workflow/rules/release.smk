# Release folders: every trained model with a model card as its README (distilface.report.modelcard).
# The train rule's folder stays untouched (it is that rule's output); the release folder holds
# hard links to its files, the card, and the eval JSON the card quotes.
from distilface.report.modelcard import card_eval_json, release_targets


rule model_card:
    input:
        model="results/models/{variant}/{hparams}/seed{seed}",
        eval=lambda wc: card_eval_json(config, f"{wc.variant}/{wc.hparams}/seed{wc.seed}"),
    output:
        directory("results/release/{variant}/{hparams}/seed{seed}"),
    log:
        "results/logs/release/{variant}/{hparams}/seed{seed}.log",
    benchmark:
        "results/benchmarks/model_card/{variant}/{hparams}/seed{seed}.tsv",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/model_card.py"

# Release folders: every trained model with a model card as its README (distilface.report.modelcard).
# The train rule's folder stays untouched (it is that rule's output); the release folder holds
# hard links to its files, the card, and the eval JSON the card quotes.
from distilface.report.modelcard import card_eval_json, release_targets


rule model_card:
    input:
        model=paths.model_dir(RUN_ID),
        eval=lambda wc: card_eval_json(config, paths.model_id(wc.variant, wc.hparams, wc.seed)),
    output:
        directory(paths.release_dir(RUN_ID)),
    params:
        config=config,  # the report reads it: a change re-runs this job
    log:
        paths.job_log("release", RUN_ID, ext="log"),
    benchmark:
        paths.benchmark("model_card", "{variant}/{hparams}/seed{seed}"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/model_card.py"

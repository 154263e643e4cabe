# Shared helpers of the rules: the data catalogue and the list of models to evaluate.
import yaml

from distilface.pooling import POOLINGS

SOURCES_FILE = config.get("sources_file", "config/sources.yaml")
with open(SOURCES_FILE, encoding="utf-8") as _fh:
    SOURCES = yaml.safe_load(_fh)
validate(SOURCES, "../../config/sources.schema.yaml")

DATA = config["data"]["root"]
SENTEVAL = f"{DATA}/senteval"
CORPUS = f"{DATA}/corpus/wiki1m_for_simcse.txt"
NLI = f"{DATA}/nli/nli_for_simcse.csv"


def baseline_model_ids() -> list[str]:
    """Untrained encoders named in `baselines.models` (keys of `models`)."""
    ids = config["baselines"]["models"]
    unknown = [m for m in ids if m not in config["models"]]
    if unknown:
        raise ValueError(f"config key baselines.models names unknown model(s) {unknown}; "
                         f"define them under `models:` ({sorted(config['models'])})")
    return list(ids)


def evaluated_model_ids() -> list[str]:
    """Every model the workflow scores: baselines, then each trained grid point."""
    return baseline_model_ids() + trained_model_ids(config)


def all_eval_jsons() -> list[str]:
    """One JSON per (model, pooling): every model is scored with all five poolings in one pass."""
    return [f"results/eval/{m}/{p}.json" for m in evaluated_model_ids() for p in POOLINGS]


def all_train_logs() -> list[str]:
    return [f"results/models/{m}/train_log.jsonl" for m in trained_model_ids(config)]

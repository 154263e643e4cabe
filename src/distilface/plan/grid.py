"""Experiment grid: config ``variants:`` x ``ablations:`` -> concrete training runs.

Config shape (see config/config.yaml)::

    training:
      senteval_root: results/data/senteval      # STS-B dev during training
      data: {wiki1m: <corpus path>, nli: <nli csv>, head: {path: <corpus>, limit: 3200}}
      students: {<id>: {from_layers: {teacher: <path|bundled:>, layers: [0, 2, 4]}},
                 <id>: {from_model2vec: {teacher: <path|bundled:>, pca_dims: 256}}}
      teacher_max_length: 128
      defaults: {<TrainConfig field>: value, ...}   # eval_every, checkpoint_every, ...
      resources: {gpu: 0|1, mem_mb: ..., runtime: ...}
    variants:
      <name>:
        objective: none | simcse_unsup | simcse_sup | disco_kd | disco_ckd
        student: <training.students or models id>   # or init_from: <variant> (DisCo stage 2)
        teacher: <models id>            # disco_* only
        data: <training.data id>
        hparams: {pooling, batch_size, learning_rate, dropout, max_seq_length,
                  temperature}  # temperature: only the objectives whose loss reads it
        settings: {<other TrainConfig field>: value}   # epochs, max_steps, eval_every, ...
        seeds: [42]
    ablations:
      <variant>: {<axis>: [values]}     # axis: one hparam, or "seeds"

Each ablation value changes one hparam of one variant around its defaults. A run's output
folder is ``results/models/{variant}/{hparams}/seed{seed}``, its model id (what the evaluator
uses) ``{variant}/{hparams}/seed{seed}`` (paths: :mod:`distilface.core.paths`); the ``hparams``
slug reads e.g. ``t0.05_bs64_lr3e-05_do0.1_len32_cls`` (``bs512_lr0.0002_..._avg`` for
``disco_kd``, whose MSE loss reads no temperature). A variant with ``objective: none`` (the
baseline) is evaluated as it is: its model folder is the student's.

This module imports nothing heavy: the Snakefile calls it at parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from distilface.core import paths
from distilface.core.names import OBJECTIVES, TRAIN_POOLINGS, TRAIN_TO_EVAL_POOLING
from distilface.data.models import cache_root
from distilface.plan.objectives import objectives_reading

#: hparams every training objective reads (each run declares them).
HPARAMS = ("pooling", "batch_size", "learning_rate", "dropout", "max_seq_length")
#: hparams only some objectives read: name -> those objectives. A run of one of them must
#: declare it; any other run must not (its loss would ignore the value, yet the id carry it).
OBJECTIVE_HPARAMS: dict[str, tuple[str, ...]] = {
    "temperature": objectives_reading("temperature"),  # disco_kd: MSE, no temperature
}
#: optional hparams: name -> (objectives that read them, slug token, default). They enter the
#: slug only when set to a non-default value, so the ids of runs without them do not change.
OPTIONAL_HPARAMS = {
    "queue_size": (objectives_reading("queue_size"), "q", 0),
    "learn_temperature": (objectives_reading("learn_temperature"), "lt", False),
}
AXES = (*OBJECTIVE_HPARAMS, *HPARAMS, *OPTIONAL_HPARAMS, "seeds")
UNTRAINED = "untrained"
SLUG_RE = re.compile(
    r"^(?:t(?P<temperature>[^_]+)_)?bs(?P<batch_size>\d+)_lr(?P<learning_rate>[^_]+)"
    r"_do(?P<dropout>[^_]+)_len(?P<max_seq_length>\d+)_(?P<pooling>[a-z-]+)"
    r"(?:_q(?P<queue_size>\d+))?(?P<learn_temperature>_lt)?$"
)


class GridError(ValueError):
    """A config error in training/variants/ablations, naming the offending key."""


@dataclass(frozen=True)
class Run:
    """One concrete training run (or, for ``objective: none``, one untrained model)."""

    variant: str
    hparams: str
    seed: int
    objective: str
    params: dict[str, Any] = field(hash=False, compare=False)  # resolved hparams + settings
    student: str = ""  # students id, or "" when init_from is set
    teacher: str | None = None
    data: str | None = None
    init_from: str | None = None  # model id of the run this one starts from

    @property
    def model_id(self) -> str:
        """``{variant}/{hparams}/seed{seed}``, the evaluator's model id."""
        return paths.model_id(self.variant, self.hparams, self.seed)

    @property
    def trained(self) -> bool:
        """False for the untrained baseline."""
        return self.objective != "none"

    @property
    def eval_pooling(self) -> str:
        """Pooling the model is evaluated (and saved) with: for a trained run its training
        pooling mapped by ``TRAIN_TO_EVAL_POOLING`` (``cls`` trains an MLP, scored without it);
        for the untrained student its own ``pooling`` (any of the five)."""
        pooling = self.params["pooling"]
        return TRAIN_TO_EVAL_POOLING[pooling] if self.trained else pooling


def hparams_slug(hp: dict[str, Any]) -> str:
    """``t{temperature}_bs{batch_size}_lr{learning_rate}_do{dropout}_len{max_seq_length}_{pooling}``
    plus ``_q{queue_size}`` and ``_lt`` (learnable temperature, initialised at ``t``) when set;
    without ``t{temperature}_`` when ``hp`` has no temperature (``disco_kd``)."""
    slug = "" if hp.get("temperature") is None else f"t{float(hp['temperature']):g}_"
    slug += (
        f"bs{int(hp['batch_size'])}"
        f"_lr{float(hp['learning_rate']):g}_do{float(hp['dropout']):g}"
        f"_len{int(hp['max_seq_length'])}_{str(hp['pooling']).replace('_', '-')}"
    )
    if int(hp.get("queue_size") or 0):
        slug += f"_q{int(hp['queue_size'])}"
    if hp.get("learn_temperature"):
        slug += "_lt"
    return slug


def parse_slug(slug: str) -> dict[str, Any]:
    """Inverse of :func:`hparams_slug`."""
    m = SLUG_RE.match(slug)
    if not m:
        raise GridError(f"hparams slug {slug!r} does not match {SLUG_RE.pattern}")
    g = m.groupdict()
    hp: dict[str, Any] = {
        "batch_size": int(g["batch_size"]),
        "learning_rate": float(g["learning_rate"]),
        "dropout": float(g["dropout"]),
        "max_seq_length": int(g["max_seq_length"]),
        "pooling": g["pooling"].replace("-", "_"),
    }
    if g["temperature"] is not None:
        hp["temperature"] = float(g["temperature"])
    if g["queue_size"] is not None:
        hp["queue_size"] = int(g["queue_size"])
    if g["learn_temperature"]:
        hp["learn_temperature"] = True
    return hp


def _section(config: dict, key: str) -> dict:
    value = config.get(key) or {}
    if not isinstance(value, dict):
        raise GridError(f"config key {key!r} must be a mapping, got {type(value).__name__}")
    return value


def hparams_of(objective: str) -> tuple[str, ...]:
    """The hparams a run of ``objective`` must declare (its id is built from them)."""
    own = tuple(k for k, objectives in OBJECTIVE_HPARAMS.items() if objective in objectives)
    return (*own, *HPARAMS)


def _check_hparams(where: str, hp: dict[str, Any], objective: str) -> None:
    required = hparams_of(objective)
    missing = [k for k in required if k not in hp]
    unread = [k for k in OBJECTIVE_HPARAMS if k in hp and k not in required]
    unknown = [k for k in hp if k not in AXES or k == "seeds"]
    if missing or unknown:
        raise GridError(
            f"{where}: missing {missing}, unknown {unknown} ({objective} reads {required})"
        )
    if unread:
        raise GridError(f"{where}.{unread[0]}: {objective} does not read it (drop it)")
    for name, (objectives, _, default) in OPTIONAL_HPARAMS.items():
        if hp.get(name, default) != default and objective not in objectives:
            raise GridError(f"{where}.{name}: read by {objectives} only, not by {objective}")
    if hp["pooling"] not in TRAIN_POOLINGS:
        raise GridError(f"{where}.pooling: {hp['pooling']!r} not in {TRAIN_POOLINGS}")


def _variant_runs(name: str, v: dict, hp: dict[str, Any], seed: int, config: dict) -> Run:
    where = f"variants.{name}"
    objective = v.get("objective")
    if objective not in OBJECTIVES:
        raise GridError(f"{where}.objective: {objective!r} not in {OBJECTIVES}")
    if objective != "none":
        _check_hparams(f"{where}.hparams", hp, objective)
    training = _section(config, "training")
    params = {**(training.get("defaults") or {}), **(v.get("settings") or {}), **hp}
    init_from = None
    student = v.get("student", "")
    if v.get("init_from"):
        parent = v["init_from"]
        variants = _section(config, "variants")
        if parent not in variants:
            raise GridError(f"{where}.init_from: unknown variant {parent!r}")
        if variants[parent].get("init_from"):
            raise GridError(f"{where}.init_from: {parent!r} is itself a fine-tune (one level only)")
        init_from = paths.model_id(parent, hparams_slug(variants[parent]["hparams"]), seed)
        student = ""
    elif student not in {**_section(training, "students"), **_section(config, "models")}:
        raise GridError(f"{where}.student: {student!r} not in training.students or models")
    teacher = v.get("teacher")
    if objective.startswith("disco"):
        if teacher not in _section(config, "models"):
            raise GridError(f"{where}.teacher: {teacher!r} not in models")
    data = v.get("data")
    if objective != "none" and data not in _section(training, "data"):
        raise GridError(f"{where}.data: {data!r} not in training.data")
    slug = hparams_slug(hp) if objective != "none" else UNTRAINED
    return Run(name, slug, int(seed), objective, params, student, teacher, data, init_from)


def expand_grid(config: dict) -> list[Run]:
    """All runs: every variant at its defaults x its seeds, plus each ablation value (deduplicated,
    in config order)."""
    variants = _section(config, "variants")
    ablations = _section(config, "ablations")
    runs: dict[str, Run] = {}
    for name, v in variants.items():
        if not isinstance(v, dict) or ("hparams" not in v and v.get("objective") != "none"):
            raise GridError(f"variants.{name}: needs objective and hparams")
        hp = dict(v.get("hparams") or {})
        if v.get("objective") == "none":  # evaluated as it is, with its own pooling
            hp = {"pooling": v.get("pooling", "avg")}
            if ablations.get(name):
                raise GridError(f"ablations.{name}: an untrained variant has nothing to ablate")
        seeds = v.get("seeds") or [0]
        for seed in seeds:
            run = _variant_runs(name, v, hp, seed, config)
            runs.setdefault(run.model_id, run)
        for axis, values in (ablations.get(name) or {}).items():
            where = f"ablations.{name}.{axis}"
            if axis not in AXES:
                raise GridError(f"{where}: unknown axis (choose from {AXES})")
            if not isinstance(values, list) or not values:
                raise GridError(f"{where}: must be a non-empty list")
            for value in values:
                if axis == "seeds":
                    run = _variant_runs(name, v, hp, int(value), config)
                else:
                    run = _variant_runs(name, v, {**hp, axis: value}, seeds[0], config)
                runs.setdefault(run.model_id, run)
    for name in ablations:
        if name not in variants:
            raise GridError(f"ablations.{name}: unknown variant")
    return list(runs.values())


def trained_model_ids(config: dict) -> list[str]:
    """Model ids of every run that trains (the ``train`` rule's targets)."""
    return [r.model_id for r in expand_grid(config) if r.trained]


def all_model_ids(config: dict) -> list[str]:
    """Model ids of every grid entry, the untrained baseline included (what gets evaluated)."""
    return [r.model_id for r in expand_grid(config)]


def baseline_model_ids(config: dict) -> list[str]:
    """Untrained encoders named in ``baselines.models`` (keys of ``models``)."""
    ids = list(_section(config, "baselines").get("models") or [])
    models = _section(config, "models")
    unknown = [m for m in ids if m not in models]
    if unknown:
        raise GridError(
            f"config key baselines.models names unknown model(s) {unknown}; "
            f"define them under `models:` ({sorted(models)})"
        )
    return ids


def evaluated_model_ids(config: dict) -> list[str]:
    """Every model the workflow scores: baselines, then each grid point (the untrained
    student of an ``objective: none`` variant included)."""
    return baseline_model_ids(config) + all_model_ids(config)


def encoder_path(config: dict, model_id: str) -> str:
    """What the evaluator loads for ``model_id``: a baseline's ``models.{id}.path`` (hub name,
    folder or ``bundled:`` name), else the grid's folder (:func:`model_dir_for`)."""
    models = _section(config, "models")
    if model_id in models:
        return str(models[model_id]["path"])
    return model_dir_for(config, model_id)


def eval_cache_dir(config: dict, model_id: str) -> str:
    """Where the evaluator caches ``model_id``'s STS embeddings: a named encoder (baseline,
    teacher: weights that never change) in the user cache (``$DISTILFACE_CACHE/embeddings``,
    keyed by weights, data, length, dtype, device and library versions), so later runs reuse
    them; a model this workflow trains is scored once per training and not cached (``""``),
    which keeps the cache at the baselines' size (quick config: MiniLM + mpnet, about 0.5 GB)."""
    if encoder_path(config, model_id).startswith(f"{paths.RESULTS}/"):
        return ""
    return str(cache_root() / "embeddings")


def run_for(config: dict, model_id: str) -> Run:
    """The :class:`Run` of ``model_id``."""
    for run in expand_grid(config):
        if run.model_id == model_id:
            return run
    raise GridError(f"model id {model_id!r} is not in the grid (variants x ablations)")


#: how a ``training.students`` entry is built (rule ``student_init``): a transformer from a
#: teacher's layers, or a static (token-vector) model by model2vec's distillation
STUDENT_KINDS = ("from_layers", "from_model2vec")


def student_dir(config: dict, student: str) -> str:
    """Where a student lives: ``training.students`` built by the workflow (from a teacher's
    layers, or distilled by model2vec's recipe) go under results/models/students/{id};
    otherwise the ``path`` of that entry (or of ``models.{id}``)."""
    spec = _section(_section(config, "training"), "students").get(student)
    if spec is None:
        spec = _section(config, "models").get(student)
    if spec is None:
        raise GridError(f"no student {student!r} in training.students or models")
    if any(kind in spec for kind in STUDENT_KINDS):
        return paths.student_dir(student)
    if "path" in spec:
        return str(spec["path"])
    raise GridError(f"training.students.{student}: needs 'path' or one of {STUDENT_KINDS}")


def student_kind(config: dict, student: str) -> str | None:
    """``from_layers`` / ``from_model2vec`` for a built student, None for any other."""
    spec = _section(_section(config, "training"), "students").get(student) or {}
    return next((kind for kind in STUDENT_KINDS if kind in spec), None)


def model_dir_for(config: dict, model_id: str) -> str:
    """The folder (or hub name) the evaluator loads for ``model_id``."""
    run = run_for(config, model_id)
    if not run.trained:
        return student_dir(config, run.student)
    return paths.model_dir(model_id)


def data_spec(config: dict, data: str) -> tuple[str, int | None]:
    """``training.data.{data}`` as (path, limit): a path, or ``{path, limit}`` (first N rows)."""
    spec = _section(_section(config, "training"), "data").get(data)
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, dict) and "path" in spec:
        limit = spec.get("limit")
        return str(spec["path"]), (int(limit) if limit is not None else None)
    raise GridError(f"training.data.{data}: expected a path or {{path, limit}}, got {spec!r}")


def teacher_path(config: dict, teacher: str) -> str:
    """``models.{teacher}.path`` (hub name, folder or bundled: name)."""
    spec = _section(config, "models").get(teacher)
    if not spec or "path" not in spec:
        raise GridError(f"models.{teacher}: missing (or without a path)")
    return str(spec["path"])


def teacher_cache_path(config: dict, run: Run) -> str:
    """``results/teacher_cache/{teacher}/{data}.npy`` for a disco_* run."""
    return paths.teacher_cache(str(run.teacher), str(run.data))


def train_inputs(config: dict, run: Run) -> dict[str, str]:
    """Files a run needs (for the Snakemake rule's ``input:``)."""
    training = _section(config, "training")
    inputs = {"data": data_spec(config, run.data)[0]}
    if training.get("senteval_root"):
        inputs["senteval"] = str(training["senteval_root"])
    if run.init_from:
        inputs["student"] = paths.model_dir(run.init_from)
    else:
        path = student_dir(config, run.student)
        if path.startswith(paths.STUDENTS_ROOT):
            inputs["student"] = path
    if run.objective.startswith("disco"):
        inputs["teacher_cache"] = teacher_cache_path(config, run)
    return inputs


def train_config_kwargs(config: dict, run: Run) -> dict[str, Any]:
    """Keyword arguments for :class:`distilface.train.TrainConfig` (``out_dir`` excluded)."""
    if not run.trained:
        raise GridError(f"{run.model_id}: objective none has nothing to train")
    training = _section(config, "training")
    inputs = train_inputs(config, run)
    kwargs = dict(run.params)
    limit = data_spec(config, run.data)[1]
    if limit is not None:
        own = kwargs.get("corpus_limit")
        kwargs["corpus_limit"] = limit if own is None else min(limit, int(own))
    if kwargs.get("tensorboard"):  # live curves, one folder per run
        kwargs["tensorboard_dir"] = paths.tensorboard_dir(run.model_id)
    kwargs.update(
        objective=run.objective,
        student=inputs.get("student") or student_dir(config, run.student),
        data=inputs["data"],
        teacher_cache=inputs.get("teacher_cache"),
        senteval_root=training.get("senteval_root"),
        seed=run.seed,
        extra={
            "model_id": run.model_id,
            "variant": run.variant,
            "init_from": run.init_from,
            "teacher": run.teacher,
        },
    )
    return kwargs


def teacher_caches(config: dict) -> list[tuple[str, str]]:
    """(teacher id, data id) pairs the grid needs a cache for."""
    pairs = {(r.teacher, r.data) for r in expand_grid(config) if r.objective.startswith("disco")}
    return sorted(pairs)

"""Names shared by every stage: the STS tasks and their labels, the training objectives, the
training and evaluation poolings and the map between them (one home each; torch-free)."""

from __future__ import annotations

# The seven STS evaluation sets, in the column order of SimCSE's tables.
STS_TASKS: tuple[str, ...] = (
    "STS12",
    "STS13",
    "STS14",
    "STS15",
    "STS16",
    "STSBenchmark",
    "SICKRelatedness",
)
# Short column labels used in tables and plots.
TASK_LABELS: dict[str, str] = {
    "STS12": "STS12",
    "STS13": "STS13",
    "STS14": "STS14",
    "STS15": "STS15",
    "STS16": "STS16",
    "STSBenchmark": "STS-B",
    "SICKRelatedness": "SICK-R",
}

# Training objectives; ``none`` is a variant that is evaluated as it is (no training).
OBJECTIVES: tuple[str, ...] = ("none", "simcse_unsup", "simcse_sup", "disco_kd", "disco_ckd")
#: The objectives that train (what ``distilface.train.loop.TrainConfig`` accepts).
TRAIN_OBJECTIVES: tuple[str, ...] = OBJECTIVES[1:]
#: Poolings a model can be trained with (``cls`` adds a training-only MLP head).
TRAIN_POOLINGS: tuple[str, ...] = ("cls", "cls_before_pooler", "avg")
#: The five SimCSE poolings every model is scored with (functions: distilface.evaluate.pooling).
EVAL_POOLINGS: tuple[str, ...] = ("cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2")
#: The pooling a model trained with each training pooling is evaluated (and saved) with: ``cls``
#: trains an MLP head that is dropped afterwards (SimCSE's ``--mlp_only_train``).
TRAIN_TO_EVAL_POOLING: dict[str, str] = {
    "cls": "cls_before_pooler",
    "cls_before_pooler": "cls_before_pooler",
    "avg": "avg",
}

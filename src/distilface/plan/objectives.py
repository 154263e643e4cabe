"""One row per training objective: what its loss is, which hyper-parameters it reads beyond
the ones every run declares, what data it needs, and how it is named. The schema check (the
grid), the training loop and the report read this table; nothing else spells an objective's
needs. A plain table on purpose: the losses themselves are functions in
:mod:`distilface.train.losses`, the loop dispatches on the objective's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from distilface.core.names import TRAIN_OBJECTIVES


@dataclass(frozen=True)
class Objective:
    """What one training objective is and needs."""

    loss: str  # the function in distilface.train.losses
    reads: tuple[str, ...]  # hparams / settings read beyond every run's (HPARAMS)
    teacher: bool  # needs a teacher's cached embeddings (and may use a projection head)
    examples: str  # "sentences" (a corpus, one per line) or "triplets" (an NLI-style csv)
    label: str  # tables and figures
    text: str  # model cards: what the loss does
    loss_label: str = ""  # the loss in a figure's panel title


OBJECTIVES: dict[str, Objective] = {
    "simcse_unsup": Objective(
        loss="simcse_unsup_loss",
        reads=("temperature", "learn_temperature"),
        teacher=False,
        examples="sentences",
        label="unsup. SimCSE",
        text="unsupervised SimCSE: InfoNCE between two dropout views of each sentence",
        loss_label="InfoNCE, two dropout views",
    ),
    "simcse_sup": Objective(
        loss="simcse_sup_loss",
        reads=("temperature", "learn_temperature"),
        teacher=False,
        examples="triplets",
        label="sup. SimCSE",
        text="supervised SimCSE: InfoNCE over (anchor, entailed, contradicted) triplets, the "
        "contradiction as a hard negative",
        loss_label="InfoNCE, triplets",
    ),
    "disco_kd": Objective(
        loss="kd_mse_loss",
        reads=(),  # MSE: no temperature
        teacher=True,
        examples="sentences",
        label="DisCo KD",
        text="DisCo KD: MSE between the (projected) student and the teacher embeddings",
        loss_label="MSE to the teacher",
    ),
    "disco_ckd": Objective(
        loss="ckd_loss",
        reads=("temperature", "learn_temperature", "queue_size", "mse_weight"),
        teacher=True,
        examples="sentences",
        label="DisCo CKD",
        text="DisCo CKD: InfoNCE between the student and the teacher embeddings",
        loss_label="InfoNCE, teacher positives",
    ),
}
if tuple(OBJECTIVES) != TRAIN_OBJECTIVES:  # one row per trained objective of core.names
    raise RuntimeError(f"plan.objectives rows {tuple(OBJECTIVES)} != {TRAIN_OBJECTIVES}")


def objectives_reading(name: str) -> tuple[str, ...]:
    """The objectives whose loss reads hparam / setting ``name``."""
    return tuple(o for o, row in OBJECTIVES.items() if name in row.reads)


def reads(objective: str, name: str) -> bool:
    """Whether ``objective`` reads ``name`` (False for ``none`` and unknown objectives)."""
    row = OBJECTIVES.get(objective)
    return row is not None and name in row.reads

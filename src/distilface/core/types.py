"""Plain data containers shared by the data readers, the evaluator and the trainer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StsPairs:
    """Sentence pairs with gold similarity scores for one STS task (or one split of it).

    ``subsets[i]`` names the subset (e.g. ``"MSRpar"``, ``"main-news"``) pair ``i`` belongs to;
    pairs whose gold line was blank are already dropped by the reader.
    """

    task: str
    sent1: list[str]
    sent2: list[str]
    gold: np.ndarray  # float64, shape (n,)
    subsets: list[str]
    source_files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.sent1)
        if not (len(self.sent2) == n == len(self.gold) == len(self.subsets)):
            raise ValueError(
                f"{self.task}: ragged pairs (sent1={n}, sent2={len(self.sent2)}, "
                f"gold={len(self.gold)}, subsets={len(self.subsets)})"
            )

    def __len__(self) -> int:
        return len(self.sent1)

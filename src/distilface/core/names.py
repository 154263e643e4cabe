"""Names shared by every stage: the STS tasks and their labels."""

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

"""Snakemake through a real one-node SLURM cluster with profiles/slurm.

The cluster (tests/slurm/cluster.sh) runs on this machine for the test session. Only what
no test cluster can match is overridden on the command line: the partition name, resources
clamped to the node (no GPUs, its CPUs and memory), the status command and account flags
for a cluster without accounting, and a short first status check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = REPO / "profiles" / "slurm"
PARTITION = "debug"
SUBMITTED_RE = re.compile(
    r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", re.MULTILINE
)
GPU_KEYS = {"gpu", "gpu_model", "gres", "tasks_per_gpu", "cpus_per_gpu"}

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        shutil.which("sbatch") is None or shutil.which("slurmctld") is None,
        reason="SLURM is not installed (sbatch/slurmctld missing): run .ci/slurm.sh",
    ),
]


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: its config file and the node's size."""

    state: Path
    conf: Path
    cpus: int
    mem_mb: int

    def env(self) -> dict[str, str]:
        """Environment for Snakemake and the SLURM clients: this cluster, this venv.

        The cluster's bin/ wrappers come first in PATH: Snakemake's jobstep drops
        SLURM_CONF before its inner `srun` (see tests/slurm/cluster.sh).
        """
        venv_bin = str(Path(sys.executable).parent)
        return {
            **os.environ,
            "SLURM_CONF": str(self.conf),
            "PATH": f"{self.state / 'bin'}:{venv_bin}:{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Bring the one-node cluster up for the session and down at its end."""
    state = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(
        ["bash", str(CLUSTER_SH), "up", str(state), PARTITION],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, f"cluster.sh up failed:\n{up.stdout}\n{up.stderr}"
    node = re.search(r"cpus=(\d+) mem_mb=(\d+)", up.stdout)
    assert node, up.stdout
    try:
        yield Cluster(state, state / "slurm.conf", int(node[1]), int(node[2]))
    finally:
        subprocess.run(["bash", str(CLUSTER_SH), "down", str(state)], timeout=60, check=False)


def _clamp(resources: dict, cluster: Cluster) -> list[str]:
    """`key=value` items for the command line: no GPUs, at most the node's CPUs and memory."""
    items = []
    for key, value in resources.items():
        if key in GPU_KEYS:
            continue
        if key == "slurm_partition":
            value = PARTITION
        elif key == "cpus_per_task":
            value = min(int(value), cluster.cpus)
        elif key == "mem_mb":
            value = min(int(value), cluster.mem_mb // 2)
        items.append(f"{key}={value}")
    return items


def local_overrides(cluster: Cluster) -> list[str]:
    """Command-line arguments that fit profiles/slurm to the test cluster."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))
    args = ["--default-resources", *_clamp(profile["default-resources"], cluster)]
    set_resources = [
        f"{rule}:{item}"
        for rule, res in profile.get("set-resources", {}).items()
        for item in _clamp(res, cluster)
    ]
    if set_resources:
        args += ["--set-resources", *set_resources]
    threads = profile.get("set-threads", {})
    if threads:
        args += ["--set-threads", *(f"{r}={min(n, cluster.cpus)}" for r, n in threads.items())]
    return args + [
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
    ]


def run_snakemake(workdir: Path, args: list[str], env: dict[str, str], timeout: int = 600):
    """Run Snakemake in `workdir`; the completed process, stdout and stderr merged."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def submissions(log: str) -> list[tuple[str, int]]:
    """(rule, SLURM job id) for every sbatch submission Snakemake reported."""
    out = []
    for _jobid, slurm_id, logfile in SUBMITTED_RE.findall(log):
        rule = next(p for p in Path(logfile).parts if p.startswith("rule_"))[len("rule_") :]
        out.append((rule, int(slurm_id)))
    return out


def tree(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under `root`."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


TINY_SNAKEFILE = """
N = range(3)

rule all:
    input:
        "out/summary.txt",

rule square:
    output:
        "out/{i}.txt",
    log:
        "logs/{i}.where",
    shell:
        "echo {wildcards.i} $(( {wildcards.i} * {wildcards.i} )) > {output}; "
        "echo ${{SLURM_JOB_ID:-local}} > {log}"

rule summary:
    input:
        expand("out/{i}.txt", i=N),
    output:
        "out/summary.txt",
    log:
        "logs/summary.where",
    shell:
        "cat {input} | awk '{{s += $2}} END {{print NR, s}}' > {output}; "
        "echo ${{SLURM_JOB_ID:-local}} > {log}"

rule broken:
    output:
        "bad/out.txt",
    params:
        attempts=lambda wildcards: str(Path("attempts.txt").resolve()),
    shell:
        "echo $SLURM_JOB_ID >> {params.attempts}; echo partial > {output}; exit 3"
"""


@pytest.fixture(scope="module")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-contained Snakefile: 3 independent jobs, one that gathers them, one that fails."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "Snakefile").write_text("from pathlib import Path\n" + TINY_SNAKEFILE)
    return root


def test_workflow_runs_through_sbatch_and_matches_a_local_run(
    cluster: Cluster, tiny_workflow: Path, tmp_path: Path
) -> None:
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    for d in (slurm_dir, local_dir):
        shutil.copytree(tiny_workflow, d)
    start = time.monotonic()
    res = run_snakemake(
        slurm_dir, ["--profile", str(PROFILE), *local_overrides(cluster), "all"], cluster.env()
    )
    elapsed = time.monotonic() - start
    assert res.returncode == 0, res.stdout[-5000:]
    subs = submissions(res.stdout)
    print(f"SLURM run: {elapsed:.1f} s, submissions {subs}")
    assert sorted(rule for rule, _ in subs) == ["square", "square", "square", "summary"]
    ids = [i for _, i in subs]
    assert len(set(ids)) == 4
    # Each job ran inside its own SLURM allocation, and the plugin kept its log under that id.
    where = {p.name: int(p.read_text()) for p in (slurm_dir / "logs").iterdir()}
    assert sorted(where.values()) == sorted(ids)
    for rule, slurm_id in subs:
        assert list(
            (slurm_dir / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob(f"{slurm_id}.log")
        )
    # squeue (the status command here) still knows the finished jobs: COMPLETED.
    states = subprocess.run(
        [
            "squeue",
            "--states=all",
            "--noheader",
            "--format=%i|%T",
            "--jobs",
            ",".join(map(str, ids)),
        ],
        capture_output=True,
        text=True,
        env=cluster.env(),
        check=True,
    ).stdout.split()
    assert sorted(states) == sorted(f"{i}|COMPLETED" for i in ids)

    local = run_snakemake(local_dir, ["--cores", "1", "all"], cluster.env())
    assert local.returncode == 0, local.stdout[-5000:]
    assert submissions(local.stdout) == []
    assert {p.read_text().strip() for p in (local_dir / "logs").iterdir()} == {"local"}
    assert tree(slurm_dir / "out") == tree(local_dir / "out")
    assert (local_dir / "out" / "summary.txt").read_text() == "3 5\n"


def test_failing_rule_is_retried_then_reported_without_partial_output(
    cluster: Cluster, tiny_workflow: Path, tmp_path: Path
) -> None:
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_workflow, workdir)
    retries = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))["retries"]
    res = run_snakemake(
        workdir,
        ["--profile", str(PROFILE), *local_overrides(cluster), "bad/out.txt"],
        cluster.env(),
    )
    assert res.returncode != 0, res.stdout[-5000:]
    subs = submissions(res.stdout)
    print(f"failing rule: submissions {subs}")
    assert [rule for rule, _ in subs] == ["broken"] * (retries + 1)
    # Every attempt really ran on the cluster (each under its own job id) ...
    attempts = (workdir / "attempts.txt").read_text().split()
    assert sorted(map(int, attempts)) == sorted(i for _, i in subs)
    # ... and Snakemake reported the failure and removed the partial output.
    assert "Error in rule broken" in res.stdout
    assert not (workdir / "bad" / "out.txt").exists()


# The real workflow: its data rules (cheap: a checksummed copy from the shared mirror). The
# evaluate rule takes ~7 min per run on 2 shared cores, too long to run twice here; to include
# it, add "results/eval/minilm-l6/avg.json" to REAL_TARGETS (and compare JSON `tasks`/`avg`
# rather than bytes: `meta` holds timings).
REAL_TARGETS = ["results/data/senteval", "results/data/corpus/wiki1m_for_simcse.txt"]


@pytest.fixture(scope="module")
def real_workflow(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A copy of the Snakefile, rules, configs and envs; quick.yaml's mirror made absolute
    (``shared_data``: skipped without the real data, failed under CI)."""
    if not (REPO / "Snakefile").is_file():
        pytest.skip("no Snakefile yet")
    root = tmp_path_factory.mktemp("real")
    shutil.copy(REPO / "Snakefile", root)
    for folder in ("workflow", "config", "envs"):
        shutil.copytree(REPO / folder, root / folder)
    quick = yaml.safe_load((REPO / "config" / "quick.yaml").read_text(encoding="utf-8"))
    quick["data"]["mirror"] = str(shared_data)
    (root / "config" / "quick.yaml").write_text(yaml.safe_dump(quick), encoding="utf-8")
    return root


def test_real_workflow_through_sbatch_matches_a_local_run(
    cluster: Cluster, real_workflow: Path, tmp_path: Path
) -> None:
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    for d in (slurm_dir, local_dir):
        shutil.copytree(real_workflow, d)
    config = ["--configfile", "config/quick.yaml"]
    start = time.monotonic()
    res = run_snakemake(
        slurm_dir,
        [*REAL_TARGETS, "--profile", str(PROFILE), *local_overrides(cluster), *config],
        cluster.env(),
    )
    elapsed = time.monotonic() - start
    assert res.returncode == 0, res.stdout[-5000:]
    subs = submissions(res.stdout)
    print(f"real workflow via SLURM: {elapsed:.1f} s, submissions {subs}")
    assert sorted(rule for rule, _ in subs) == ["corpus", "senteval"]

    local = run_snakemake(local_dir, [*REAL_TARGETS, "--cores", "2", *config], cluster.env())
    assert local.returncode == 0, local.stdout[-5000:]
    assert submissions(local.stdout) == []
    slurm_data = without_timestamps(tree(slurm_dir / "results" / "data"))
    local_data = without_timestamps(tree(local_dir / "results" / "data"))
    assert len(slurm_data) > 50  # the SentEval layout (7 sets) and the corpus
    assert slurm_data == local_data


def without_timestamps(files: dict[str, bytes]) -> dict[str, object]:
    """The tree with each MANIFEST.json parsed and its `updated` time dropped (else bytes)."""
    out: dict[str, object] = {}
    for name, content in files.items():
        if name.endswith("MANIFEST.json"):
            manifest = json.loads(content)
            assert manifest.pop("updated", None), f"{name} has no 'updated' key"
            out[name] = manifest
        else:
            out[name] = content
    return out

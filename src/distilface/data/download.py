"""Fetch the benchmark's data with sha256 checks, or copy it from a local mirror.

One *source* (an entry of ``config/sources.yaml``, schema ``config/sources.schema.yaml``) is
one download: a single file or a tar archive of which only the listed files are kept. The
same data may sit in a local *mirror* laid out like ``../shared/data``; when a mirror is
given nothing is downloaded, the needed files are copied (never linked) and verified.

Every output appears atomically: files are written under a temporary name in the target
folder and renamed into place, so an interrupted run leaves nothing at the final path.
Each materialised source gets a ``MANIFEST.json`` (file -> sha256, bytes, origin).

Snakemake usage (one rule per source)::

    from distilface.data.download import materialize
    materialize("senteval", config["sources"]["senteval"], config["data"]["root"],
                mirror=config["data"]["mirror"])
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from tqdm.auto import tqdm

from distilface.core.io import replace, temp_sibling, write_json_atomic
from distilface.core.logs import log_event

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DEFAULT_TIMEOUT_S = 60.0
VERIFY_MODES = ("sha256", "files", "record")
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "config" / "sources.schema.yaml"
#: What to add to the snakemake command line to use a local mirror (the README's form; the
#: test runs exactly this). ``data`` is merged into the config file's ``data:`` section.
MIRROR_CONFIG = """--config 'data={"mirror": "../shared/data", "root": "results/data"}'"""
#: The environment variable that names a mirror when the config's ``data.mirror`` is null
#: (the Makefile sets it to ``../shared/data`` when that folder exists).
MIRROR_ENV = "DISTILFACE_MIRROR"
MIRROR_HINT = (
    "offline? set data.mirror to a local copy laid out like ../shared/data (senteval/, corpus/,"
    f" nli/): in the config, as {MIRROR_ENV}=DIR in the environment, or add to the snakemake "
    f"command {MIRROR_CONFIG}"
)


class DownloadError(RuntimeError):
    """A download failed (network, HTTP status, truncated stream) or was refused."""


class ChecksumError(DownloadError):
    """A file's sha256 differs from the pinned one."""

    def __init__(self, origin: str, expected: str, actual: str) -> None:
        super().__init__(f"sha256 mismatch for {origin}: expected {expected}, got {actual}")
        self.origin, self.expected, self.actual = origin, expected, actual


class MirrorError(FileNotFoundError):
    """A file the mirror should hold is missing."""


def resolve_mirror(
    configured: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> str | None:
    """The data mirror a run uses: the config's ``data.mirror`` when set, else
    ``$DISTILFACE_MIRROR`` when set and non-empty, else None (download from the upstream URLs).

    The result is an absolute path, resolved against the working folder, so a job started
    elsewhere (SLURM, ``--directory``) reads the same folder. With ``must_exist`` a mirror that
    is named but is not a folder is an error naming where it was named, as given and as
    resolved; without it (the Snakefile: a dry run of a config for another machine must plan)
    the data job that reads the mirror fails with the resolved path instead. Never a silent
    fall-back to the network."""
    environ = os.environ if environ is None else environ
    if configured is not None and str(configured).strip() in ("", "null", "None"):
        raise MirrorError(
            f"data.mirror = {str(configured)!r}: an empty or 'null' string; write null (YAML) "
            "for no mirror, or a folder"
        )
    where, value = "data.mirror", configured
    if value is None and environ.get(MIRROR_ENV):
        where, value = MIRROR_ENV, environ[MIRROR_ENV]
    if value is None:
        return None
    resolved = Path(value).expanduser().resolve()
    if must_exist and not resolved.is_dir():
        raise MirrorError(
            f"{where} = {str(value)!r} (resolved against {Path.cwd()}: {resolved}) is not a folder"
        )
    return str(resolved)


class SourceConfigError(ValueError):
    """An entry of config/sources.yaml is inconsistent."""


def _log(event: str, **fields: Any) -> None:
    """One structured log record (JSON lines via :mod:`distilface.core.logs`)."""
    log_event(log, event, **fields)


def _copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
    """Copy a stream, returning (sha256, bytes)."""
    h, n = hashlib.sha256(), 0
    while chunk := src.read(CHUNK):
        dst.write(chunk)
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None,
    *,
    allow_unpinned: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> str:
    """Download ``url`` to ``dest``, verifying its sha256; return the sha256 of the bytes.

    The body is streamed to a temporary file in ``dest``'s folder and hashed while written;
    only a complete, matching download is renamed to ``dest``. A truncated stream, a network
    error or a checksum mismatch deletes the temporary file and raises. ``sha256=None`` is
    refused unless ``allow_unpinned`` (the caller then records the returned checksum).
    """
    dest = Path(dest)
    if sha256 is None and not allow_unpinned:
        raise DownloadError(f"refusing to download {url} without a sha256 (pin one)")
    expected = sha256.lower() if sha256 else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(dest, ".part")
    try:
        actual = _stream_to(url, tmp, timeout=timeout, progress=progress)
        if expected is not None and actual != expected:
            raise ChecksumError(url, expected, actual)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _log("fetched", url=url, dest=str(dest), sha256=actual, pinned=expected is not None)
    return actual


def _stream_to(url: str, path: Path, *, timeout: float, progress: bool) -> str:
    """Stream ``url`` into a new file ``path`` (the umask's permissions); return its sha256.
    Network failures -> DownloadError."""
    request = urllib.request.Request(url, headers={"User-Agent": "distilface-bench"})
    h, got = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp, open(path, "xb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=Path(url).name, disable=not progress
            ) as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
        raise DownloadError(f"could not download {url}: {e!r}; {MIRROR_HINT}") from e
    if total is not None and got != total:
        raise DownloadError(f"download of {url} interrupted: {got} of {total} bytes; {MIRROR_HINT}")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# source entries


def _safe_relpath(value: str, where: str) -> PurePosixPath:
    """A relative POSIX path with no ``..``/absolute/backslash parts, else SourceConfigError."""
    p = PurePosixPath(value)
    if not value or "\\" in value or p.is_absolute() or ".." in p.parts or p.parts[:1] == (".",):
        raise SourceConfigError(f"{where}: unsafe or empty relative path {value!r}")
    return p


def verify_mode(name: str, cfg: Mapping[str, Any]) -> str:
    """Check one source entry and return its verification mode (see the schema).

    ``sha256: null`` needs an explicit ``verify: files`` (archive with per-file checksums) or
    ``verify: record`` (trust on first use); anything else is a SourceConfigError naming the key.
    """
    key = f"sources.{name}"
    for field in ("url", "dest", "archive", "mirror"):
        if field not in cfg:
            raise SourceConfigError(f"{key}.{field} is missing")
    if cfg["archive"] not in ("tar", "none"):
        raise SourceConfigError(f"{key}.archive must be 'tar' or 'none', not {cfg['archive']!r}")
    _safe_relpath(str(cfg["dest"]), f"{key}.dest")
    _safe_relpath(str(cfg["mirror"].get("path", "")), f"{key}.mirror.path")
    mode = cfg.get("verify") or ("sha256" if cfg.get("sha256") else None)
    if mode is None:
        raise SourceConfigError(
            f"{key}.sha256 is null: pin it, or say explicitly `verify: files` (archive with "
            "per-file checksums) or `verify: record` (trust on first use)"
        )
    if mode not in VERIFY_MODES:
        raise SourceConfigError(f"{key}.verify must be one of {VERIFY_MODES}, not {mode!r}")
    if mode == "sha256" and not cfg.get("sha256"):
        raise SourceConfigError(f"{key}: verify is 'sha256' but sha256 is null")
    if cfg["archive"] == "tar":
        files = cfg.get("files") or {}
        if not files:
            raise SourceConfigError(f"{key}.files must list the archive's files and sha256s")
        for rel in files:
            _safe_relpath(str(rel), f"{key}.files")
    elif mode == "files":
        raise SourceConfigError(f"{key}: verify 'files' needs archive 'tar'")
    elif not cfg["mirror"].get("sha256"):
        raise SourceConfigError(f"{key}.mirror.sha256 is missing")
    return mode


def validate_sources(config: Mapping[str, Any], schema_path: Path = SCHEMA_PATH) -> None:
    """Validate ``{"sources": {...}}`` against the JSON schema, then each entry's rules."""
    # lazy: only a sources file check needs them
    import jsonschema
    import yaml

    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    try:
        jsonschema.validate({"sources": config.get("sources")}, schema)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) or "sources"
        raise SourceConfigError(f"{where}: {e.message} (schema {schema_path})") from e
    for name, cfg in config["sources"].items():
        verify_mode(name, cfg)


def source_output(name: str, cfg: Mapping[str, Any], root: str | os.PathLike[str]) -> Path:
    """The final output path of a source under ``root`` (``data.root``)."""
    return Path(root) / _safe_relpath(str(cfg["dest"]), f"sources.{name}.dest")


# ---------------------------------------------------------------------------------------------
# materialisation


def materialize(
    name: str,
    source_cfg: Mapping[str, Any],
    dest_dir: str | os.PathLike[str],
    mirror: str | os.PathLike[str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Make one source available under ``dest_dir`` (``data.root``) and return its path.

    With ``mirror`` the files are copied from ``mirror/<mirror.path>`` and verified; otherwise
    the URL is downloaded (tar archives: only the listed files are extracted, by name, so no
    member can write outside the output). The result is built in a temporary folder beside
    the output and renamed into place; a failure leaves nothing at the final path.
    """
    mode = verify_mode(name, source_cfg)
    final = source_output(name, source_cfg, dest_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    build = temp_sibling(final)
    build.mkdir()
    try:
        out = build / final.name
        if mirror is not None:
            records = _from_mirror(name, source_cfg, out, Path(mirror))
        else:
            records = _from_url(name, source_cfg, mode, out, build, timeout)
        if source_cfg["archive"] == "tar":
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            write_json_atomic(
                out / "MANIFEST.json", {"files": records, "updated": stamp}, sort_keys=True
            )
            replace(out, final)
        else:
            replace(out, final)
            _merge_manifest(final.parent / "MANIFEST.json", records)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    _log("materialized", source=name, path=str(final), files=len(records), mirror=mirror)
    return final


def materialize_output(
    name: str,
    source_cfg: Mapping[str, Any],
    output: str | os.PathLike[str],
    mirror: str | os.PathLike[str] | None = None,
) -> Path:
    """:func:`materialize` for a Snakemake rule whose output is the source's final path.

    ``output`` must end with the source's ``dest`` (e.g. ``results/data/senteval``); the data
    root is what precedes it. Returns ``output``.
    """
    output = Path(output)
    dest = _safe_relpath(str(source_cfg["dest"]), f"sources.{name}.dest")
    if PurePosixPath(output.as_posix()).parts[-len(dest.parts) :] != dest.parts:
        raise SourceConfigError(f"output {output} does not end with sources.{name}.dest = {dest}")
    root = output.parents[len(dest.parts) - 1]
    path = materialize(name, source_cfg, root, mirror=mirror)
    assert path == output, (path, output)
    return path


def _record(sha: str, n: int, name: str, origin: str, verified: bool) -> dict[str, Any]:
    return {"sha256": sha, "bytes": n, "source": name, "origin": origin, "verified": verified}


def _from_mirror(
    name: str, cfg: Mapping[str, Any], out: Path, mirror: Path
) -> dict[str, dict[str, Any]]:
    """Copy + verify the source's files from the mirror into ``out`` (folder or file)."""
    if not mirror.is_dir():
        raise MirrorError(
            f"data mirror {str(mirror)!r} (resolved: {mirror.resolve()}) is not a folder "
            f"(named by data.mirror or ${MIRROR_ENV})"
        )
    base = mirror / cfg["mirror"]["path"]
    if cfg["archive"] == "tar":
        jobs = [(base / rel, out / rel, rel, sha) for rel, sha in cfg["files"].items()]
    else:
        jobs = [(base, out, out.name, cfg["mirror"]["sha256"])]
    records = {}
    for src, dst, rel, expected in tqdm(jobs, desc=f"mirror {name}", disable=len(jobs) < 10):
        if not src.is_file():
            raise MirrorError(
                f"{src}: missing from the mirror (data.mirror = {str(mirror)!r}, "
                f"sources.{name}.mirror.path = {cfg['mirror']['path']!r})"
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fi, open(dst, "wb") as fo:
            sha, n = _copy_hashing(fi, fo)
        if sha != expected.lower():
            raise ChecksumError(str(src), expected, sha)
        records[str(rel)] = _record(sha, n, name, str(src.resolve()), True)
    return records


def _from_url(
    name: str, cfg: Mapping[str, Any], mode: str, out: Path, build: Path, timeout: float
) -> dict[str, dict[str, Any]]:
    """Download (and for archives extract) the source into ``out``."""
    url, pinned = cfg["url"], cfg.get("sha256")
    if cfg["archive"] == "none":
        sha = fetch(url, out, pinned, allow_unpinned=mode == "record", timeout=timeout)
        if mode == "record":
            hint = f"pin it as sources.{name}.sha256 in config/sources.yaml"
            log.warning(
                "unpinned_download",
                extra={"data": {"source": name, "url": url, "sha256": sha, "hint": hint}},
            )
        return {out.name: _record(sha, out.stat().st_size, name, url, mode != "record")}
    archive = build / f"download{Path(url).suffix or '.tar'}"
    sha = fetch(url, archive, pinned, allow_unpinned=mode in ("files", "record"), timeout=timeout)
    records = extract_tar(archive, cfg["files"], out, origin=url, source=name)
    archive.unlink()
    _log("archive", source=name, url=url, sha256=sha, pinned=pinned is not None)
    return records


def extract_tar(
    archive: Path, files: Mapping[str, str], out: Path, *, origin: str, source: str
) -> dict[str, dict[str, Any]]:
    """Extract exactly ``files`` ({relative path: sha256}) from a tar into ``out``.

    Members are looked up by name and only regular files are read (links, devices and
    anything else are refused); each is written to ``out/<relative path>`` from the config,
    never to a path taken from the archive, then its sha256 is checked. The archive may hold
    the files under one extra top folder (e.g. ``senteval/STS/...``); it is detected.
    """
    with tarfile.open(archive, "r:*") as tf:
        members = {m.name.removeprefix("./"): m for m in tf.getmembers()}
        prefix = _archive_prefix(members, next(iter(files)), archive)
        records = {}
        for rel, expected in tqdm(files.items(), desc=f"extract {source}", disable=len(files) < 10):
            _safe_relpath(rel, f"sources.{source}.files")
            member = members.get(prefix + rel)
            if member is None:
                raise DownloadError(f"{origin}: archive has no member {prefix + rel!r}")
            if not member.isfile():
                raise DownloadError(f"{origin}: member {member.name!r} is not a regular file")
            dst = out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None  # regular files always have a stream
            with src, open(dst, "wb") as fo:
                sha, n = _copy_hashing(src, fo)
            if sha != expected.lower():
                raise ChecksumError(f"{origin}!{member.name}", expected, sha)
            records[rel] = _record(sha, n, source, f"{origin}!{member.name}", True)
    return records


def _archive_prefix(members: Mapping[str, tarfile.TarInfo], first: str, archive: Path) -> str:
    """The folder prefix ('' or 'x/') under which the archive holds the configured files."""
    if first in members:
        return ""
    hits = [n[: -len(first)] for n in members if n.endswith("/" + first)]
    if len(hits) != 1:
        raise DownloadError(f"{archive}: cannot locate {first!r} in the archive (matches: {hits})")
    return hits[0]


def _merge_manifest(path: Path, records: Mapping[str, Any]) -> None:
    """Add/replace ``records`` in a folder's MANIFEST.json (several file sources may share it)."""
    payload: dict[str, Any] = {"files": {}}
    if path.is_file():
        payload = json.loads(path.read_text(encoding="utf-8"))
    payload.setdefault("files", {}).update(records)
    payload["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_json_atomic(path, payload, sort_keys=True)

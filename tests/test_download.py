"""Download, checksum, mirror copy and atomic materialisation (local HTTP server, no network)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from distilface.data import download as dl
from distilface.data.readers import STS_DIRS, STS_SUBSETS


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Server:
    """A tiny HTTP server on 127.0.0.1: ``routes[path] = body``; ``/truncated`` lies about size."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                if self.path == "/truncated":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"x" * 1000)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                body = routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


def _leftovers(folder: Path) -> list[str]:
    """Hidden temp files/folders the code may have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# fetch


def test_fetch_good_file(server: _Server, tmp_path: Path) -> None:
    body = b"hello\tworld\n" * 1000
    server.routes["/f.txt"] = body
    dest = tmp_path / "out" / "f.txt"
    got = dl.fetch(f"{server.base}/f.txt", dest, _sha(body), progress=False)
    assert got == _sha(body)
    assert dest.read_bytes() == body
    assert _leftovers(dest.parent) == []


def test_fetch_checksum_mismatch_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    server.routes["/f.txt"] = b"corrupted"
    dest = tmp_path / "f.txt"
    url = f"{server.base}/f.txt"
    with pytest.raises(dl.ChecksumError) as exc:
        dl.fetch(url, dest, "0" * 64, progress=False)
    msg = str(exc.value)
    assert url in msg and "0" * 64 in msg and _sha(b"corrupted") in msg
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_fetch_interrupted_stream_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "big.bin"
    with pytest.raises(dl.DownloadError, match="truncated|interrupted|IncompleteRead"):
        dl.fetch(f"{server.base}/truncated", dest, "0" * 64, progress=False)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


class _FailingResponse(io.BytesIO):
    """A response that delivers two chunks, then the connection resets."""

    headers = {"Content-Length": str(10 * 1024)}

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def read(self, size: int | None = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise ConnectionResetError("peer reset")
        return b"z" * 1024


def test_fetch_interrupted_midway_by_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that raises part-way (connection reset) removes the partial file."""
    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda *a, **k: _FailingResponse())
    with pytest.raises(dl.DownloadError, match="peer reset.*data.mirror"):
        dl.fetch("http://example.invalid/z", tmp_path / "z", "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_fetch_network_failure_points_to_mirror(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError, match="data.mirror"):
        dl.fetch(f"{server.base}/missing", tmp_path / "m", "0" * 64, progress=False)
    port = server.httpd.server_address[1]
    server.close()  # nothing listens on the port any more
    with pytest.raises(dl.DownloadError, match="data.mirror"):
        dl.fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 64, timeout=5, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_unpinned(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError, match="without a sha256"):
        dl.fetch("http://127.0.0.1:9/x", tmp_path / "x", None)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# source entries


def _file_source(mirror_rel: str, sha: str | None, url: str = "http://127.0.0.1:9/f") -> dict:
    return {
        "url": url,
        "sha256": sha,
        "archive": "none",
        "dest": "corpus/out.txt",
        "mirror": {"path": mirror_rel, "sha256": sha or "0" * 64},
    }


def _tar_source(files: dict[str, bytes], url: str = "http://127.0.0.1:9/a.tar") -> dict:
    return {
        "url": url,
        "sha256": None,
        "archive": "tar",
        "verify": "files",
        "dest": "senteval",
        "mirror": {"path": "senteval"},
        "files": {rel: _sha(body) for rel, body in files.items()},
    }


def test_unpinned_source_needs_explicit_verify() -> None:
    cfg = _file_source("corpus/a.txt", None)
    with pytest.raises(dl.SourceConfigError, match=r"sources\.wiki\.sha256 is null"):
        dl.verify_mode("wiki", cfg)
    cfg["verify"] = "record"
    assert dl.verify_mode("wiki", cfg) == "record"
    cfg["verify"] = "files"
    with pytest.raises(dl.SourceConfigError, match="needs archive 'tar'"):
        dl.verify_mode("wiki", cfg)


def test_unsafe_paths_refused() -> None:
    cfg = _tar_source({"../escape.txt": b"x"})
    with pytest.raises(dl.SourceConfigError, match="unsafe"):
        dl.verify_mode("s", cfg)
    cfg = _file_source("corpus/a.txt", "0" * 64)
    cfg["dest"] = "/etc/passwd"
    with pytest.raises(dl.SourceConfigError, match=r"sources\.s\.dest"):
        dl.verify_mode("s", cfg)


def test_real_sources_config_is_valid(sources_config: dict) -> None:
    dl.validate_sources(sources_config)
    modes = {n: dl.verify_mode(n, c) for n, c in sources_config["sources"].items()}
    assert modes == {"senteval": "files", "wiki1m": "record", "nli": "record"}
    files = sources_config["sources"]["senteval"]["files"]
    for year, subsets in STS_SUBSETS.items():
        for subset in subsets:
            for kind in ("input", "gs"):
                assert f"{STS_DIRS[year]}/STS.{kind}.{subset}.txt" in files
    broken = copy.deepcopy(sources_config)
    del broken["sources"]["wiki1m"]["verify"]
    with pytest.raises(dl.SourceConfigError, match="wiki1m"):
        dl.validate_sources(broken)


# ---------------------------------------------------------------------------------------------
# materialize from a mirror


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)


FILES = {"STS/STS12-en-test/STS.gs.x.txt": b"1.0\n", "SICK/SICK_train.txt": b"h\n"}


def test_materialize_mirror_copies_and_verifies(tmp_path: Path) -> None:
    mirror, out = tmp_path / "mirror", tmp_path / "data"
    _write(mirror / "senteval", {**FILES, "STS/unlisted.txt": b"not needed"})
    _write(mirror, {"corpus/head.txt": b"a sentence\n"})
    path = dl.materialize("senteval", _tar_source(FILES), out, mirror=mirror)
    assert path == out / "senteval"
    for rel, body in FILES.items():
        assert (path / rel).read_bytes() == body
        assert not (path / rel).is_symlink()
    assert not (path / "STS/unlisted.txt").exists()
    manifest = json.loads((path / "MANIFEST.json").read_text())
    assert manifest["files"][next(iter(FILES))]["sha256"] == _sha(b"1.0\n")
    assert manifest["files"]["SICK/SICK_train.txt"]["origin"].endswith("SICK/SICK_train.txt")

    corpus = dl.materialize(
        "wiki1m", _file_source("corpus/head.txt", _sha(b"a sentence\n")), out, mirror=mirror
    )
    assert corpus == out / "corpus" / "out.txt" and corpus.read_bytes() == b"a sentence\n"
    m2 = json.loads((out / "corpus" / "MANIFEST.json").read_text())
    assert m2["files"]["out.txt"]["verified"] is True
    assert _leftovers(out) == [] and _leftovers(out / "corpus") == []


def test_materialize_mirror_corrupt_file_leaves_nothing(tmp_path: Path) -> None:
    mirror, out = tmp_path / "mirror", tmp_path / "data"
    _write(mirror / "senteval", {**FILES, "SICK/SICK_train.txt": b"tampered\n"})
    with pytest.raises(dl.ChecksumError, match="SICK_train.txt"):
        dl.materialize("senteval", _tar_source(FILES), out, mirror=mirror)
    assert not (out / "senteval").exists()
    assert _leftovers(out) == []


def test_materialize_mirror_missing_file_names_key(tmp_path: Path) -> None:
    mirror, out = tmp_path / "mirror", tmp_path / "data"
    _write(mirror / "senteval", {"SICK/SICK_train.txt": b"h\n"})
    with pytest.raises(dl.MirrorError, match=r"STS\.gs\.x\.txt.*data\.mirror"):
        dl.materialize("senteval", _tar_source(FILES), out, mirror=mirror)
    with pytest.raises(dl.MirrorError, match="data.mirror"):
        dl.materialize("senteval", _tar_source(FILES), out, mirror=tmp_path / "nope")
    assert not (out / "senteval").exists()


def test_materialize_replaces_previous_output(tmp_path: Path) -> None:
    mirror, out = tmp_path / "mirror", tmp_path / "data"
    _write(mirror / "senteval", FILES)
    (out / "senteval").mkdir(parents=True)
    (out / "senteval" / "stale.txt").write_text("old run")
    path = dl.materialize("senteval", _tar_source(FILES), out, mirror=mirror)
    assert not (path / "stale.txt").exists()
    assert (path / "SICK/SICK_train.txt").read_bytes() == b"h\n"
    assert _leftovers(out) == []


# ---------------------------------------------------------------------------------------------
# materialize from the internet (local server)


def _tar_bytes(files: dict[str, bytes], prefix: str = "", symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for rel, body in files.items():
            info = tarfile.TarInfo(prefix + rel)
            if rel == symlink:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tf.addfile(info)
                continue
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
        extra = tarfile.TarInfo(prefix + "SNLI/huge.txt")
        extra.size = 3
        tf.addfile(extra, io.BytesIO(b"abc"))
    return buf.getvalue()


@pytest.mark.parametrize("prefix", ["", "senteval/"])
def test_materialize_download_tar_extracts_listed_files(
    server: _Server, tmp_path: Path, prefix: str
) -> None:
    server.routes["/senteval.tar"] = _tar_bytes(FILES, prefix)
    cfg = _tar_source(FILES, url=f"{server.base}/senteval.tar")
    path = dl.materialize("senteval", cfg, tmp_path)
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) == sorted(
        [*FILES, "MANIFEST.json"]
    )
    assert (path / "STS/STS12-en-test/STS.gs.x.txt").read_bytes() == b"1.0\n"
    assert _leftovers(tmp_path) == []


def test_materialize_download_tar_refuses_links_and_bad_members(
    server: _Server, tmp_path: Path
) -> None:
    server.routes["/link.tar"] = _tar_bytes(FILES, symlink="SICK/SICK_train.txt")
    with pytest.raises(dl.DownloadError, match="not a regular file"):
        dl.materialize("senteval", _tar_source(FILES, url=f"{server.base}/link.tar"), tmp_path)
    bad = {**FILES, "SICK/SICK_train.txt": b"other bytes\n"}
    server.routes["/bad.tar"] = _tar_bytes(bad)
    with pytest.raises(dl.ChecksumError, match="SICK_train.txt"):
        dl.materialize("senteval", _tar_source(FILES, url=f"{server.base}/bad.tar"), tmp_path)
    assert not (tmp_path / "senteval").exists()
    assert _leftovers(tmp_path) == []


def test_materialize_download_record_mode(
    server: _Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"first sentence\nsecond\n"
    server.routes["/wiki.txt"] = body
    cfg = {**_file_source("corpus/h.txt", None, url=f"{server.base}/wiki.txt"), "verify": "record"}
    with caplog.at_level(logging.WARNING, logger="distilface.data.download"):
        path = dl.materialize("wiki1m", cfg, tmp_path)
    warning = next(r for r in caplog.records if r.getMessage() == "unpinned_download")
    assert warning.data["sha256"] == _sha(body) and "sources.wiki1m.sha256" in warning.data["hint"]
    assert path.read_bytes() == body
    record = json.loads((path.parent / "MANIFEST.json").read_text())["files"]["out.txt"]
    assert record["sha256"] == _sha(body) and record["verified"] is False
    assert record["origin"] == cfg["url"]


def test_materialize_output_for_snakemake(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    _write(mirror, {"corpus/head.txt": b"s\n"})
    cfg = _file_source("corpus/head.txt", _sha(b"s\n"))
    output = tmp_path / "results" / "data" / "corpus" / "out.txt"
    assert dl.materialize_output("wiki1m", cfg, output, mirror=mirror) == output
    assert output.read_bytes() == b"s\n"
    with pytest.raises(dl.SourceConfigError, match=r"does not end with sources\.wiki1m\.dest"):
        dl.materialize_output("wiki1m", cfg, tmp_path / "elsewhere.txt", mirror=mirror)

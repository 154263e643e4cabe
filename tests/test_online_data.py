"""The data rules without a mirror: every source fetched from its upstream URL path, served by a
local HTTP server standing in for the upstream host, verified and materialised (issue 19).

The server serves the real files of ``../shared/data`` under the URL paths of
config/sources.yaml (the SentEval files packed as the upstream ``senteval.tar``); the sources
file given to the workflow is config/sources.yaml with only the host rewritten, so the same
checksums are checked as for the real download."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from snake import OFFLINE_ENV, REPO, snakemake

from distilface.data.download import MIRROR_ENV, MirrorError, materialize, resolve_mirror

UPSTREAM = "https://huggingface.co"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def upstream(tmp_path: Path, shared_data: Path) -> Iterator[str]:
    """A folder laid out like the upstream host's URL paths, served on 127.0.0.1."""
    sources = yaml.safe_load((REPO / "config/sources.yaml").read_text())["sources"]
    site = tmp_path / "site"
    for src in sources.values():
        dest = site / urlparse(src["url"]).path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        mirrored = shared_data / src["mirror"]["path"]
        if src["archive"] == "tar":  # the upstream archive: senteval/<listed files>
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                for rel in src["files"]:
                    tf.add(mirrored / rel, arcname=f"senteval/{rel}")
            dest.write_bytes(buf.getvalue())
        else:
            dest.write_bytes(mirrored.read_bytes())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_quick_config_data_rules_download_verify_and_materialise(upstream, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    text = (REPO / "config/sources.yaml").read_text().replace(UPSTREAM, upstream)
    (work / "sources.yaml").write_text(text)
    quick = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    assert quick["data"]["mirror"] is None  # the quick config names no mirror
    quick["sources_file"] = str(work / "sources.yaml")
    (work / "quick.yaml").write_text(yaml.safe_dump(quick))
    env = {k: v for k, v in OFFLINE_ENV.items() if k != MIRROR_ENV}  # no mirror anywhere
    targets = [
        "results/data/senteval",
        "results/data/corpus/wiki1m_for_simcse.txt",
        "results/data/nli/nli_for_simcse.csv",
        "results/data/corpus/stsb_sick_train_sentences.txt",
        "results/data/nli/sick_train_triplets.csv",
    ]
    res = snakemake([*targets, "--cores", "2", "--configfile", "quick.yaml"], work, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    senteval = work / "results/data/senteval"
    manifest = json.loads((senteval / "MANIFEST.json").read_text())["files"]
    assert len(manifest) == 54 and all(r["verified"] for r in manifest.values())
    assert all(r["origin"].startswith(upstream) for r in manifest.values())
    sick = (senteval / "SICK/SICK_train.txt").read_bytes()
    assert sick == (REPO.parent / "shared/data/senteval/SICK/SICK_train.txt").read_bytes()
    corpus = (work / "results/data/corpus/wiki1m_for_simcse.txt").read_text().splitlines()
    assert len(corpus) == 11913
    assert len((work / "results/data/corpus/stsb_sick_train_sentences.txt").read_text().split(
        "\n"
    )) > 15000  # fmt: skip
    # the unpinned single files were accepted on first use and their sha256 recorded
    log = (work / "results/logs/data/wiki1m.jsonl").read_text()
    assert upstream in log and "sha256" in log


def test_a_named_mirror_that_is_missing_names_the_path_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MirrorError, match=f"data.mirror = 'nope'.*{tmp_path}/nope"):
        resolve_mirror("nope", environ={}, must_exist=True)
    with pytest.raises(MirrorError, match=f"{MIRROR_ENV} = 'gone'.*{tmp_path}/gone"):
        resolve_mirror(None, environ={MIRROR_ENV: "gone"}, must_exist=True)
    # without must_exist (the Snakefile's parse) the path is resolved, and the data job that
    # reads it names the resolved folder
    assert resolve_mirror("nope", environ={}) == str(tmp_path / "nope")
    src = {"archive": "none", "dest": "corpus/x.txt", "url": "http://127.0.0.1:9/x",
           "sha256": "0" * 64, "mirror": {"path": "corpus/x.txt", "sha256": "0" * 64}}  # fmt: skip
    with pytest.raises(MirrorError, match=f"resolved: {tmp_path}/nope.*not a folder"):
        materialize("x", src, tmp_path / "out", mirror=resolve_mirror("nope", environ={}))
    with pytest.raises(MirrorError, match="'null' string"):
        resolve_mirror("null", environ={})
    (tmp_path / "m").mkdir()
    assert resolve_mirror(None, environ={MIRROR_ENV: "m"}) == str(tmp_path / "m")
    assert resolve_mirror("m", environ={MIRROR_ENV: "other"}) == str(tmp_path / "m")
    assert resolve_mirror(None, environ={MIRROR_ENV: ""}) is None
    assert resolve_mirror(None, environ={}) is None
    assert os.environ.get(MIRROR_ENV, "") != "nope"

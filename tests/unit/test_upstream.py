"""Training sources from public upstream files: each format's reader on hand-written files, the derivation rules,
finding a pinned file (mirror, cache, raw URL over a real loopback HTTP server), and the public path proved byte for
byte: the whole catalogue served over loopback at the raw URLs' paths gives the same combined.csv as the mirror."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.servers import free_port

from ytsentiment import YtSentimentError
from ytsentiment.config import Source, SourceFile, load_params
from ytsentiment.stages import ingest
from ytsentiment.upstream import READERS, Found, derive, fetch_pinned

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source(fmt: str = "csv", files=(), **over) -> Source:
    values = {"name": "tiny", "group": "human", "format": fmt, "files": tuple(files),
              "labels": {"negative": -1, "neutral": 0, "positive": 1}}
    values.update(over)
    return Source(**values)


def _read(fmt: str, tmp_path: Path, contents: dict[str, bytes], **over) -> pd.DataFrame:
    found = []
    for name, data in contents.items():
        path = tmp_path / name
        path.write_bytes(data)
        found.append(Found(path, str(path), _sha(data)))
    return READERS[fmt](_source(fmt, **over), found)


# ---- readers -------------------------------------------------------------------------------------------------------

def test_semeval_tsv_escapes_entities_quoting_and_trailing_columns(tmp_path):
    data = (b"1\tpositive\tI\\u2019m in\\u002c see you Sat &amp; Sun :)\n"
            b'2\tnegative\t"He said ""no"", twice"\n'
            b'3\tneutral\t"Yeah, I\'d... http://t.co/x\n'
            b"4\tneutral\tdated\tMon Dec 28 2015\t\n"
            b"5\tpositive\tlast line, no newline")
    rows = _read("semeval_tsv", tmp_path, {"a.tsv": data})
    assert rows.values.tolist() == [
        ["I’m in, see you Sat & Sun :)", "positive"],
        ['He said "no", twice', "negative"],  # one whole CSV-quoted field: unquoted once
        ['"Yeah, I\'d... http://t.co/x', "neutral"],  # a stray quote stays
        ["dated", "neutral"],
        ["last line, no newline", "positive"],
    ]


def test_semeval_tsv_line_without_a_text_names_the_line(tmp_path):
    with pytest.raises(YtSentimentError, match=r"a.tsv line 2 has 2 tab-separated fields"):
        _read("semeval_tsv", tmp_path, {"a.tsv": b"1\tpositive\tok\n2\tneutral\n"})


def test_goemotions_groups_and_multi_label_rows(tmp_path):
    rows = _read("goemotions_tsv", tmp_path, {
        "train.tsv": b"so good\t3\tid1\nugh, fine\t1,3\tid2\nhm\t0\tid3\nwhat\t2,2\tid4\n",
        "labels.txt": b"ambiguous\nnegative\nneutral\npositive",
    })
    assert rows.values.tolist() == [["so good", "positive"], ["ugh, fine", "negative+positive"],
                                    ["hm", "ambiguous"], ["what", "neutral"]]
    with pytest.raises(YtSentimentError, match="needs the file labels.txt"):
        _read("goemotions_tsv", tmp_path, {"dev.tsv": b"x\t1\tid\n"})


def test_vader_ground_truth_thresholds_the_mean_rating(tmp_path):
    data = b"1\t0.5\tat the threshold\r\n2\t0.49\tjust below\r\n3\t-0.5\tnegative edge\r\n4\t-3.75\tawful"
    rows = _read("vader_ground_truth", tmp_path, {"t.txt": data}, read={"threshold": 0.5})
    assert rows["label"].tolist() == ["positive", "neutral", "negative", "negative"]
    assert rows["text"].tolist() == ["at the threshold", "just below", "negative edge", "awful"]


def test_deepmoji_pickle_loads_numpy_labels(tmp_path):
    data = pickle.dumps({"texts": ["love it", "hate it"], "info": [{"label": np.int64(1)}, {"label": np.int64(0)}],
                         "train_ind": [0], "val_ind": [], "test_ind": [1]}, protocol=3)
    rows = _read("deepmoji_pickle", tmp_path, {"raw.pickle": data}, labels={0: -1, 1: 1})
    assert rows.values.tolist() == [["love it", "1"], ["hate it", "0"]]


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_deepmoji_pickle_refuses_any_other_global(tmp_path):
    """A data file cannot run code: only the numpy types DeepMoji's files need are loaded."""
    data = pickle.dumps({"texts": ["x"], "info": [{"label": _Boom()}]}, protocol=0)
    with pytest.raises(YtSentimentError, match=r"refused to load (posix|os)\.system"):
        _read("deepmoji_pickle", tmp_path, {"raw.pickle": data})


def test_csv_reader_options_latin1_semicolons_and_a_title_line(tmp_path):
    data = "Title;;\nid;sentiment;text\n1;5;caf\xe9 ok\n2;not_relevant;spam\n".encode("latin-1")
    rows = _read("csv", tmp_path, {"a.csv": data}, read={"sep": ";", "skiprows": 1, "encoding": "latin-1"},
                 text_column="text", label_column="sentiment")
    assert rows.values.tolist() == [["café ok", "5"], ["spam", "not_relevant"]]
    with pytest.raises(YtSentimentError, match="not a readable CSV"):
        _read("csv", tmp_path, {"b.csv": data}, text_column="text", label_column="sentiment")


# ---- the derivation rules ------------------------------------------------------------------------------------------

def test_derive_majority_ties_whitespace_empties_and_dropped_labels():
    raw = pd.DataFrame([
        ("  great   video ", "positive"), ("great video", "positive"), ("great video", "negative"),  # 2:1
        ("meh", "neutral"), ("meh", "positive"),  # a tie: dropped
        ("   ", "neutral"),  # empty after collapsing
        ("off topic", "irrelevant"),
        ("bad", "negative"),
    ], columns=["text", "label"])
    rows, dropped = derive(_source(drop_labels=("irrelevant",)), raw)
    assert rows.values.tolist() == [["great video", 1], ["bad", -1]]  # first occurrence keeps its place
    assert dropped == {"labels_dropped": 1, "empty": 1, "repeats_merged": 3, "ties_dropped": 1}


def test_derive_numbers_in_any_spelling():
    raw = pd.DataFrame([("a", "4"), ("b", "0.0"), ("c", 4)], columns=["text", "label"])
    rows, _ = derive(_source(labels={0: -1, 4: 1}), raw)
    assert rows["label"].tolist() == [1, -1, 1]


# ---- finding a pinned file: mirror, cache, raw URL -----------------------------------------------------------------

@pytest.fixture
def http_files(tmp_path, monkeypatch):
    """Serve ``tmp_path/www`` over HTTP on 127.0.0.1 (port 0, http.server in a thread, stopped afterwards).

    Yields (folder, URL template for ingest.url, paths requested so far)."""
    folder = tmp_path / "www"
    folder.mkdir()
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_request(self, code="-", size="-"):  # once per request, whatever its status
            requested.append(self.path)

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature; keep stderr quiet
            pass

    for name in ("no_proxy", "NO_PROXY"):  # a proxy in the environment must not see loopback requests
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-http-files", daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/{{repo}}/{{commit}}/{{path}}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _publish(folder: Path, path: str, data: bytes) -> None:
    target = folder / "me" / "data" / COMMIT / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _pinned(path: str, sha256: str, **member) -> tuple[Source, SourceFile]:
    spec = SourceFile(path=path, sha256=sha256, **member)
    return _source(files=(spec,), repo="me/data", commit=COMMIT), spec


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("UPSTREAM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_mirror_first_then_download_cached_and_reused(tmp_path, http_files, cache):
    folder, url, requested = http_files
    data = b"text,label\nhi,positive\n"
    source, spec = _pinned("d/a.csv", _sha(data))
    mirror = tmp_path / "mirror"
    (mirror / "me" / "data" / "d").mkdir(parents=True)
    (mirror / "me" / "data" / "d" / "a.csv").write_bytes(data)
    assert fetch_pinned(source, spec, mirror, url).location == str(mirror / "me/data/d/a.csv")
    assert requested == []

    _publish(folder, "d/a.csv", data)
    found = fetch_pinned(source, spec, tmp_path / "no-mirror", url)
    assert found.location == url.format(repo="me/data", commit=COMMIT, path="d/a.csv")
    assert found.path == cache / "me" / "data" / COMMIT / "d" / "a.csv"
    assert requested == [f"/me/data/{COMMIT}/d/a.csv"]
    again = fetch_pinned(source, spec, tmp_path / "no-mirror", url)  # from the cache, no request
    assert again.path == found.path and len(requested) == 1

    found.path.write_bytes(b"tampered")  # a cached file that no longer matches is fetched again
    assert fetch_pinned(source, spec, tmp_path / "no-mirror", url).path.read_bytes() == data
    assert len(requested) == 2


def test_a_download_with_another_sha256_is_refused_and_not_cached(tmp_path, http_files, cache):
    folder, url, _ = http_files
    _publish(folder, "a.csv", b"changed upstream")
    source, spec = _pinned("a.csv", "ab" * 32)
    with pytest.raises(YtSentimentError, match="sha256 mismatch") as err:
        fetch_pinned(source, spec, tmp_path / "no-mirror", url)
    assert f"actual   {_sha(b'changed upstream')}" in str(err.value)
    assert not any(cache.rglob("a.csv"))


def test_a_mirror_file_with_other_bytes_is_not_used(tmp_path, http_files, cache):
    folder, url, requested = http_files
    data = b"right bytes"
    _publish(folder, "a.csv", data)
    mirror = tmp_path / "mirror"
    (mirror / "me" / "data").mkdir(parents=True)
    (mirror / "me" / "data" / "a.csv").write_bytes(b"wrong bytes")
    source, spec = _pinned("a.csv", _sha(data))
    assert fetch_pinned(source, spec, mirror, url).path.read_bytes() == data
    assert len(requested) == 1


def test_nothing_reachable_names_every_place_tried(tmp_path, cache):
    url = f"http://127.0.0.1:{free_port()}/{{repo}}/{{commit}}/{{path}}"  # nothing listens: refused at once
    source, spec = _pinned("a.csv", "0" * 64)
    with pytest.raises(YtSentimentError) as err:
        fetch_pinned(source, spec, tmp_path / "mirror", url)
    message = str(err.value)
    assert f"{tmp_path / 'mirror' / 'me/data/a.csv'}: no such file" in message
    assert url.format(repo="me/data", commit=COMMIT, path="a.csv") in message and "refused" in message.lower()
    assert "Fix:" in message


def _archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_an_archive_member_is_verified_as_the_archive_then_as_the_member(tmp_path, http_files, cache):
    folder, url, _ = http_files
    member = b"1\t2.5\tlovely\r\n"
    archive = _archive({"pkg/readme.txt": b"cite us", "pkg/truth.txt": member})
    _publish(folder, "res/pkg.tar.gz", archive)
    source, spec = _pinned("res/pkg.tar.gz", _sha(archive), member="pkg/truth.txt", member_sha256=_sha(member))
    found = fetch_pinned(source, spec, tmp_path / "no-mirror", url)
    assert found.path.read_bytes() == member and found.sha256 == _sha(member)

    wrong = dataclasses.replace(spec, member_sha256="0" * 64)
    (found.path).unlink()
    with pytest.raises(YtSentimentError, match="member pkg/truth.txt has sha256"):
        fetch_pinned(source, wrong, tmp_path / "no-mirror", url)
    missing = dataclasses.replace(spec, member="pkg/nope.txt")
    with pytest.raises(YtSentimentError, match="no file member 'pkg/nope.txt'"):
        fetch_pinned(source, missing, tmp_path / "no-mirror", url)


# ---- the public path, byte for byte ---------------------------------------------------------------------------------

def test_every_source_over_loopback_urls_gives_the_mirror_s_bytes(tmp_path, http_files, monkeypatch):
    """No mirror at all: every upstream file is served at its raw URL's path on loopback, and the ingest stage must
    write exactly the combined.csv it writes from the files as found today (the mirror here; the download cache
    where there is no mirror, as on GitHub). The mirror keeps only the VADER archive's member, so the archive served
    here is built around the real member: the member's pinned sha256 is still checked, the archive's is the built
    one's."""
    folder, url, requested = http_files
    params = load_params(REPO / "params.yaml")
    mirror = str((REPO / params.ingest.mirror).resolve())
    sources = [s for s in params.ingest.sources if not s.optional]
    local, _ = ingest.ingest(sources, params.seed, mirror, params.ingest.url)
    served = []
    for source in sources:
        files = []
        for spec in source.files:
            found = fetch_pinned(source, spec, Path(mirror), params.ingest.url)  # the verified bytes read above
            target = folder / source.repo / source.commit / spec.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if spec.member:
                archive = _archive({spec.member: found.path.read_bytes()})
                target.write_bytes(archive)
                spec = dataclasses.replace(spec, sha256=_sha(archive))
            else:
                target.symlink_to(found.path)
            files.append(spec)
        served.append(dataclasses.replace(source, files=tuple(files)))

    monkeypatch.setenv("UPSTREAM_CACHE_DIR", str(tmp_path / "empty-cache"))
    from_urls, provenance = ingest.ingest(served, params.seed, str(tmp_path / "no-mirror"), url)
    assert len(requested) == sum(len(s.files) for s in served)
    assert all(f["location"].startswith("http://127.0.0.1:") for p in provenance for f in p["files"])
    assert from_urls.to_csv(index=False).encode() == local.to_csv(index=False).encode()
    assert len(local) > 180_000

"""Static checks of the Chrome extension: manifest schema, fixed id, files, no secrets or stray hosts."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import struct
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

EXT = Path(__file__).resolve().parents[2] / "chrome-extension"
SCHEMA = Path(__file__).resolve().parent / "manifest.schema.json"
EXTENSION_ID = "hjpcimaolalbjpklelngebhdenmmbfmd"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((EXT / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_manifest_matches_schema(manifest, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []


@pytest.mark.parametrize(
    "change",
    [
        {"manifest_version": 2},
        {"browser_action": {"default_popup": "popup.html"}},
        {"background": {"scripts": ["service-worker.js"], "persistent": False}},
        {"content_security_policy": {"extension_pages": "script-src 'self' 'unsafe-eval'"}},
        {"permissions": ["storage", "https://*/*"]},
        {"host_permissions": ["<all_urls", "googleapis.com"]},
        {"version": "1.0.0-beta"},
        {"icons": {"16": "/abs/icon.png"}},
    ],
    ids=lambda c: next(iter(c)),
)
def test_schema_rejects_broken_manifests(manifest, validator, change):
    broken = {**copy.deepcopy(manifest), **change}
    assert list(validator.iter_errors(broken)), f"schema accepted {change}"


def _extension_id(key_b64: str) -> str:
    """Chrome's id of an unpacked extension with a `key`: sha256 of the DER key, first 16 bytes as a-p."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(ch, 16)) for ch in digest)


def test_key_fixes_the_extension_id(manifest):
    assert _extension_id(manifest["key"]) == EXTENSION_ID


def test_host_permissions_are_minimal(manifest):
    assert set(manifest["host_permissions"]) == {
        "https://www.googleapis.com/youtube/v3/*",
        "http://127.0.0.1/*",
        "http://localhost/*",
    }
    assert set(manifest["permissions"]) == {"storage", "activeTab"}
    # A deployed API's origin is asked for at run time, never granted up front.
    assert set(manifest["optional_host_permissions"]) == {"https://*/*", "http://*/*"}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_referenced_files_exist(manifest):
    action, worker = manifest["action"], manifest["background"]["service_worker"]
    for rel in (action["default_popup"], manifest["options_page"], worker):
        assert (EXT / rel).is_file(), rel
    for size, rel in {**manifest["icons"], **action["default_icon"]}.items():
        assert _png_size(EXT / rel) == (int(size), int(size)), rel
    for page in ("popup.html", "options.html"):
        html = (EXT / page).read_text(encoding="utf-8")
        for ref in re.findall(r'(?:src|href)="([^"#:]+)"', html):
            assert (EXT / ref).is_file(), f"{page} refers to missing {ref}"
        # MV3 extension pages refuse inline scripts; every script must be a file.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page}"


SOURCES = sorted(p for p in EXT.rglob("*") if p.suffix in {".js", ".html", ".json", ".css"})
ALLOWED_HOSTS = {"www.googleapis.com", "127.0.0.1", "localhost", "www.youtube.com"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(EXT)))
def test_no_secrets_or_stray_hosts_in_source(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"AIza[0-9A-Za-z_-]{20,}", text), "a Google API key in the source"
    hosts = set(re.findall(r"https?://([A-Za-z0-9][^/:\s'\"`?#]*)", text))
    assert hosts <= ALLOWED_HOSTS, f"unexpected hosts {hosts - ALLOWED_HOSTS}"


def test_comment_text_is_never_parsed_as_html():
    for path in SOURCES:
        if path.suffix == ".js":
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), path.name

"""ops/docker-compose.yml: valid against the Compose specification's JSON schema, and self-consistent.

The schema is the copy check-jsonschema ships and pins (``--builtin-schema vendor.compose-spec``; the package is
pinned in requirements.txt), so no download is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import COMPOSE, MONITORING, load_yaml


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.exists():
        found = shutil.which("check-jsonschema")
        if found is None:
            pytest.fail("check-jsonschema is missing: pip install -r requirements.txt")
        tool = Path(found)
    return subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_matches_the_compose_schema():
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    image: prom/prometheus", "    imag: prom/prometheus", 1))
    result = check_jsonschema(broken)
    assert result.returncode != 0
    assert "imag" in result.stdout + result.stderr


def test_images_pinned_ports_on_loopback_mounts_exist():
    compose = load_yaml(COMPOSE)
    assert set(compose["services"]) == {"api", "prometheus", "alertmanager", "grafana"}
    for name, service in compose["services"].items():
        if "image" in service:
            repo, _, tag = service["image"].rpartition(":")
            assert repo and tag and tag != "latest", (name, service["image"])
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (MONITORING / source).exists(), (name, source)
    assert (COMPOSE.parent / compose["services"]["api"]["build"]["context"] / "Dockerfile").is_file()

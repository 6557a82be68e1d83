"""The docs site and what it promises: a strict MkDocs build, an API reference equal to what the app serves, one
runbook page per alert (and each alert's ``runbook_url`` pointing at it), README links that resolve.

Each check has a negative control beside it: a broken link fails the strict build, a stale reference fails the
generator's ``--check``, and the runbook checks are plain functions run on a broken copy of the rules.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ytsentiment.api import apidoc

from .conftest import REPO

DOCS = REPO / "docs"
RUNBOOKS = DOCS / "runbooks"
RULES = REPO / "ops" / "prometheus" / "rules" / "ytsentiment.rules.yml"
README_MAX_LINES = 200


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed: pip install -r requirements.txt (section `# docs site`)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0, printed on every build
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, capture_output=True, text=True,
                          timeout=300, env=env)


def test_docs_build_strict(tmp_path):
    done = mkdocs_build(REPO / "mkdocs.yml", tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "site" / "api" / "openapi.json").is_file()
    for page in RUNBOOKS.glob("*.md"):
        assert (tmp_path / "site" / "runbooks" / page.stem / "index.html").is_file(), page


def test_strict_build_fails_on_a_broken_link(tmp_path):
    """Negative control: the same site with one link to a page that does not exist must not build."""
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    with (tmp_path / "docs" / "index.md").open("a", encoding="utf-8") as index:
        index.write("\nSee [a page that is not there](no-such-page.md).\n")
    done = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr


def test_api_reference_is_what_the_app_serves():
    assert apidoc.REFERENCE == DOCS / "api" / "openapi.json"
    committed = apidoc.REFERENCE.read_text(encoding="utf-8")
    assert committed == apidoc.render(apidoc.served_document()), "stale docs/api/openapi.json: make api-reference"


def test_api_reference_check_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "openapi.json"
    stale.write_text(apidoc.REFERENCE.read_text(encoding="utf-8").replace('"3.1.0"', '"3.0.0"', 1),
                     encoding="utf-8")
    assert apidoc.main(["--check", "--out", str(stale)]) == 1
    assert apidoc.main(["--check"]) == 0


def alerts(rules: dict) -> list[dict]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def runbook_problems(rules: dict, runbooks: Path = RUNBOOKS) -> list[str]:
    """What breaks "one runbook page per alert, linked by the rule's runbook_url"; empty when it holds."""
    problems = []
    names = {rule["alert"] for rule in alerts(rules)}
    for rule in alerts(rules):
        name, url = rule["alert"], rule.get("annotations", {}).get("runbook_url")
        expected = f"docs/runbooks/{name}.md"
        if url != expected:
            problems.append(f"{name}: runbook_url is {url!r}, expected {expected!r}")
        page = runbooks / f"{name}.md"
        if not page.is_file():
            problems.append(f"{name}: no runbook page {page}")
        elif page.read_text(encoding="utf-8").splitlines()[0] != f"# {name}":
            problems.append(f"{name}: {page.name} does not start with '# {name}'")
    problems += [f"{page.name}: no alert of that name" for page in sorted(runbooks.glob("*.md"))
                 if page.stem not in names]
    return problems


def test_every_alert_has_its_runbook_and_every_runbook_its_alert():
    rules = yaml.safe_load(RULES.read_text())
    assert len(alerts(rules)) >= 9
    assert runbook_problems(rules) == []
    for rule in alerts(rules):
        assert (REPO / rule["annotations"]["runbook_url"]).is_file()  # the path resolves from the repository root


def test_runbook_check_catches_each_break(tmp_path):
    rules = yaml.safe_load(RULES.read_text())
    first = alerts(rules)[0]
    del first["annotations"]["runbook_url"]
    assert any("runbook_url is None" in p for p in runbook_problems(rules))

    rules = yaml.safe_load(RULES.read_text())
    shutil.copytree(RUNBOOKS, tmp_path / "runbooks")
    (tmp_path / "runbooks" / f"{alerts(rules)[0]['alert']}.md").unlink()
    (tmp_path / "runbooks" / "YtSentimentNoSuchAlert.md").write_text("# YtSentimentNoSuchAlert\n")
    problems = runbook_problems(rules, tmp_path / "runbooks")
    assert any("no runbook page" in p for p in problems)
    assert any("YtSentimentNoSuchAlert.md: no alert" in p for p in problems)


def test_readme_is_short_and_its_links_resolve():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "\n## Data\n" in text
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert any(link.startswith("docs/") for link in links)
    missing = [link for link in links if "://" not in link and not (REPO / link).exists()]
    assert missing == []

"""Feedback cannot be flooded: rotating client ids from one address buy no extra weight (issue 19, finding 4)."""

from __future__ import annotations

import shutil

import pytest

from ytsentiment.storage.db import make_engine
from ytsentiment.storage.export import export_feedback
from ytsentiment.storage.feedback import address_hash

from .test_storage import rows

FLOODER = "203.0.113.7"
HONEST = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
TRUTH = {f"comment {i}": (1 if i % 2 else -1) for i in range(200)}


@pytest.fixture
def url(tmp_path, sqlite_template) -> str:
    return f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'flood.db')}"


def post(client, text, label, client_id, address, forwarded_for=None):
    return client.post("/feedback", json={"text": text, "label": label, "client_id": client_id},
                       environ_base={"REMOTE_ADDR": address},
                       headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {})


def export(url, tmp_path):
    engine = make_engine(url)
    try:
        sidecar = export_feedback(engine, tmp_path, max_per_client=200, min_agreement=1.0, burst=10)
    finally:
        engine.dispose()
    lines = (tmp_path / sidecar["csv"]).read_text(encoding="utf-8").splitlines()[1:]
    return {line.rsplit(",", 1)[0]: int(line.rsplit(",", 1)[1]) for line in lines}, sidecar


def test_600_inverted_labels_from_200_ids_on_one_address_export_nothing(make_db_app, url, tmp_path):
    client = make_db_app(url).test_client()  # the default limits
    texts = list(TRUTH)
    statuses = []
    for i in range(600):  # 200 client ids, 3 inverted labels each, as fast as the test client goes
        text = texts[i % 200]
        statuses.append(post(client, text, -TRUTH[text], f"flooder-{i // 3:05d}", FLOODER).status_code)
    accepted = [s for s in statuses if s in (200, 201)]
    assert set(statuses) <= {200, 201, 429}
    stored = rows(url, "feedback")
    assert len({r["client_id"] for r in stored}) <= 5  # FEEDBACK_CLIENTS_PER_ADDRESS
    assert len(stored) == len(accepted) <= 5 * 3
    assert {r["address"] for r in stored} == {address_hash(FLOODER)}
    for j, address in enumerate(HONEST):  # three people, a minute apart in real life; here one label each
        for text in texts[:2]:
            assert post(client, text, TRUTH[text], f"honest-person-{j}", address).status_code == 201
    exported, sidecar = export(url, tmp_path)
    assert all(TRUTH[text] == label for text, label in exported.items()), exported  # nothing poisoned
    assert sidecar["dropped"]["in_bursts"] == len(accepted)  # the flooder's votes came in one burst
    assert exported == {text: TRUTH[text] for text in texts[:2]}


def test_a_new_client_id_past_the_per_address_limit_is_429_and_others_are_not_affected(make_db_app, url):
    client = make_db_app(url, feedback_clients_per_address=2).test_client()
    assert post(client, "one", 1, "client-0001", FLOODER).status_code == 201
    assert post(client, "two", 1, "client-0002", FLOODER).status_code == 201
    refused = post(client, "three", 1, "client-0003", FLOODER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert "under 2 client ids today" in refused.get_json()["detail"]
    assert post(client, "four", 1, "client-0001", FLOODER).status_code == 201  # a known id goes on
    assert post(client, "three", 1, "client-0003", HONEST[0]).status_code == 201  # the same id elsewhere
    assert sorted(r["client_id"] for r in rows(url, "feedback")) == [
        "client-0001", "client-0001", "client-0002", "client-0003"]


def test_the_per_address_rate_limit_holds_whatever_the_client_ids(make_db_app, url):
    client = make_db_app(url, feedback_address_rate_limit="4 per minute", feedback_clients_per_address=50).test_client()
    statuses = [post(client, f"text {i}", 1, f"rotating-{i:04d}", FLOODER).status_code for i in range(6)]
    assert statuses == [201] * 4 + [429] * 2
    assert post(client, "text", 1, "rotating-0000", HONEST[0]).status_code == 201


@pytest.mark.parametrize("proxies, distinct", [(0, 1), (1, 2)])
def test_the_address_is_read_from_x_forwarded_for_only_behind_trusted_proxies(make_db_app, url, proxies, distinct):
    client = make_db_app(url, trusted_proxies=proxies).test_client()
    for i, forwarded in enumerate(HONEST[:2]):
        assert post(client, f"text {i}", 1, f"client-{i:04d}", "10.0.0.5", forwarded).status_code == 201
    assert len({r["address"] for r in rows(url, "feedback")}) == distinct

"""Per-address limits on the prediction routes: requests and comment characters (issue 19, finding 3)."""

from __future__ import annotations

import pytest

from ytsentiment.api import create_app
from ytsentiment.api.limits import LIMITER_KEY

from .conftest import fake_loader


def app(**config):
    return create_app({"model_loader": fake_loader(), "load_in_background": False, **config})


def predict(client, address, comments, path="/predict"):
    return client.post(path, json={"comments": comments}, environ_base={"REMOTE_ADDR": address})


def test_requests_per_address():
    client = app(predict_rate_limit="3 per minute").test_client()
    statuses = [predict(client, "192.0.2.1", ["good"]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = predict(client, "192.0.2.1", ["good"])
    assert refused.get_json()["error"] == "too many requests"
    assert "the prediction limit per address is 3 per minute requests" in refused.get_json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the window, rounded up to whole seconds
    assert predict(client, "192.0.2.2", ["good"]).status_code == 200  # another address is not affected


@pytest.mark.parametrize("path, item", [("/predict", "x" * 40), ("/analyze", {"text": "x" * 40}),
                                        ("/predict_with_timestamps", {"text": "x" * 40, "timestamp": "2024-01-01"})])
def test_comment_characters_per_address(path, item):
    client = app(predict_chars_limit="100 per minute").test_client()
    assert predict(client, "192.0.2.1", [item, item], path).status_code == 200  # 80 characters
    refused = predict(client, "192.0.2.1", [item], path)  # 40 more: over 100
    assert refused.status_code == 429, refused.get_json()
    assert "100 per minute comment characters" in refused.get_json()["detail"]
    assert predict(client, "192.0.2.2", [item, item], path).status_code == 200


def test_a_bad_body_costs_one_character_and_still_gets_its_400():
    client = app(predict_chars_limit="2 per minute").test_client()
    bad = client.post("/predict", data="{not json", content_type="application/json")
    assert bad.status_code == 400
    assert predict(client, "127.0.0.1", ["a"]).status_code == 200  # 1 + 1 characters: within 2


@pytest.mark.parametrize("name, value", [("PREDICT_RATE_LIMIT", "lots"), ("PREDICT_CHARS_LIMIT", "")])
def test_bad_limits_are_refused_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value or "per minute")
    with pytest.raises(ValueError, match=name):
        app()


def test_the_characters_budget_keeps_counters_not_an_entry_per_character():
    # A moving window stores one entry per unit of cost: millions per address per worker, copied on each request.
    client = app(predict_chars_limit="1000000000 per minute").test_client()
    assert predict(client, "192.0.2.1", ["x" * 5000] * 2).status_code == 200
    storage = client.application.extensions[LIMITER_KEY].storage
    assert sum(map(len, storage.events.values())) == 0  # moving-window entries
    assert 10_000 in storage.storage.values()  # the sliding window's counter holds the characters

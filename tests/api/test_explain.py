"""``"explain": true`` on the prediction routes: each prediction's ``why``, only when asked, only for the comments the
model reads, the real model's own terms, bad values refused, explained characters counted twice by the limits."""

from __future__ import annotations

import pandas as pd
import pytest

from ytsentiment.api import create_app
from ytsentiment.explain import explain

from .conftest import fake_loader

SPANISH = "Esto es muy malo y no me gusta nada de nada"
FEATURES = {"lexicon", "length", "words", "emoji", "exclamations", "questions"}
ROUTES = {
    "/predict": lambda texts: texts,
    "/predict_with_timestamps": lambda texts: [{"text": t, "timestamp": "2024-05-01"} for t in texts],
    "/analyze": lambda texts: [{"text": t} for t in texts],
}


def predictions(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["predictions"] if isinstance(body, dict) else body


class Recorder:
    """Stands in for ``ytsentiment.explain.explain`` behind the FakeModel: one made-up term per text, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int]] = []

    def __call__(self, model, texts, k, inputs=None):
        self.calls.append((list(texts), k))
        return [[{"term": text.split()[-1], "weight": float(len(text))}] for text in texts]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("extra", [{}, {"explain": False}])
def test_no_why_unless_asked(client, monkeypatch, path, extra):
    recorder = Recorder()
    monkeypatch.setattr("ytsentiment.api.service.why_terms", recorder)
    body = predictions(client.post(path, json={"comments": ROUTES[path](["so good", SPANISH]), **extra}))
    assert all("why" not in p for p in body)
    assert recorder.calls == []  # not asked: not computed either


@pytest.mark.parametrize("path", ROUTES)
def test_why_for_the_read_comments_only_in_order(client, monkeypatch, path):
    recorder = Recorder()
    monkeypatch.setattr("ytsentiment.api.service.why_terms", recorder)
    texts = ["so good", SPANISH, "bad one here"]
    body = predictions(client.post(path, json={"comments": ROUTES[path](texts), "explain": True}))
    assert recorder.calls == [(["so good", "bad one here"], 3)]  # the Spanish comment is never explained
    assert [p["why"] for p in body] == [[{"term": "good", "weight": 7.0}], None, [{"term": "here", "weight": 12.0}]]
    assert [p["language_supported"] for p in body] == [True, False, True]


def test_nothing_read_asks_the_model_nothing(client, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr("ytsentiment.api.service.why_terms", recorder)
    body = predictions(client.post("/predict", json={"comments": [SPANISH], "explain": True}))
    assert body[0]["why"] is None and recorder.calls == []


def test_a_model_that_cannot_explain_answers_with_null_whys(client, caplog):
    """The FakeModel is no Pipeline, as a model from before explanations (a rollback): predictions still come."""
    for _ in range(2):
        body = predictions(client.post("/analyze", json={"comments": [{"text": "so good"}], "explain": True}))
        assert body[0]["label"] == "positive" and body[0]["why"] is None
    assert caplog.text.count("the served model cannot explain its predictions") == 1  # said once, not tried again


def test_a_fault_after_explaining_is_not_hidden(client, monkeypatch):
    monkeypatch.setattr("ytsentiment.api.service.why_terms", Recorder())
    predictions(client.post("/predict", json={"comments": ["so good"], "explain": True}))

    def broken(model, texts, k, inputs=None):
        raise KeyError("a fault")

    monkeypatch.setattr("ytsentiment.api.service.why_terms", broken)
    assert client.post("/predict", json={"comments": ["so good"], "explain": True}).status_code == 500


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("value", ["true", 1, 0, None, [], {"k": 3}])
def test_explain_must_be_a_boolean(client, path, value):
    response = client.post(path, json={"comments": ROUTES[path](["so good"]), "explain": value})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["detail"] == "explain: Input should be a valid boolean"


def test_explained_characters_count_twice_toward_the_limit(monkeypatch):
    monkeypatch.setattr("ytsentiment.api.service.why_terms", Recorder())
    app = create_app({"model_loader": fake_loader(), "load_in_background": False,
                      "predict_chars_limit": "100 per minute"})
    client = app.test_client()

    def ask(address: str, explain_it: bool):
        return client.post("/predict", json={"comments": ["x" * 30], "explain": explain_it},
                           environ_base={"REMOTE_ADDR": address})

    assert [ask("192.0.2.1", False).status_code for _ in range(4)] == [200, 200, 200, 429]  # 30, 60, 90, 120 > 100
    assert ask("192.0.2.2", True).status_code == 200  # 60
    refused = ask("192.0.2.2", True)  # 120 > 100
    assert refused.status_code == 429
    assert "100 per minute comment characters" in refused.get_json()["detail"]


# ---- the real model --------------------------------------------------------------------------------------------

READ = ["I love this video, it is amazing and so helpful, thank you!", "This is terrible, I hate it, worst video ever",
        "Uploaded at 3pm, part 2 tomorrow", "<img src=x onerror=alert(1)> great stuff"]


def test_real_model_why_is_the_model_explanation(real_app, real_client):
    """The API's ``why`` is exactly ``ytsentiment.explain.explain`` of the served Pipeline on the read comments."""
    model = real_app.extensions["ytsentiment"].service.model
    body = predictions(real_client.post("/analyze", json={
        "comments": [{"text": t} for t in [READ[0], SPANISH, *READ[1:]]], "explain": True}))
    assert body[1]["language_supported"] is False and body[1]["why"] is None
    read = [body[0], *body[2:]]
    assert [p["why"] for p in read] == explain(model, READ, k=3)
    for p in read:
        weights = [t["weight"] for t in p["why"]]
        assert len(weights) <= 3 and all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    # the clear comments' terms are their own words (or features of the whole comment: WhyTerm.term's description)
    labels = model.predict(pd.DataFrame({"text": READ[:2]})).tolist()
    assert [p["sentiment"] for p in read[:2]] == labels == [1, -1]
    for p, text in zip(read[:2], READ[:2], strict=True):
        assert p["why"] and all(t["term"] in text.lower() or t["term"] in FEATURES for t in p["why"]), p["why"]


def test_real_model_without_explain_answers_as_before(real_client):
    body = predictions(real_client.post("/predict", json={"comments": READ}))
    assert all("why" not in p for p in body)

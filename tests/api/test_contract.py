"""The HTTP contract the Chrome extension relies on, and every client mistake as a 4xx JSON error."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
from PIL import Image

from ytsentiment.api import create_app
from ytsentiment.api.settings import EXTENSION_ORIGIN

from .conftest import Blocker, fake_loader


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image.size


def assert_error(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "detail"}
    assert body["error"] and body["detail"]
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    return body


# ---- happy paths -------------------------------------------------------------------------------------------

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_predict_returns_one_prediction_per_comment_in_order(client, fake_model):
    spanish = "Esto es muy malo y no me gusta nada de nada"
    response = client.post("/predict", json={"comments": ["so good", "bad one", "ok then", spanish]})
    assert response.status_code == 200
    body = response.get_json()
    ids = [p.pop("prediction_id") for p in body]
    assert body == [
        {"comment": "so good", "sentiment": 1, "label": "positive", "confidence": 0.8, "language": "und",
         "language_supported": True},
        {"comment": "bad one", "sentiment": -1, "label": "negative", "confidence": 0.9, "language": "und",
         "language_supported": True},
        {"comment": "ok then", "sentiment": 0, "label": "neutral", "confidence": 0.6, "language": "und",
         "language_supported": True},
        {"comment": spanish, "sentiment": 0, "label": "neutral", "confidence": 0.6, "language": "es",
         "language_supported": False},
    ]
    assert all(UUID4.match(i) for i in ids) and len(set(ids)) == 4
    assert fake_model.calls == [["so good", "bad one", "ok then", spanish]]  # raw text: the Pipeline normalises
    again = client.post("/predict", json={"comments": ["so good"]}).get_json()
    assert again[0]["prediction_id"] not in ids  # made per request, not derived from the text


def test_predict_with_timestamps_echoes_timestamps(client):
    comments = [{"text": "good", "timestamp": "2024-05-01T12:30:00Z"},
                {"text": "bad", "timestamp": "2024-05-02t08:00:00+02:00"}]
    response = client.post("/predict_with_timestamps", json={"comments": comments})
    assert response.status_code == 200
    body = response.get_json()
    assert [(p["comment"], p["sentiment"], p["timestamp"]) for p in body] == [
        ("good", 1, "2024-05-01T12:30:00Z"), ("bad", -1, "2024-05-02t08:00:00+02:00")]


def test_analyze_gives_predictions_and_summary(client):
    comments = [{"text": "good", "timestamp": "2024-05-01", "likes": 3, "author": "a"},
                {"text": "good too"}, {"text": "bad"}, {"text": "meh", "likes": 0}]
    response = client.post("/analyze", json={"comments": comments})
    assert response.status_code == 200
    body = response.get_json()
    assert [p["sentiment"] for p in body["predictions"]] == [1, 1, -1, 0]
    assert body["predictions"][0]["timestamp"] == "2024-05-01"
    assert "timestamp" not in body["predictions"][1]
    # mean sentiment (1 + 1 - 1 + 0) / 4 = 0.25 -> (0.25 + 1) * 5 = 6.25
    # like weights 1 + ln(1 + likes) = 1 + ln 4, 1, 1, 1 (no likes = 0):
    #   (1 + ln 4 + 1 - 1 + 0) / (4 + ln 4) = 2.38629 / 5.38629 = 0.44303 -> 7.2152 -> 7.22
    # words 1 + 2 + 1 + 1 = 5 -> 5 / 4 = 1.25; one comment has an author
    # shares over 4 scored comments, 95 % Wilson intervals (z = 1.959964, z^2 = 3.841459):
    #   1/4: centre (0.25 + 0.480182) / 1.960365 = 0.372473, half 1.959964 * sqrt(0.046875 + 0.060023)
    #        / 1.960365 = 1.959964 * 0.326952 / 1.960365 = 0.326885 -> 0.0456 .. 0.6994
    #   2/4: 0.5 +- 1.959964 * sqrt(0.0625 + 0.060023) / 1.960365 = 0.349961 -> 0.1500 .. 0.8500
    half = {"share": 0.25, "low": 0.0456, "high": 0.6994}
    assert body["summary"] == {
        "total": 4, "scored": 4, "other_languages": 0, "languages": {},
        "counts": {"-1": 1, "0": 1, "1": 2},
        "shares": {"-1": half, "0": half, "1": {"share": 0.5, "low": 0.15, "high": 0.85}},
        "average_sentiment": 6.25, "like_weighted_sentiment": 7.22, "average_words": 1.25, "unique_commenters": 1,
        "months": [{"month": "2024-05", "count": 1, "counts": {"-1": 0, "0": 0, "1": 1}, "sparse": True}]}


def test_analyze_leaves_comments_in_other_languages_out_of_the_figures(client):
    comments = [{"text": "good", "timestamp": "2024-05-01", "likes": 3, "author": "a"},
                {"text": "bad", "timestamp": "2024-06-30T23:30:00-02:00", "author": "b"},  # 2024-07-01 in UTC
                {"text": "Esto es muy bueno y me gusta mucho, good", "timestamp": "2024-05-02", "author": "c"},
                {"text": "C'est vraiment une très bonne vidéo, merci beaucoup", "author": "d"},
                {"text": "Das ist wirklich ein sehr gutes Video, danke schön", "author": "d"}]
    body = client.post("/analyze", json={"comments": comments}).get_json()
    assert [p["language_supported"] for p in body["predictions"]] == [True, True, False, False, False]
    summary = body["summary"]
    # only "good" (1 like) and "bad" are scored: mean 0 -> 5.0; weights 1 + ln 4 and 1 -> ln 4 / (2 + ln 4)
    # = 1.386294 / 3.386294 = 0.409384 -> 7.05
    assert (summary["total"], summary["scored"], summary["other_languages"]) == (5, 2, 3)
    assert summary["languages"] == {"de": 1, "es": 1, "fr": 1}
    assert summary["counts"] == {"-1": 1, "0": 0, "1": 1}
    assert (summary["average_sentiment"], summary["like_weighted_sentiment"]) == (5.0, 7.05)
    assert (summary["average_words"], summary["unique_commenters"]) == (1.0, 2)
    assert summary["months"] == [
        {"month": "2024-05", "count": 1, "counts": {"-1": 0, "0": 0, "1": 1}, "sparse": True},
        {"month": "2024-07", "count": 1, "counts": {"-1": 1, "0": 0, "1": 0}, "sparse": True}]


def test_analyze_with_no_comment_in_a_language_the_model_reads(client):
    body = client.post("/analyze", json={"comments": [{"text": "Esto es muy bueno y me gusta mucho"}]}).get_json()
    summary = body["summary"]
    assert (summary["total"], summary["scored"], summary["other_languages"]) == (1, 0, 1)
    assert summary["average_sentiment"] is None and summary["like_weighted_sentiment"] is None
    assert summary["average_words"] is None and summary["months"] == []
    assert summary["shares"]["1"] == {"share": None, "low": None, "high": None}


def test_months_are_sparse_under_min_month_comments(fake_model):
    app = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False,
                      "min_month_comments": 3})
    comments = [{"text": "good", "timestamp": f"2024-01-0{d}"} for d in (1, 2, 3)] + [
        {"text": "bad", "timestamp": "2024-02-01"}, {"text": "good", "timestamp": "2024-02-02"}, {"text": "x"}]
    months = app.test_client().post("/analyze", json={"comments": comments}).get_json()["summary"]["months"]
    assert months == [
        {"month": "2024-01", "count": 3, "counts": {"-1": 0, "0": 0, "1": 3}, "sparse": False},
        {"month": "2024-02", "count": 2, "counts": {"-1": 1, "0": 0, "1": 1}, "sparse": True}]


@pytest.mark.parametrize(("path", "body"), [
    ("/generate_chart", {"sentiment_counts": {"1": 10, "0": 5, "-1": 2}}),
    ("/generate_chart", {"sentiment_counts": {"1": 0, "0": 0, "-1": 0}}),
    ("/generate_chart", {"sentiment_counts": {"1": 4}}),
    ("/generate_wordcloud", {"comments": ["great tutorial, thanks", "the audio is great https://x.y @bob"]}),
    ("/generate_wordcloud", {"comments": ["the and of", "😂😂"]}),
    ("/generate_trend_graph", {"sentiment_data": [
        {"timestamp": "2024-01-03T10:00:00Z", "sentiment": 1}, {"timestamp": "2024-03-09", "sentiment": -1},
        {"timestamp": "2024-03-10T00:00:00+05:00", "sentiment": 0}]}),
    ("/generate_trend_graph", {"sentiment_data": [{"timestamp": "2024-01-03T10:00:00Z", "sentiment": 1}]}),
    ("/generate_trend_graph", {"sentiment_data": [  # the extremes of the calendar, offsets that overflow UTC
        {"timestamp": "0001-01-01T00:00:00+05:00", "sentiment": 1},
        {"timestamp": "9999-12-31T23:59:59-05:00", "sentiment": 0}]}),
])
def test_chart_endpoints_return_png(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    width, height = png_size(response.data)
    assert width >= 300 and height >= 200


def test_health_ready_model(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/ready").get_json() == {"status": "ready"}
    # what the extension and operators need; no URI, run id, commit or full metric set
    assert client.get("/model").get_json() == {
        "name": "fake", "version": "7", "alias": "production", "trained_at": "2026-01-01T00:00:00+00:00",
        "metrics": {"overall_macro_f1": 0.61, "human_macro_f1": None}}


def test_head_on_get_routes(client):
    assert client.head("/health").status_code == 200


# ---- readiness ---------------------------------------------------------------------------------------------

def test_ready_is_503_until_loaded_and_predictions_wait_then_succeed(blocker):
    app = create_app({"model_loader": blocker, "model_wait_seconds": 0.2})
    client = app.test_client()
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.get_json()["status"] == "loading"
    assert ready.headers["Retry-After"]
    assert_error(client.post("/predict", json={"comments": ["good"]}), 503, "loading")
    assert_error(client.get("/model"), 503)
    # charts do not need the model
    assert client.post("/generate_chart", json={"sentiment_counts": {"1": 1}}).status_code == 200
    blocker.release.set()
    assert app.extensions["ytsentiment"].holder.wait(10)
    assert client.get("/ready").status_code == 200
    assert client.post("/predict", json={"comments": ["good"]}).status_code == 200


def test_a_prediction_waits_for_a_loading_model(blocker):
    app = create_app({"model_loader": blocker, "model_wait_seconds": 10})
    release = threading.Timer(0.3, blocker.release.set)
    release.start()
    try:
        response = app.test_client().post("/predict", json={"comments": ["good"]})
    finally:
        release.cancel()
    assert response.status_code == 200


@pytest.mark.parametrize("failed", [False, True], ids=["loading", "failed"])
@pytest.mark.parametrize("path", ["/predict", "/predict_with_timestamps", "/analyze"])
def test_prediction_routes_answer_503_with_retry_after(blocker, path, failed):
    if failed:  # the load has ended, in failure
        blocker.fail = True
        blocker.release.set()
    client = create_app({"model_loader": blocker, "model_wait_seconds": 0,
                         "load_in_background": not failed}).test_client()
    body = {"comments": [{"text": "good", "timestamp": "2024-01-01"}]} if path != "/predict" else {
        "comments": ["good"]}
    response = client.post(path, json=body)
    assert_error(response, 503, "failed to load" if failed else "loading")
    assert response.headers["Retry-After"] == "5"


def test_failed_load_keeps_worker_not_ready_with_the_reason():
    blocker = Blocker(fail=True)
    blocker.release.set()
    app = create_app({"model_loader": blocker, "load_in_background": False, "model_uri": "/nowhere"})
    client = app.test_client()
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "failed" and "no model at /nowhere" in ready.get_json()["detail"]
    assert_error(client.post("/predict", json={"comments": ["good"]}), 503, "failed to load", "MODEL_URI")
    assert client.get("/health").status_code == 200


def test_a_model_without_the_three_classes_fails_to_load(fake_model):
    class TwoClass(type(fake_model)):
        classes_ = [0, 1]

    app = create_app({"model_loader": fake_loader(TwoClass()), "load_in_background": False})
    assert app.extensions["ytsentiment"].holder.state == "failed"


# ---- bad input ---------------------------------------------------------------------------------------------

BAD_PREDICT_BODIES = [
    (b"{", 400, "not valid JSON"),
    (b"", 400, "not valid JSON"),
    (b"[]", 400, "object"),
    (b"null", 400, "object"),
    (b'{"comments": "just one string"}', 400, "comments"),
    (b'{"comments": []}', 400, "at least 1"),
    (b'{"comment": ["typo"]}', 400, "comments: Field required"),
    (b'{"comments": [1, "x"]}', 400, "comments[0]"),
    (b'{"comments": [null]}', 400, "comments[0]"),
    (b'{"comments": [{"text": "an object"}]}', 400, "comments[0]"),
    (b'{"comments": ["\\ud800"]}', 400, "unpaired surrogate"),
    (b'{"comments": ["\xff\xfe"]}', 400, "JSON"),
    (b'{"comments": [NaN]}', 400, "comments[0]"),
]


@pytest.mark.parametrize(("body", "status", "needle"), BAD_PREDICT_BODIES)
def test_predict_rejects_bad_bodies(client, fake_model, body, status, needle):
    assert_error(client.post("/predict", data=body, content_type="application/json"), status, needle)
    assert fake_model.calls == []


@pytest.mark.parametrize(("body", "needles"), [
    (b'{"comments": ["a",\n  "b" "c"]}', ["line 2, column 7", "delimiter"]),
    (b'{"comments": ["a"],\n "video_id": }', ["line 2, column 14", "expecting value"]),
    (b'{"comments": ["ok", "\\udc00\\ud800"]}', ["unpaired surrogate", "\\udc00", "line 1, column 22"]),
    (b'{"comments": ["\\ud83d\\ude00", "x\\ud83d"]}', ["unpaired surrogate", "\\ud83d", "column 33"]),
    (b'{"comments": ["\\ud83d", "\\ude00"]}', ["unpaired surrogate", "\\ud83d", "column 16"]),  # two halves apart
])
def test_malformed_json_says_what_and_where(client, body, needles):
    assert_error(client.post("/predict", data=body, content_type="application/json"), 400, *needles)


def test_a_paired_surrogate_escape_is_one_character(client):
    response = client.post("/predict", data=b'{"comments": ["\\ud83d\\ude00"]}', content_type="application/json")
    assert response.status_code == 200 and response.get_json()[0]["comment"] == "\U0001f600"


CONTROL_TEXT_BODIES = [
    ("/predict", {"comments": ["a", "b", "c", "nul\u0000here"]}, "comments[3]"),
    ("/predict", {"comments": ["bell\u0007"]}, "comments[0]"),
    ("/predict", {"comments": ["esc\u001b[31m"]}, "comments[0]"),
    ("/predict_with_timestamps", {"comments": [{"text": "\u0000", "timestamp": "2024-01-01"}]}, "comments[0].text"),
    ("/analyze", {"comments": [{"text": "ok"}, {"text": "a\u000bb"}]}, "comments[1].text"),
    ("/generate_wordcloud", {"comments": ["\u001f"]}, "comments[0]"),
]


@pytest.mark.parametrize(("path", "body", "field"), CONTROL_TEXT_BODIES)
def test_control_characters_in_text_are_400_naming_the_field(client, fake_model, path, body, field):
    assert_error(client.post(path, json=body), 400, field, "control character")
    assert fake_model.calls == []


def test_tab_newline_and_carriage_return_are_text(client):
    response = client.post("/predict", json={"comments": ["a\tb\nc\r\nd"]})
    assert response.status_code == 200 and response.get_json()[0]["comment"] == "a\tb\nc\r\nd"


def chunked(client, path: str, body: bytes):
    """POST ``body`` as a chunked upload: no Content-Length, the stream terminated by the server (as gunicorn
    does: ``wsgi.input_terminated``)."""
    return client.post(path, input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


def test_chunked_body_over_max_content_length_is_413(fake_model):
    client = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False,
                         "max_content_length": 1000}).test_client()
    assert_error(chunked(client, "/predict", json.dumps({"comments": ["x" * 90] * 20}).encode()), 413,
                 "MAX_CONTENT_LENGTH=1000")
    assert fake_model.calls == []
    response = chunked(client, "/predict", json.dumps({"comments": ["good"] * 20}).encode())  # under the limit
    assert response.status_code == 200 and len(response.get_json()) == 20


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "x-custom"])
def test_compressed_bodies_are_415_naming_the_encoding(client, encoding):
    body = assert_error(client.post("/predict", data=b"\x1f\x8b\x08\x00", content_type="application/json",
                                    headers={"Content-Encoding": encoding}), 415, repr(encoding))
    assert "line 1" not in body["detail"]


def test_identity_content_encoding_is_accepted(client):
    response = client.post("/predict", json={"comments": ["good"]}, headers={"Content-Encoding": "identity"})
    assert response.status_code == 200


@pytest.mark.parametrize(("path", "body", "needles"), [
    ("/predict_with_timestamps", {"comments": [{"text": "a", "timestamp": "yesterday"}]},
     ["comments[0].timestamp", "ISO-8601", "2024-05-01T12:30:00Z"]),
    ("/predict_with_timestamps", {"comments": [{"text": "a", "timestamp": "2024-02-30T00:00:00Z"}]},
     ["comments[0].timestamp"]),
    ("/predict_with_timestamps", {"comments": [{"text": "a", "timestamp": 1714566600}]},
     ["comments[0].timestamp", "string"]),
    ("/predict_with_timestamps", {"comments": [{"text": "a"}]}, ["comments[0].timestamp: Field required"]),
    ("/predict_with_timestamps", {"comments": ["a"]}, ["comments[0]"]),
    ("/analyze", {"comments": [{"text": "a", "likes": -1}]}, ["comments[0].likes"]),
    ("/analyze", {"comments": [{"text": "a", "likes": "3"}]}, ["comments[0].likes"]),
    ("/analyze", {"comments": [{"text": "a", "likes": True}]}, ["comments[0].likes"]),
    ("/analyze", {"comments": [{"timestamp": "2024-01-01"}]}, ["comments[0].text: Field required"]),
    ("/generate_chart", {"sentiment_counts": {"1": "3"}}, ["sentiment_counts.1"]),
    ("/generate_chart", {"sentiment_counts": {"1": -3}}, ["sentiment_counts.1", "greater than or equal"]),
    ("/generate_chart", {"sentiment_counts": {"2": 3}}, ["sentiment_counts.2", "Extra inputs"]),
    ("/generate_chart", {"sentiment_counts": {"1": 10**13}}, ["sentiment_counts.1"]),
    ("/generate_chart", {"sentiment_counts": [1, 2, 3]}, ["sentiment_counts"]),
    ("/generate_chart", {}, ["sentiment_counts: Field required"]),
    ("/generate_wordcloud", {"comments": []}, ["comments"]),
    ("/generate_trend_graph", {"sentiment_data": [{"timestamp": "2024-01-01", "sentiment": 2}]},
     ["sentiment_data[0].sentiment"]),
    ("/generate_trend_graph", {"sentiment_data": [{"timestamp": "2024-01-01", "sentiment": "1"}]},
     ["sentiment_data[0].sentiment"]),
    ("/generate_trend_graph", {"sentiment_data": [{"timestamp": "not a date", "sentiment": 1}]},
     ["sentiment_data[0].timestamp", "ISO-8601"]),
])
def test_field_errors_name_the_field(client, path, body, needles):
    assert_error(client.post(path, json=body), 400, *needles)


def test_all_errors_reported_at_once(client):
    body = assert_error(client.post("/predict", json={"comments": [1, 2, "ok", 3]}), 400)
    assert all(f"comments[{i}]" in body["detail"] for i in (0, 1, 3))


@pytest.mark.parametrize("timestamp", [
    "2024-05-01T12:30:00Z", "2024-05-01T12:30:00.123456789Z", "2024-05-01t12:30:00z", "2024-05-01 12:30",
    "2024-05-01", "2024-05-01T12:30:00+02:00", "2024-05-01T12:30:00-0530", "20240501T123000Z",
    "2016-12-31T23:59:60Z",
])
def test_accepted_timestamp_formats(client, timestamp):
    body = {"comments": [{"text": "a", "timestamp": timestamp}]}
    response = client.post("/predict_with_timestamps", json=body)
    assert response.status_code == 200, response.get_json()


def test_too_many_comments_is_413(client):
    assert_error(client.post("/predict", json={"comments": ["x"] * 1001}), 413, "MAX_COMMENTS=1000")
    assert_error(client.post("/generate_trend_graph",
                             json={"sentiment_data": [{"timestamp": "2024-01-01", "sentiment": 1}] * 1001}),
                 413, "MAX_COMMENTS=1000")


def test_giant_comment_is_413(client):
    assert client.post("/predict", json={"comments": ["x" * 10_000]}).status_code == 200
    assert_error(client.post("/predict", json={"comments": ["ok", "x" * 10_001]}), 413,
                 "comments[1]", "MAX_COMMENT_CHARS=10000")
    assert_error(client.post("/analyze", json={"comments": [{"text": "x" * 10_001}]}), 413,
                 "comments[0].text")


def test_body_over_max_content_length_is_413(client):
    body = json.dumps({"comments": ["x" * 9000] * 500})  # ~4.5 MB
    assert_error(client.post("/predict", data=body, content_type="application/json"), 413,
                 "MAX_CONTENT_LENGTH=4194304")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    assert_error(client.post("/predict", data='{"comments": ["a"]}', **kwargs), 415, "application/json")


def test_json_with_charset_is_accepted(client):
    response = client.post("/predict", data='{"comments": ["good"]}',
                           content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_unknown_route_is_404_json(client):
    assert_error(client.get("/nope"), 404, "/nope", "/openapi.json")
    assert_error(client.post("/predict/extra", json={}), 404)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/predict", "POST"), ("PUT", "/analyze", "POST"), ("DELETE", "/health", "GET"),
    ("POST", "/ready", "GET"), ("POST", "/metrics", "GET"),
])
def test_wrong_method_is_405_json(client, method, path, allowed):
    response = client.open(path, method=method)
    assert_error(response, 405, method, allowed)
    assert allowed in response.headers["Allow"]


def test_limits_are_configurable(fake_model):
    app = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False,
                      "max_comments": 2, "max_comment_chars": 5, "max_content_length": 200})
    client = app.test_client()
    assert client.post("/predict", json={"comments": ["good", "bad"]}).status_code == 200
    assert_error(client.post("/predict", json={"comments": ["a", "b", "c"]}), 413, "MAX_COMMENTS=2")
    assert_error(client.post("/predict", json={"comments": ["123456"]}), 413, "MAX_COMMENT_CHARS=5")
    assert_error(client.post("/predict", json={"comments": ["a" * 250]}), 413, "MAX_CONTENT_LENGTH=200")
    assert client.get("/openapi.json").get_json()["components"]["schemas"]["PredictRequest"][
        "properties"]["comments"]["maxItems"] == 2


def test_limits_come_from_the_environment(monkeypatch, fake_model):
    monkeypatch.setenv("MAX_COMMENTS", "3")
    monkeypatch.setenv("MODEL_URI", "/some/dir")
    app = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False})
    client = app.test_client()
    assert_error(client.post("/predict", json={"comments": ["a"] * 4}), 413, "MAX_COMMENTS=3")
    assert app.extensions["ytsentiment"].holder.model.info["uri"] == "/some/dir"


# ---- security headers ----------------------------------------------------------------------------------------

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("get", "/health", None, 200), ("get", "/model", None, 200), ("get", "/metrics", None, 200),
    ("get", "/openapi.json", None, 200), ("post", "/predict", {"comments": ["good"]}, 200),
    ("post", "/generate_chart", {"sentiment_counts": {"1": 1}}, 200), ("post", "/predict", {}, 400),
    ("get", "/nope", None, 404), ("get", "/predict", None, 405),
])
def test_security_headers_on_every_answer(client, method, path, body, status):
    response = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/predict", {"comments": ["good"]}, 200), ("/predict_with_timestamps",
                                                {"comments": [{"text": "a", "timestamp": "2024-01-01"}]}, 200),
    ("/analyze", {"comments": [{"text": "good"}]}, 200), ("/predict", {"comments": []}, 400),
])
def test_prediction_answers_are_never_cached(client, path, body, status):
    response = client.post(path, json=body)
    assert response.status_code == status and response.headers["Cache-Control"] == "no-store"


# ---- CORS --------------------------------------------------------------------------------------------------

def test_cors_allows_the_extension_preflight(client):
    response = client.options("/predict", headers={
        "Origin": EXTENSION_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_refuses_other_origins(client):
    response = client.post("/predict", json={"comments": ["a"]}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", ["/predict", "/analyze", "/generate_chart", "/model"])
def test_cors_preflight_from_a_foreign_origin_is_refused(client, path):
    response = client.options(path, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_cors_preflight_from_the_allowed_origin_names_what_it_may_send(client):
    response = client.options("/analyze", headers={
        "Origin": EXTENSION_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_cors_on_errors_too(client):
    response = client.post("/predict", json={"comments": []}, headers={"Origin": EXTENSION_ORIGIN})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN


def test_cors_origins_are_configurable(fake_model):
    app = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False,
                      "cors_origins": "https://a.example, chrome-extension://abc"})
    client = app.test_client()
    for origin in ("https://a.example", "chrome-extension://abc"):
        response = client.get("/health", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
    response = client.get("/health", headers={"Origin": EXTENSION_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_server_error_is_json_500_without_internals(fake_model):
    class Broken(type(fake_model)):
        def predict_proba(self, frame):
            raise RuntimeError("secret internals")

    app = create_app({"model_loader": fake_loader(Broken()), "load_in_background": False})
    body = assert_error(app.test_client().post("/predict", json={"comments": ["a"]}), 500)
    assert "secret" not in json.dumps(body)

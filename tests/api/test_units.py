"""Plain units of the API: settings from the environment, timestamp parsing, summaries, monthly shares,
metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flask_app import charts
from flask_app.metrics import Metrics
from flask_app.schemas import parse_timestamp
from flask_app.service import SentimentService
from flask_app.settings import EXTENSION_ORIGIN, load_settings

from .conftest import FakeModel


def test_settings_defaults():
    settings = load_settings(environ={})
    assert settings.model_uri == "models:/ytsentiment@production"
    assert settings.cors_origins == (EXTENSION_ORIGIN,)
    assert (settings.max_comments, settings.max_comment_chars, settings.max_content_length) == (
        1000, 10_000, 4 * 1024 * 1024)
    assert settings.model_threads == 1


def test_settings_from_environment_and_config_overrides():
    env = {"MODEL_URI": " model/ ", "CORS_ORIGINS": "https://a.example/, chrome-extension://x",
           "MAX_COMMENTS": "5", "MAX_COMMENT_CHARS": "50", "MAX_CONTENT_LENGTH": "1000", "MODEL_THREADS": "2",
           "MODEL_WAIT_SECONDS": "1.5"}
    settings = load_settings({"max_comments": 7}, environ=env)
    assert settings.model_uri == "model/"
    assert settings.cors_origins == ("https://a.example", "chrome-extension://x")
    assert (settings.max_comments, settings.max_comment_chars, settings.max_content_length) == (7, 50, 1000)
    assert settings.model_threads == 2 and settings.model_wait_seconds == 1.5


@pytest.mark.parametrize(("env", "config", "message"), [
    ({"CORS_ORIGINS": "*"}, None, "'*' is refused"),
    ({"CORS_ORIGINS": "https://a.example, *"}, None, "'*' is refused"),
    ({"MAX_COMMENTS": "many"}, None, "MAX_COMMENTS must be a positive integer"),
    ({"MAX_COMMENTS": "0"}, None, "MAX_COMMENTS must be a positive integer"),
    ({"MODEL_WAIT_SECONDS": "soon"}, None, "MODEL_WAIT_SECONDS"),
    ({}, {"max_coments": 3}, "unknown config keys"),
])
def test_bad_settings_fail_fast_with_the_variable_named(env, config, message):
    with pytest.raises(ValueError, match=message):
        load_settings(config, environ=env)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01T14:30:00+02:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ("2024-05-01t12:30:00z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),
    ("0001-01-01T00:00:00+05:00", datetime(1, 1, 1, tzinfo=UTC)),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-02-30", "1714566600", "01/05/2024"])
def test_parse_timestamp_rejects_with_the_formats(text):
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_timestamp(text)


def test_summary_maps_mean_sentiment_to_0_10():
    service = SentimentService(FakeModel())
    assert service.summarize(service.predict(["good"] * 3))["average_sentiment"] == 10.0
    assert service.summarize(service.predict(["bad"] * 3))["average_sentiment"] == 0.0
    assert service.summarize(service.predict(["good", "bad", "x", "y"]))["average_sentiment"] == 5.0
    assert service.predict([]) == []


def test_service_refuses_a_model_without_three_classes():
    model = FakeModel()
    model.classes_ = [0, 1]
    with pytest.raises(ValueError, match="-1, 0, 1"):
        SentimentService(model)


def test_monthly_shares_use_month_ends_and_leave_empty_months_empty():
    points = [(datetime(2024, 1, 5, tzinfo=UTC), 1), (datetime(2024, 1, 31, 23, tzinfo=UTC), -1),
              (datetime(2024, 3, 1, tzinfo=UTC), 0)]
    shares = charts.monthly_shares(points)
    assert [d.strftime("%Y-%m-%d") for d in shares.index] == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert shares.loc["2024-01-31"].to_dict() == {-1: 50.0, 0: 0.0, 1: 50.0}
    assert shares.loc["2024-02-29"].isna().all()
    assert shares.loc["2024-03-31"].to_dict() == {-1: 0.0, 0: 100.0, 1: 0.0}


def test_wordcloud_text_drops_urls_handles_and_tags():
    text = charts._cloud_text(["see https://x.example/a?b=1 <br>and www.y.example &amp; @bob_1 thanks"])
    assert "http" not in text and "www" not in text and "@bob" not in text and "<br>" not in text
    assert "thanks" in text and "&" in text


def test_metrics_are_per_app_without_gunicorn():
    first, second = Metrics(), Metrics()
    first.observe_request("POST", "/predict", 200, 0.01)
    first.count_predictions(["positive", "positive", "negative"])
    text = first.render().decode()
    assert 'ytsentiment_http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'ytsentiment_predictions_total{sentiment="positive"} 2.0' in text
    assert "ytsentiment_http_requests_total{" not in second.render().decode()
    first.observe_request("GET", None, 404, 0.001)
    assert 'route="<unmatched>"' in first.render().decode()

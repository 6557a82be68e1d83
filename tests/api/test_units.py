"""Plain units of the API: settings from the environment, timestamp parsing, summaries, monthly shares,
metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ytsentiment.api import charts
from ytsentiment.api.metrics import Metrics
from ytsentiment.api.schemas import parse_timestamp
from ytsentiment.api.service import SentimentService
from ytsentiment.api.settings import EXTENSION_ORIGIN, Settings

from .conftest import FakeModel


def test_settings_defaults():
    settings = Settings.from_env({})
    assert settings.model_uri == "models:/ytsentiment@production"
    assert settings.cors_origins == (EXTENSION_ORIGIN,)
    assert (settings.max_comments, settings.max_comment_chars, settings.max_content_length) == (
        1000, 10_000, 4 * 1024 * 1024)
    assert settings.model_threads == 1


def test_settings_from_environment_and_config_overrides():
    env = {"MODEL_URI": " model/ ", "CORS_ORIGINS": "https://a.example/, chrome-extension://x",
           "MAX_COMMENTS": "5", "MAX_COMMENT_CHARS": "50", "MAX_CONTENT_LENGTH": "1000", "MODEL_THREADS": "2",
           "MODEL_WAIT_SECONDS": "1.5"}
    settings = Settings.from_env(env, max_comments=7)
    assert settings.model_uri == "model/"
    assert settings.cors_origins == ("https://a.example", "chrome-extension://x")
    assert (settings.max_comments, settings.max_comment_chars, settings.max_content_length) == (7, 50, 1000)
    assert settings.model_threads == 2 and settings.model_wait_seconds == 1.5


@pytest.mark.parametrize(("env", "config", "message"), [
    ({"CORS_ORIGINS": "*"}, None, "'*' is refused"),
    ({"CORS_ORIGINS": "https://a.example, *"}, None, "'*' is refused"),
    ({"MAX_COMMENTS": "many"}, None, "^MAX_COMMENTS='many': must be an integer >= 1$"),
    ({"MAX_COMMENTS": "0"}, None, "^MAX_COMMENTS='0': must be an integer >= 1$"),
    ({"MODEL_WAIT_SECONDS": "soon"}, None, "^MODEL_WAIT_SECONDS='soon': must be a number between 0 and 3600$"),
    ({}, {"max_comments": 0}, "^MAX_COMMENTS=0: must be an integer >= 1$"),
    ({}, {"max_coments": 3}, "unknown setting 'max_coments'"),
])
def test_bad_settings_fail_fast_with_the_variable_named(env, config, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env, **(config or {}))


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


def prediction(text: str, sentiment: int) -> dict:
    return {"comment": text, "sentiment": sentiment, "label": "x", "confidence": 1.0}


def test_summary_figures_by_hand():
    predictions = [prediction("love it", 1), prediction("hate this so much", -1), prediction("ok", 0),
                   prediction("great   video  \N{THUMBS UP SIGN}", 1)]
    summary = SentimentService.summarize(predictions, likes=[0, 9, None, 9], authors=["UC1", "UC2", "UC1", "UC3"])
    assert summary["total"] == 4
    assert summary["counts"] == {"-1": 1, "0": 1, "1": 2}
    assert summary["average_sentiment"] == 6.25  # (1 - 1 + 0 + 1) / 4 = 0.25 -> (0.25 + 1) * 5
    # weights 1 + ln(1 + likes): 1, 1 + ln 10 = 3.302585, 1, 3.302585 (no likes = 0)
    # (1 - 3.302585 + 0 + 3.302585) / (2 + 2 * 3.302585) = 1 / 8.605170 = 0.116209 -> 5.581046
    assert summary["like_weighted_sentiment"] == 5.58
    assert summary["average_words"] == 2.5  # 2 + 4 + 1 + 3 words (the emoji is a word) = 10 / 4
    assert summary["unique_commenters"] == 3


def test_one_viral_comment_does_not_decide_the_like_weighted_score():
    # 1 negative comment with 100000 likes among 9 unliked positive ones: weight 1 + ln(100001) = 12.5129
    predictions = [prediction("bad", -1)] + [prediction("good", 1)] * 9
    summary = SentimentService.summarize(predictions, likes=[100_000] + [0] * 9)
    # (9 - 12.5129) / (9 + 12.5129) = -0.16330 -> (1 - 0.16330) * 5 = 4.1835; linear weights would give 0.0004
    assert summary["like_weighted_sentiment"] == 4.18
    assert summary["average_sentiment"] == 9.0  # (9 - 1) / 10 = 0.8 -> 9.0
    assert summary["unique_commenters"] == 0  # no authors sent


def test_summary_without_likes_counts_every_comment_alike_and_skips_empty_authors():
    predictions = [prediction("a b", 1), prediction("", -1), prediction(" c ", 1)]
    summary = SentimentService.summarize(predictions, authors=["x", "", None])
    assert summary["like_weighted_sentiment"] == summary["average_sentiment"] == 6.67  # mean 1/3 -> 6.666..
    assert summary["average_words"] == 1.0  # 2 + 0 + 1 = 3 / 3
    assert summary["unique_commenters"] == 1


def test_summary_refuses_likes_that_do_not_match_the_predictions():
    with pytest.raises(ValueError, match="2 likes"):
        SentimentService.summarize([prediction("a", 1)], likes=[1, 2])


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


def test_extensions_are_bound_to_each_app_with_init_app(monkeypatch, fake_model):
    """The slot the storage of the next lap uses: every object of EXTENSIONS gets ``init_app(app)`` once per app,
    after the app's state exists (so it can read the settings)."""
    from ytsentiment.api import create_app, extensions

    from .conftest import fake_loader

    class Recorder:
        def __init__(self) -> None:
            self.apps = []

        def init_app(self, app) -> None:
            self.apps.append((app, app.extensions["ytsentiment"].settings.max_comments))
            app.extensions["recorder"] = self

    recorder = Recorder()
    monkeypatch.setattr(extensions, "EXTENSIONS", (recorder,))
    first = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False, "max_comments": 3})
    second = create_app({"model_loader": fake_loader(fake_model), "load_in_background": False})
    assert recorder.apps == [(first, 3), (second, 1000)]
    assert first.extensions["recorder"] is recorder


@pytest.mark.parametrize(("k", "n", "expected"), [
    # Wilson score interval, z = 1.959964 (z^2 = 3.841459), worked by hand:
    # 0/10: centre = (0 + 0.192073) / 1.384146 = 0.138766 = half -> 0 .. 0.277533
    (0, 10, {"share": 0.0, "low": 0.0, "high": 0.2775}),
    # 5/10: 0.5 +- 1.959964 * sqrt(0.025 + 0.009604) / 1.384146 = 0.263401 -> 0.236599 .. 0.763401
    (5, 10, {"share": 0.5, "low": 0.2366, "high": 0.7634}),
    # 10/10: the mirror of 0/10
    (10, 10, {"share": 1.0, "low": 0.7225, "high": 1.0}),
    # 1/1: centre (1 + 1.920730) / 4.841459 = 0.603253 = half -> 0.206507 .. 1
    (1, 1, {"share": 1.0, "low": 0.2065, "high": 1.0}),
    # 30/100: centre (0.3 + 0.019207) / 1.038415 = 0.307398; half 1.959964 * sqrt(0.0021 + 0.000096)
    #         / 1.038415 = 1.959964 * 0.046862 / 1.038415 = 0.088450 -> 0.218948 .. 0.395848
    (30, 100, {"share": 0.3, "low": 0.2189, "high": 0.3958}),
    (0, 0, {"share": None, "low": None, "high": None}),
])
def test_wilson_interval_by_hand(k, n, expected):
    from ytsentiment.api.service import wilson

    assert wilson(k, n) == expected


def test_summary_months_and_languages_by_hand():
    def lang(text, sentiment, language, supported=True):
        return {**prediction(text, sentiment), "language": language, "language_supported": supported}

    stamps = [datetime(2024, 1, 31, 23, 59, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
              datetime(2023, 12, 31, tzinfo=UTC), None, datetime(2024, 1, 5, tzinfo=UTC)]
    predictions = [lang("a", 1, "en"), lang("b", -1, "und"), lang("c", 0, "en"), lang("d", 1, "en"),
                   lang("e", 1, "ja", False)]
    summary = SentimentService.summarize(predictions, timestamps=stamps, min_month_comments=2)
    assert (summary["total"], summary["scored"], summary["other_languages"]) == (5, 4, 1)
    assert summary["languages"] == {"ja": 1}
    assert summary["months"] == [
        {"month": "2023-12", "count": 1, "counts": {"-1": 0, "0": 1, "1": 0}, "sparse": True},
        {"month": "2024-01", "count": 2, "counts": {"-1": 1, "0": 0, "1": 1}, "sparse": False}]
    with pytest.raises(ValueError, match="timestamps"):
        SentimentService.summarize(predictions, timestamps=stamps[:2])


def test_new_settings_from_the_environment():
    settings = Settings.from_env({"PREDICTION_LOG": "off", "DATABASE_AUTO_MIGRATE": "false",
                                      "FEEDBACK_RATE_LIMIT": "10 per minute", "MIN_MONTH_COMMENTS": "5",
                                      "RATELIMIT_STORAGE_URI": "redis://cache:6379", "MONITOR_CACHE_SECONDS": "0",
                                      "DATABASE_TIMEOUT_SECONDS": "0.5"})
    assert (settings.prediction_log, settings.database_auto_migrate) == (False, False)
    assert (settings.feedback_rate_limit, settings.ratelimit_storage_uri) == ("10 per minute", "redis://cache:6379")
    assert (settings.min_month_comments, settings.monitor_cache_seconds, settings.database_timeout_seconds) == (
        5, 0.0, 0.5)
    defaults = Settings.from_env({})
    assert defaults.prediction_log and defaults.feedback_rate_limit == "30 per minute;500 per day"
    assert (defaults.ratelimit_storage_uri, defaults.min_month_comments) == ("memory://", 10)


@pytest.mark.parametrize(("env", "message"), [
    ({"PREDICTION_LOG": "maybe"}, "PREDICTION_LOG='maybe': must be a boolean: true or false"),
    ({"FEEDBACK_RATE_LIMIT": "lots"}, "FEEDBACK_RATE_LIMIT"),
    ({"FEEDBACK_RATE_LIMIT": "3 per fortnight"}, "FEEDBACK_RATE_LIMIT"),
    ({"RATELIMIT_STORAGE_URI": "redis"}, "RATELIMIT_STORAGE_URI"),
    ({"MIN_MONTH_COMMENTS": "0"}, "MIN_MONTH_COMMENTS"),
    ({"DATABASE_TIMEOUT_SECONDS": "0"}, "DATABASE_TIMEOUT_SECONDS"),
])
def test_bad_new_settings_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_monitor_gauges_of_a_run():
    from ytsentiment.api.metrics import monitor_families

    run = {"model_version": "3", "drift_score": 0.25, "drift_detected": False, "live_macro_f1": 0.71,
           "n_feedback": 80, "run_at": datetime(2026, 3, 2, tzinfo=UTC),
           "summary": {"drift": {"class_mix": {"window": {"negative": 0.2, "neutral": 0.3, "positive": 0.5},
                                               "baseline": {"negative": 0.9}}},
                       "live_quality": {"enough_data": True}, "params": {"drift_share": 0.4}}}
    got = {(s.name, tuple(s.labels.items())): s.value for f in monitor_families(run) for s in f.samples}
    assert got == {
        ("ytsentiment_monitor_drift_score", (("model_version", "3"),)): 0.25,
        ("ytsentiment_monitor_drift_detected", ()): 0.0,
        ("ytsentiment_monitor_live_macro_f1", (("model_version", "3"),)): 0.71,
        ("ytsentiment_monitor_feedback_count", ()): 80.0,
        ("ytsentiment_monitor_last_run_timestamp_seconds", ()): 1772409600.0,  # 2026-03-02T00:00:00Z
        ("ytsentiment_monitor_drift_threshold", ()): 0.4,
        ("ytsentiment_monitor_class_share", (("sentiment", "negative"),)): 0.2,
        ("ytsentiment_monitor_class_share", (("sentiment", "neutral"),)): 0.3,
        ("ytsentiment_monitor_class_share", (("sentiment", "positive"),)): 0.5,
    }


def test_trend_chart_writes_each_months_count_and_marks_sparse_months():
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Rectangle

    points = ([(datetime(2024, 1, d, tzinfo=UTC), 1) for d in range(1, 13)]
              + [(datetime(2024, 3, 1, tzinfo=UTC), -1), (datetime(2024, 3, 2, tzinfo=UTC), 0)])
    fig = charts.trend_figure(points, min_month_comments=10)
    ax = fig.axes[0]
    counts = [t.get_text() for t in ax.texts if t.get_gid() == "month-count"]
    assert counts == ["n=12", "n=2"]  # February had none: no point, no count
    hollow = [line for line in ax.lines if line.get_gid() == "sparse" and len(line.get_xdata())]
    filled = [line for line in ax.lines if line.get_gid() == "dense" and len(line.get_xdata())]
    assert len(hollow) == 3 and all(line.get_markerfacecolor() == "white" for line in hollow)
    assert len(filled) == 3 and all(len(line.get_xdata()) == 1 for line in hollow + filled)
    shaded = [p for p in ax.patches + ax.collections if isinstance(p, Rectangle | PolyCollection)]
    assert len(shaded) == 1  # one sparse month, one shaded column
    assert any("fewer than 10" in t.get_text() for t in ax.get_legend().get_texts())
    dense_only = charts.trend_figure(points[:12], min_month_comments=10).axes[0]
    assert not [p for p in dense_only.patches + dense_only.collections if isinstance(p, Rectangle | PolyCollection)]


@pytest.mark.parametrize(("n", "sparse"), [(9, True), (10, False)])
def test_trend_chart_sparse_month_boundary(n, sparse):
    """A month with exactly min_month_comments comments is not sparse; one fewer is (the same rule as /analyze)."""
    points = [(datetime(2024, 1, 1 + d, tzinfo=UTC), 1) for d in range(n)]
    ax = charts.trend_figure(points, min_month_comments=10).axes[0]
    hollow = [line for line in ax.lines if line.get_gid() == "sparse" and len(line.get_xdata())]
    filled = [line for line in ax.lines if line.get_gid() == "dense" and len(line.get_xdata())]
    assert (len(hollow), len(filled)) == ((3, 0) if sparse else (0, 3))

"""Pure parts: text descriptors (hand-computed), prediction rows, settings from the environment, URLs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ytsentiment import YtSentimentError
from ytsentiment.storage.db import parse_url, safe_url
from ytsentiment.storage.rows import describe, prediction_row, sha256_text
from ytsentiment.storage.settings import StorageSettings


@pytest.mark.parametrize(("text", "expected"), [
    ("", {"n_chars": 0, "n_words": 0, "emoji_share": 0.0, "non_letter_share": 0.0}),
    ("   ", {"n_chars": 3, "n_words": 0, "emoji_share": 0.0, "non_letter_share": 0.0}),
    ("Hello world", {"n_chars": 11, "n_words": 2, "emoji_share": 0.0, "non_letter_share": 0.0}),
    # 5 + 1 + 5 + "!!" + 1 + two emoji = 16 code points; visible 14, of which 4 are not letters
    ("Great video!! 😍😍", {"n_chars": 16, "n_words": 3, "emoji_share": 2 / 16, "non_letter_share": 4 / 14}),
    # thumbs up + skin tone: one emoji of two code points; nothing visible is a letter
    ("10/10 👍🏽", {"n_chars": 8, "n_words": 2, "emoji_share": 2 / 8, "non_letter_share": 1.0}),
    # accented letters are letters; runs of spaces are one separator
    ("Ça va   bien", {"n_chars": 12, "n_words": 3, "emoji_share": 0.0, "non_letter_share": 0.0}),
    # a ZWJ family: man, ZWJ, woman, ZWJ, girl = 5 code points, all one emoji
    ("\U0001F468\u200d\U0001F469\u200d\U0001F467", {"n_chars": 5, "n_words": 1, "emoji_share": 1.0,
                                                     "non_letter_share": 1.0}),
])
def test_describe_hand_computed(text, expected):
    got = describe(text)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_prediction_row():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = prediction_row(text="abc", sentiment=-1, proba=[0.6, 0.3, 0.1], model_name="m", model_version=7,
                         created_at=when, log_text=False, prediction_id="p-1")
    assert row["text"] is None  # not logged
    # sha256("abc") from FIPS 180-2's own example
    abc_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # pragma: allowlist secret
    assert row["text_sha256"] == abc_sha256
    assert (row["confidence"], row["proba_negative"], row["proba_neutral"], row["proba_positive"]) == \
        (0.6, 0.6, 0.3, 0.1)
    assert (row["id"], row["model_version"], row["sentiment"], row["n_chars"]) == ("p-1", "7", -1, 3)
    logged = prediction_row(text="abc", sentiment=0, proba=[0.2, 0.5, 0.3], model_name="m", model_version="1",
                            created_at=when, log_text=True)
    assert logged["text"] == "abc" and logged["confidence"] == 0.5 and len(logged["id"]) == 36
    with pytest.raises(ValueError, match="sentiment"):
        prediction_row(text="a", sentiment=2, proba=[0, 0, 1], model_name="m", model_version="1", created_at=when,
                       log_text=True)
    with pytest.raises(ValueError, match="proba"):
        prediction_row(text="a", sentiment=1, proba=[0, 1], model_name="m", model_version="1", created_at=when,
                       log_text=True)


def test_prediction_ids_are_random_version_4_uuids():
    import uuid

    from ytsentiment.storage.rows import new_prediction_ids

    ids = new_prediction_ids(2000)
    assert len(set(ids)) == 2000 and new_prediction_ids(0) == []
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # every hex digit of the random part takes every value (a slicing mistake would pin some position)
    positions = [{text.replace("-", "")[i] for text in ids} for i in range(32)]
    assert [len(seen) for i, seen in enumerate(positions) if i not in (12, 16)] == [16] * 30
    assert positions[12] == {"4"} and positions[16] == set("89ab")


def test_sha256_is_of_the_text_as_sent():
    assert sha256_text("é") != sha256_text("e\u0301")  # no normalisation: the hash is of what the client sent


@pytest.mark.parametrize(("env", "url", "embedded", "log_text"), [
    ({}, "sqlite:///var/ytsentiment.db", True, True),
    ({"DATABASE_URL": ""}, "sqlite:///var/ytsentiment.db", True, True),
    ({"PREDICTION_LOG_TEXT": "false"}, "sqlite:///var/ytsentiment.db", True, False),
    ({"DATABASE_URL": "postgresql+psycopg://u:p@db/x"}, "postgresql+psycopg://u:p@db/x", False, False),
    ({"DATABASE_URL": "postgresql+psycopg://u:p@db/x", "PREDICTION_LOG_TEXT": "True"},
     "postgresql+psycopg://u:p@db/x", False, True),
    ({"DATABASE_URL": "sqlite:////srv/x.db", "PREDICTION_LOG_TEXT": "off"}, "sqlite:////srv/x.db", False, False),
])
def test_settings_database_and_text(env, url, embedded, log_text):
    s = StorageSettings.from_env(env)
    assert (s.database_url, s.embedded, s.log_text) == (url, embedded, log_text)


def test_settings_numbers():
    s = StorageSettings.from_env({"PREDICTION_LOG_RETENTION_DAYS": "7", "FEEDBACK_EXPORT_MAX_PER_CLIENT": "5",
                                  "FEEDBACK_EXPORT_MIN_AGREEMENT": "0.75", "FEEDBACK_EXPORT_BURST": "3",
                                  "PREDICTION_LOG_WRITER": "external"})
    assert (s.retention_days, s.export_max_per_client, s.export_min_agreement, s.export_burst, s.log_writer) == (
        7, 5, 0.75, 3, "external")
    d = StorageSettings.from_env({})
    assert (d.retention_days, d.export_burst, d.log_writer) == (30, 10, "master")
    spool = StorageSettings.from_env({"PREDICTION_LOG_SPOOL_DIR": "/srv/spool", "PREDICTION_LOG_SPOOL_BYTES": "0",
                                      "PREDICTION_LOG_SEGMENT_BYTES": "4096", "PREDICTION_LOG_SEGMENT_SECONDS": "0.5"})
    assert (spool.spool_dir, spool.spool_bytes, spool.segment_bytes, spool.segment_seconds) == (
        "/srv/spool", 0, 4096, 0.5)
    assert (d.spool_dir, d.spool_bytes, d.segment_bytes, d.segment_seconds) == (
        "var/prediction-spool", 1 << 30, 1 << 20, 1.0)


@pytest.mark.parametrize(("env", "message"), [
    ({"PREDICTION_LOG_TEXT": "maybe"}, "PREDICTION_LOG_TEXT='maybe': must be a boolean"),
    ({"PREDICTION_LOG_SEGMENT_BYTES": "0"}, "PREDICTION_LOG_SEGMENT_BYTES='0': must be an integer >= 1"),
    ({"FEEDBACK_EXPORT_BURST": "lots"}, "FEEDBACK_EXPORT_BURST='lots': must be an integer >= 1"),
    ({"PREDICTION_LOG_RETENTION_DAYS": "1.5"}, "PREDICTION_LOG_RETENTION_DAYS"),
    ({"PREDICTION_LOG_SEGMENT_SECONDS": "0"}, "PREDICTION_LOG_SEGMENT_SECONDS='0'"),
    ({"PREDICTION_LOG_SPOOL_BYTES": "-1"}, "PREDICTION_LOG_SPOOL_BYTES='-1'"),
    ({"FEEDBACK_EXPORT_MIN_AGREEMENT": "0.2"}, "FEEDBACK_EXPORT_MIN_AGREEMENT"),
])
def test_settings_refuse_bad_values(env, message):
    with pytest.raises(YtSentimentError, match=message):
        StorageSettings.from_env(env)


def test_urls():
    url = "postgresql+psycopg://app:s3cret@db:5432/yt"  # pragma: allowlist secret
    assert safe_url(url) == "postgresql+psycopg://app:***@db:5432/yt"
    with pytest.raises(YtSentimentError, match="not a SQLAlchemy URL"):
        parse_url("localhost:5432")

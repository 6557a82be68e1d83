"""The settings classes read from the environment: each bad value gets one line naming its variable and what it
accepts; blank means the default; fields only code sets are never read from a variable of the same name."""

from __future__ import annotations

import pytest

from ytsentiment import YtSentimentError
from ytsentiment.api.settings import Settings
from ytsentiment.batch.score import SparkSettings
from ytsentiment.batch.youtube import ClientSettings
from ytsentiment.config import ProjectSettings
from ytsentiment.deploy.cli import DeploySettings
from ytsentiment.environ import SettingsError
from ytsentiment.logs import LogSettings
from ytsentiment.storage.settings import StorageSettings

KEY = {"YOUTUBE_API_KEY": "k"}


@pytest.mark.parametrize(("cls", "env", "line"), [
    (StorageSettings, {"PREDICTION_LOG_SEGMENT_BYTES": "abc"},
     "PREDICTION_LOG_SEGMENT_BYTES='abc': must be an integer >= 1"),
    (StorageSettings, {"PREDICTION_LOG_SEGMENT_SECONDS": "0"},
     "PREDICTION_LOG_SEGMENT_SECONDS='0': must be a number between 0.01 and 3600"),
    (StorageSettings, {"PREDICTION_LOG_WRITER": "sidecar"}, "PREDICTION_LOG_WRITER='sidecar': must be one of"),
    (StorageSettings, {"FEEDBACK_EXPORT_MIN_AGREEMENT": "1.5"},
     "FEEDBACK_EXPORT_MIN_AGREEMENT='1.5': must be a number between 0.5 and 1.0"),
    (LogSettings, {"LOG_LEVEL": "loud"}, "LOG_LEVEL='LOUD': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    (ClientSettings, {**KEY, "YOUTUBE_MAX_RETRIES": "21"}, "YOUTUBE_MAX_RETRIES='21': must be an integer between 0 "
                                                           "and 20"),
    (ClientSettings, {**KEY, "YOUTUBE_TIMEOUT": "0"}, "YOUTUBE_TIMEOUT='0': must be a number between 0.1 and 600.0"),
    (ClientSettings, {}, "YOUTUBE_API_KEY is not set: export a YouTube Data API v3 key"),
    (DeploySettings, {"DEPLOY_TIMEOUT": "-1"}, "DEPLOY_TIMEOUT='-1': must be a number > 0"),
    (Settings, {"DATABASE_TIMEOUT_SECONDS": "61"},
     "DATABASE_TIMEOUT_SECONDS='61': must be a number between 0.1 and 60"),
])
def test_a_bad_value_gets_one_line_naming_the_variable(cls, env, line):
    with pytest.raises(SettingsError) as caught:
        cls.from_env(env)
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value)
    assert isinstance(caught.value, YtSentimentError) and isinstance(caught.value, ValueError)


def test_several_bad_values_one_line_each_in_one_error():
    env = {"PREDICTION_LOG_TEXT": "maybe", "PREDICTION_LOG_SEGMENT_BYTES": "-3", "PREDICTION_LOG_RETENTION_DAYS": "1.5"}
    with pytest.raises(SettingsError) as caught:
        StorageSettings.from_env(env)
    assert str(caught.value).splitlines() == [
        "PREDICTION_LOG_TEXT='maybe': must be a boolean: true or false (on/off, yes/no, 1/0)",
        "PREDICTION_LOG_RETENTION_DAYS='1.5': must be an integer >= 1",
        "PREDICTION_LOG_SEGMENT_BYTES='-3': must be an integer >= 1",
    ]


def test_blank_means_the_default_and_values_are_stripped():
    s = StorageSettings.from_env({"PREDICTION_LOG_SPOOL_BYTES": "  ", "PREDICTION_LOG_SEGMENT_BYTES": " 50 ",
                                  "DATABASE_URL": ""})
    assert (s.spool_bytes, s.segment_bytes, s.database_url, s.embedded) == (1 << 30, 50, "sqlite:///var/ytsentiment.db",
                                                                            True)
    assert Settings.from_env({"MAX_COMMENTS": "", "MODEL_URI": " m/ "}).model_dump(include={"max_comments",
                                                                                         "model_uri"}) == {
        "max_comments": 1000, "model_uri": "m/"}
    assert LogSettings.from_env({"LOG_LEVEL": "debug"}).log_level == "DEBUG"


def test_fields_only_code_sets_ignore_variables_of_the_same_name():
    s = Settings.from_env({"DATABASE_URL": "sqlite:///x.db", "MODEL_LOADER": "os.system", "LOAD_IN_BACKGROUND": "no",
                           "PREDICTION_LOG_TEXT": "true", "STORAGE": "{}"})
    assert (s.database_url, s.model_loader, s.load_in_background, s.prediction_log_text) == (None, None, True, None)


def test_the_environment_is_read_by_from_env_only(monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://h:7077")
    monkeypatch.setenv("MODEL_NAME", "other")
    assert SparkSettings.from_env().spark_master == "spark://h:7077"
    assert SparkSettings().spark_master is None  # constructing alone gives the defaults: tests build them freely
    assert ProjectSettings.from_env().model_name == "other"


def test_the_api_key_stays_out_of_the_repr():
    key = "not-a-real-key"  # pragma: allowlist secret
    assert key not in repr(ClientSettings.from_env({"YOUTUBE_API_KEY": key}))


def test_deploy_flags_default_to_their_variables():
    d = DeploySettings.from_env({"AWS_DEFAULT_REGION": "eu-west-1", "DEPLOY_TIMEOUT": "60"}).defaults()
    assert (d["region"], d["timeout"], d["bundle_prefix"], d["bucket"]) == ("eu-west-1", 60.0, "codedeploy", None)


def test_an_optional_field_is_described_by_its_type():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}, prediction_log_text="maybe")  # bool | None
    assert str(caught.value) == "PREDICTION_LOG_TEXT='maybe': must be a boolean: true or false (on/off, yes/no, 1/0)"

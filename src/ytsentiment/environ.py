"""Settings from environment variables: the base of every settings class, and the ``.env`` loader.

Each concern has one ``EnvSettings`` subclass (the API's ``api.settings.Settings``, gunicorn's ``ServerSettings``,
``storage.settings.StorageSettings``, ``batch.youtube.ClientSettings``, ``batch.score.SparkSettings``,
``config.ProjectSettings``, ``logs.LogSettings``, ``deploy.cli.DeploySettings``), read once by its entry point with
``from_env()`` and passed down. Fields carry their bounds, so a bad value fails with one line per variable:
``SettingsError("PREDICTION_LOG_SEGMENT_BYTES='lots': must be an integer >= 1")``. A variable that is unset, empty or
blank takes the field's default.

``load_env_file()`` reads ``.env`` into the environment; only entry points call it (the ``ytsentiment`` CLI's
``main``, the API's gunicorn config), never library code. It fills ``os.environ`` (rather than pydantic-settings'
own ``env_file``) because third-party libraries read their variables from there too (MLFLOW_TRACKING_URI, AWS_*).
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources import PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from ytsentiment import YtSentimentError

NOT_FROM_ENV: JsonDict = {"env": False}  # json_schema_extra of a field only the code sets (a test hook, an engine)
BOOLEAN = "a boolean: true or false (on/off, yes/no, 1/0)"
BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


class SettingsError(YtSentimentError, ValueError):
    """Bad settings: one line per variable, naming it. A ``YtSentimentError`` (the CLI prints it and exits 2) and
    a ``ValueError`` (what ``create_app`` raises for a bad value)."""


class _Environ(EnvSettingsSource):
    """The environment source over a given mapping (``os.environ`` by default), values stripped; fields marked
    ``NOT_FROM_ENV`` are never read from it."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        stripped = {k: v.strip() for k, v in self._environ.items()}
        return parse_env_vars(stripped, self.case_sensitive, True, self.env_parse_none_str)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field.json_schema_extra == NOT_FROM_ENV:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class EnvSettings(BaseSettings):
    """Frozen settings whose fields are read from environment variables (the field name upper-cased, or its
    ``validation_alias``); keyword arguments of ``from_env`` override them."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, validate_by_name=True, validate_by_alias=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment is read by from_env only: cls(...) alone never looks at it

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """The settings from ``environ`` (default ``os.environ``), then ``overrides`` (by field name)."""
        values = _Environ(cls, os.environ if environ is None else environ)()
        try:
            return cls(**{**values, **overrides})
        except ValidationError as exc:
            raise SettingsError(describe_errors(cls, exc)) from None


def variable(name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from."""
    return field.validation_alias if isinstance(field.validation_alias, str) else name.upper()


def describe_errors(cls: type[BaseSettings], exc: ValidationError) -> str:
    """One line per variable: ``NAME='value': must be ...`` (a custom check's own words, or the field's bounds)."""
    by_key = {key: (name, f) for name, f in cls.model_fields.items() for key in (name, variable(name, f))}
    lines: dict[str, str] = {}
    for err in exc.errors():
        name, field = by_key.get(str(err["loc"][0]) if err["loc"] else "", (None, None))
        if field is None or name is None:
            key = ".".join(map(str, err["loc"]))
            lines.setdefault(key, f"unknown setting {key!r}" if err["type"] == "extra_forbidden" else err["msg"])
            continue
        env = variable(name, field)
        if err["type"] == "missing":
            lines.setdefault(env, f"{env} is not set" + (f": {field.description}" if field.description else ""))
        elif err["type"] == "value_error":
            lines.setdefault(env, f"{env}={err['input']!r}: {err['ctx']['error']}")
        else:
            lines.setdefault(env, f"{env}={err['input']!r}: must be {expected(field)}")
    return "\n".join(lines.values())


def expected(field: FieldInfo) -> str:
    """What a field accepts, in words: ``an integer >= 1``, ``a number between 0.1 and 60``, ``one of a, b``."""
    kind = field.annotation
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    if args and kind not in (bool, int, float):
        kind = args[0]
    if kind is bool:
        return BOOLEAN
    bounds = {name: getattr(m, name) for m in field.metadata for name in BOUNDS if hasattr(m, name)}
    noun = {"int": "an integer", "float": "a number"}.get(getattr(kind, "__name__", ""), f"a {kind}")
    if bounds.keys() == {"ge", "le"}:
        return f"{noun} between {bounds['ge']} and {bounds['le']}"
    return " ".join([noun, *(f"{BOUNDS[name]} {value}" for name, value in bounds.items())])


def load_env_file(path: str | Path = ".env", environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set the variables of ``path`` (default ``.env`` in the working directory) that ``environ`` (default
    ``os.environ``) lacks; returns their names. A variable already set wins, even when set to an empty string;
    a blank value in the file means "the default" and is not set (``.env.example`` lists every variable, most
    blank). No file: nothing happens."""
    file = Path(path)
    if not file.is_file():
        return []
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    added = []
    for name, value in dotenv_values(file).items():
        if value and name not in environ:
            environ[name] = value
            added.append(name)
    return added

"""Settings from environment variables: one reader for booleans and bounded numbers, whose errors name the variable.

Used by every settings object read from the environment (the prediction log's ``storage.settings``, the YouTube
client's ``batch.youtube.ClientSettings``, the API's ``ytsentiment.api.settings``), so ``PREDICTION_LOG_TEXT=maybe`` or
``YOUTUBE_MAX_RETRIES=-1`` fail the same way everywhere: ``YtSentimentError`` with what to set instead.

``load_env_file()`` reads ``.env`` into the environment; only entry points call it (the ``ytsentiment`` CLI's
``main``, the API's gunicorn config), never library code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TypeVar

from ytsentiment import YtSentimentError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
N = TypeVar("N", int, float)


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


def parse_bool(name: str, value: str) -> bool:
    """``true/false``, ``on/off``, ``yes/no`` or ``1/0`` (any case) as a bool."""
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise YtSentimentError(f"{name}={value!r} is not a boolean: use true or false (on/off, yes/no, 1/0)")


def env_number(env: Mapping[str, str], name: str, default: N, kind: type[N], minimum: N,
               maximum: N | None = None) -> N:
    """``env[name]`` as ``kind`` within [minimum, maximum]; ``default`` when unset or blank."""
    raw = str(env.get(name, "")).strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise YtSentimentError(f"{name}={raw!r}: expected {'an integer' if kind is int else 'a number'} {bounds}")
    return value

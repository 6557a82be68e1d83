"""A small reader for the repo's Dockerfile, so tests run the image's own steps instead of a copy of them."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs, continuation lines joined, comments and parser directives dropped."""
    out, buffer = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):  # comments inside a continued instruction are ignored by docker
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buffer = ""
    assert not buffer, "the Dockerfile ends inside a continued instruction"
    return out


def stages(text: str) -> list[Stage]:
    args = {}
    result: list[Stage] = []
    for keyword, value in instructions(text):
        if keyword == "ARG" and not result:
            name, _, default = value.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = value.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(result))
            result.append(Stage(base, name))
        else:
            assert result, f"{keyword} before FROM"
            result[-1].instructions.append((keyword, value))
    return result


def env_pairs(args: str) -> dict[str, str]:
    """``ENV A=1 B="two words"`` -> {"A": "1", "B": "two words"} (only the key=value form is used here)."""
    pairs = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        assert sep, f"ENV {args!r}: use the key=value form"
        pairs[key] = value
    return pairs


def copy_args(args: str) -> tuple[dict[str, str], list[str], str]:
    """``COPY [--from=x] src... dest`` -> (flags, sources, dest)."""
    tokens = shlex.split(args)
    flags = {}
    while tokens and tokens[0].startswith("--"):
        key, _, value = tokens.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, tokens[:-1], tokens[-1]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_command(args: str) -> list[str]:
    options, _, command = args.partition("CMD ")
    assert command, f"HEALTHCHECK without CMD: {args!r}"
    return exec_form(command.strip())

"""Recording stand-ins for the docker and aws clients (no Docker engine or AWS CLI runs here).

Each appends the command line it was called with to $FAKE_LOG, and answers the few queries the scripts make.
"""

from __future__ import annotations

import os
from pathlib import Path

FAKE_DOCKER = r"""#!/bin/bash
# Records every call; answers `inspect` from FAKE_* variables.
printf 'docker %s\n' "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "container inspect") [[ ${FAKE_CONTAINER_EXISTS:-0} == 1 ]] ;;
  "inspect --format")
    case "$3" in
      *State.Running*) [[ -n ${FAKE_RUNNING:-} ]] && echo "$FAKE_RUNNING" || exit 1 ;;
      *Config.Image*) echo "${FAKE_IMAGE:-}" ;;
    esac ;;
  "login --username") printf 'password-stdin %s\n' "$(cat)" >> "$FAKE_LOG" ;;
  "info "*|"version "*) echo "27.0.0" ;;
  "logs --tail") echo "fake container log line" ;;
  *) exit 0 ;;
esac
"""
FAKE_AWS = r"""#!/bin/bash
printf 'aws %s\n' "$*" >> "$FAKE_LOG"
[[ "$1 $2" == "ecr get-login-password" ]] && echo "ecr-token-from-fake"
[[ "$1 $2" == "ssm get-parameter" ]] && { [[ -n ${FAKE_SSM_VALUE:-} ]] && echo "$FAKE_SSM_VALUE" || exit 254; }
[[ "$1" == "--version" ]] && echo "aws-cli/2.0.0"
exit 0
"""
FAKE_RECORDER = r"""#!/bin/bash
printf '%s %s\n' "$(basename "$0")" "$*" >> "$FAKE_LOG"
"""


def write_exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def install_fakes(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """Fake docker and aws in ``tmp_path/bin``; returns (bin dir, call log, env with PATH and FAKE_LOG set)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_exe(bin_dir / "docker", FAKE_DOCKER)
    write_exe(bin_dir / "aws", FAKE_AWS)
    log = tmp_path / "calls.log"
    log.touch()
    return bin_dir, log, {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log)}

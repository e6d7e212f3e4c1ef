"""PURE: what the Compose CLI prints besides the model: its version, its warnings and its
errors, read from the text (tests/fixtures/compose/ holds compose 2.26.1's own).

Compose logs through logrus: without a terminal a warning is one line
`time="..." level=warning msg="..."`; a fatal error is printed plainly and the exit status
is not 0. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
_LOGRUS = re.compile(r'^time="[^"]*"\s+level=(\w+)\s+msg="((?:[^"\\]|\\.)*)"')


def major_version(text: str) -> int | None:
    """The major version in `docker compose version --short`'s output ("2.26.1-4", "1.29.2",
    "v2.27.0"); None when there is none."""
    found = _VERSION.search(text.strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Message:
    """One line of compose's stderr: its level and its text."""

    level: str  # "warning", "error", ... (logrus'); "error" for a plain line
    text: str


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def messages(stderr: str) -> tuple[Message, ...]:
    """Compose's stderr as messages, one per line: logrus lines by their level and msg, any
    other line as an error (compose prints its fatal error plainly)."""
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        found = _LOGRUS.match(line)
        if found is not None:
            out.append(Message(found.group(1), _unquote(found.group(2))))
        else:
            out.append(Message("error", line))
    return tuple(out)


def error_line(stderr: str, status: int) -> str:
    """The error of a compose command that exited `status`, in one line."""
    errors = [m.text for m in messages(stderr) if m.level in ("error", "fatal", "panic")]
    return "; ".join(errors) or f"docker compose exited {status}"

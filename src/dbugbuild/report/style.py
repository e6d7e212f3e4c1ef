"""PURE: how the text renderings look, written once: colour, source excerpts, short ids.

The build report (render.py) and the bisection's answer (bisect/render.py) both show a
Dockerfile excerpt with a marker and name images by a short id; they share these.
"""

from __future__ import annotations

from collections.abc import Sequence


class Paint:
    """SGR colour codes around text, or the text alone when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text


def excerpt(lines: Sequence[str], first: int, paint: Paint) -> list[str]:
    """Source lines from line `first` on, numbered and marked: `  > 12 | RUN ...`."""
    width = len(str(first + len(lines) - 1))
    return [
        f"  {paint('1;31', '>')} {str(first + offset).rjust(width)} | {src}"
        for offset, src in enumerate(lines)
    ]


def short_id(object_id: str) -> str:
    """An image or container id as docker shows it: 12 hex digits, without `sha256:`."""
    return object_id.removeprefix("sha256:")[:12]

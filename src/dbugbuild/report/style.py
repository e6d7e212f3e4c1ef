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


# Characters inside a Dockerfile line (dockerfile.lines) that a terminal would not show as
# written: a lone CR returns to the line's start, FF and VT move down, U+2028/U+2029 may break
# it; the other C0 controls (TAB aside), DEL and C1 too. Shown escaped, so one source line
# stays one excerpt line.
_HIDDEN = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0))}
_HIDDEN.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def shown(line: str) -> str:
    """A source line as the excerpt prints it: characters a terminal would act on escaped."""
    return line.translate(_HIDDEN)


def excerpt(lines: Sequence[str], first: int, paint: Paint) -> list[str]:
    """Source lines from line `first` on, numbered and marked: `  > 12 | RUN ...`."""
    width = len(str(first + len(lines) - 1))
    return [
        f"  {paint('1;31', '>')} {str(first + offset).rjust(width)} | {shown(src)}"
        for offset, src in enumerate(lines)
    ]


def short_id(object_id: str) -> str:
    """An image or container id as docker shows it: 12 hex digits, without `sha256:`."""
    return object_id.removeprefix("sha256:")[:12]

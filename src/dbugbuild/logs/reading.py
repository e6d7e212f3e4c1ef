"""PURE: what the streaming parsers share while they read: a step as read so far, where a CI
retry loop's last build starts in a block of lines, feeding a parser its chunks.

Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dbugbuild.logs.text import GATHER, LineBlocks

Result = TypeVar("Result", covariant=True)


class Feedable(Protocol[Result]):
    """A streaming parser: feed() any pieces of text, then close() once."""

    def feed(self, chunk: str) -> None: ...
    def close(self) -> Result: ...


def feed_all(parser: Feedable[Result], chunks: Iterable[str]) -> Result:
    """Feed every chunk to the parser, then close it: its result."""
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


class BlockReader:
    """The input side of a parser that reads blocks of whole lines (text.LineBlocks):
    feed(), and the end of the input for its close(); the parser reads each in _read()."""

    def __init__(self) -> None:
        self._lines = LineBlocks(gather=GATHER)
        self._closed = False

    def feed(self, chunk: str) -> None:
        """Take the next piece of the log (any size, cut anywhere)."""
        if self._closed:
            raise ValueError(f"feed() after close(): this {type(self).__name__} is finished")
        block = self._lines.push(chunk)
        if block:
            self._read(block)

    def _end_input(self) -> None:
        """Read what is left of the input, once (close() calls it first)."""
        if not self._closed:
            self._closed = True
            block = self._lines.finish()
            if block:
                self._read(block)

    def _read(self, block: str) -> None:
        raise NotImplementedError


@dataclass(kw_only=True)
class StepBuilder:
    """A step as the log has told it so far (what the classic and Buildah families share)."""

    index: int
    total: int | None
    text: str
    instruction: str
    tail: deque[str]
    image: str | None = None
    cached: bool = False
    lines: int = 0  # output lines seen (the tail keeps the last ones)

    def fields(self) -> dict[str, Any]:
        """The fields every frozen Step has, as read so far."""
        return {
            "index": self.index,
            "total": self.total,
            "text": self.text,
            "instruction": self.instruction,
            "image": self.image,
            "cached": self.cached,
            "output_tail": tuple(self.tail),
            "output_lines": self.lines,
        }


Lines = Callable[[int, int], bool]  # a test of the line text[start:end]


def last_restart(
    text: str, pos: int, restart: tuple[str, Lines], step: tuple[str, Lines], had_steps: bool
) -> tuple[int, int] | None:
    """The (start, end) of the last line of text[pos:] (whole lines, each ending in \\n) that
    holds restart's marker and that its test takes for the start of a build, when the build
    before it has a step: since the restart before it (or pos) a line holding step's marker
    that its test takes, or, with no restart before it, `had_steps` (the parser's state at
    pos). None when there is no such line.

    A parser that starts a new build at such a line can go on reading from its end, its
    state set as the line sets it: nothing before it shows in the result.
    """
    (marker, restarts), (step_marker, is_step) = restart, step
    end, later = len(text), None
    while True:
        hit = text.rfind(marker, pos, end)
        start = text.rfind("\n", pos, hit) + 1 or pos if hit >= 0 else pos
        if hit >= 0 and not restarts(start, text.index("\n", hit)):
            end = start
            continue
        since = pos if hit < 0 else text.index("\n", hit) + 1
        stepped = hit < 0 and had_steps
        if later is not None and (stepped or any_line(text, since, later[0], step_marker, is_step)):
            return later
        if hit < 0:
            return None
        later, end = (start, text.index("\n", hit)), start


def any_line(text: str, start: int, stop: int, marker: str, accepts: Lines) -> bool:
    """Whether a line of text[start:stop] holding `marker` is one `accepts` takes."""
    hit = text.find(marker, start, stop)
    while hit >= 0:
        line_start = text.rfind("\n", start, hit) + 1 or start
        line_end = text.index("\n", hit)
        if accepts(line_start, line_end):
            return True
        hit = text.find(marker, line_end, stop)
    return False

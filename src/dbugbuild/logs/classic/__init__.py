"""PURE: classic `docker build` output -> steps, image ids and the failure.

Reads what the legacy builder (DOCKER_BUILDKIT=0) prints, as the docker CLI shows it or
as the Engine API streams it, in any chunking, from Docker 1.x (`Step 0 :`, bracketed
commands, logrus/Go-log prefixed errors) to Engine 20.10+ (`Step 1/6 :`), also when a CI
system or wrapper added timestamps, indentation, ANSI colour or CR/CRLF line endings.
Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- One pass, streaming: `ClassicParser.feed` takes any piece of text (partial lines,
  several lines, an ANSI sequence cut in two); the result does not depend on how the
  text was chunked. Memory grows with the number of steps, not with their output: at
  most `tail` output lines per step, plus one block of lines (256 Ki characters) and one
  unfinished line (cut at 1 Mi characters).
- Fast: a step's output is skipped in bulk between the lines that can matter, and a CI
  retry loop's earlier builds are skipped (see parser.py): within 10x `grep -n`.
- Output lines are reported without ANSI codes, CI prefix and wrapper indentation, and
  without the builder's bookkeeping (` ---> ...`, `Removing intermediate container`,
  the daemon's pull progress in FROM/COPY/ADD steps) and blank lines.
- Ids are reported as the log prints them (12 hex digits); an Engine API `aux` ID is
  shortened the same way, so the CLI text and the API stream of a build parse alike.
- Input with no classic build output (garbage, an empty string, a BuildKit log) raises
  `LogFormatError`, never returns a half-empty `BuildLog`.
- When a log holds several builds (a CI retry), the result describes the last one.
"""

from __future__ import annotations

from collections.abc import Iterable

from dbugbuild.logs.classic.parser import ClassicParser
from dbugbuild.logs.model import BuildLog
from dbugbuild.logs.reading import feed_all

__all__ = ["ClassicParser", "parse"]


def parse(chunks: Iterable[str], tail: int = 20) -> BuildLog:
    """Parse classic build output arriving in chunks; see ClassicParser."""
    return feed_all(ClassicParser(tail=tail), chunks)

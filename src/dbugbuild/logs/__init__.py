"""PURE: build output -> BuildLog, for every log family, behind one entry.

A *family* is a builder's output format: "classic" (the legacy builder, as the docker CLI
prints it), "buildkit" (BuildKit's plain progress, `docker buildx build --progress=plain`)
and "buildah" (`podman build`, `buildah bud`). Each family is one module (or package) with
an incremental parser (feed text in any chunks, close() -> BuildLog, LogFormatError when
the text holds none of its output), registered in `_PARSERS`, and, when it can be told
from the others by its text, a test in `detect`. A family's modules load when its parser is
first asked for: a build reads one family, and its run pays for that one only.
Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from dbugbuild.logs.apistream import api_stream_text
from dbugbuild.logs.model import BuildLog, ExcerptLine, Failure, LogFormatError, Step
from dbugbuild.logs.reading import feed_all
from dbugbuild.logs.text import split_lines, strip_ansi

if TYPE_CHECKING:
    from dbugbuild.logs.buildkit import TtyProgressError

__all__ = [
    "FAMILIES",
    "BuildLog",
    "ExcerptLine",
    "Failure",
    "LogFormatError",
    "LogParser",
    "Step",
    "TtyProgressError",
    "api_stream_text",
    "decode",
    "detect",
    "parse",
    "parser",
    "read",
    "read_family",
    "read_stream",
    "split_lines",
    "strip_ansi",
]


class LogParser(Protocol):
    """A family's streaming parser: feed() any pieces of text, then close() once."""

    def feed(self, chunk: str) -> None: ...
    def close(self) -> BuildLog: ...


def _classic() -> Callable[[int], LogParser]:
    from dbugbuild.logs.classic import ClassicParser

    return ClassicParser


def _buildkit() -> Callable[[int], LogParser]:
    from dbugbuild.logs.buildkit import BuildKitParser

    return BuildKitParser


def _buildah() -> Callable[[int], LogParser]:
    from dbugbuild.logs.buildah import BuildahParser

    return BuildahParser


# family -> its parser class, imported when first asked for
_PARSERS: dict[str, Callable[[], Callable[[int], LogParser]]] = {
    "classic": _classic,
    "buildkit": _buildkit,
    "buildah": _buildah,
}
FAMILIES = tuple(_PARSERS)


def __getattr__(name: str) -> Any:
    if name == "TtyProgressError":  # BuildKit's: its package loads when it is first named
        from dbugbuild.logs.buildkit import TtyProgressError

        return TtyProgressError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def detect(text: str) -> str:
    """The family of a saved log, from its first text (a few KB are enough).

    BuildKit's plain (or tty) progress is told by its `#N ...` lines, Buildah's output by
    its `STEP i/n:` lines or its `building at STEP` error; "classic" is the
    fallback, whose parser names what it found when the text is no build log at all. A
    new family puts its own test before the fallback.
    """
    from dbugbuild.logs.buildah import looks_like_buildah
    from dbugbuild.logs.buildkit import looks_like_buildkit

    if looks_like_buildkit(text):  # `#N [stage i/n] ...`: every BuildKit line is prefixed
        return "buildkit"
    if looks_like_buildah(text):  # `STEP 1/3: FROM ...`, Buildah's `building at STEP "..."`
        return "buildah"
    return "classic"


def parser(family: str = "classic", tail: int = 20) -> LogParser:
    """A new streaming parser of `family`, keeping `tail` output lines per step."""
    try:
        factory = _PARSERS[family]()
    except KeyError:
        raise ValueError(f"no log family {family!r}; known: {', '.join(FAMILIES)}") from None
    return factory(tail)


def parse(chunks: Iterable[str], family: str = "classic", tail: int = 20) -> BuildLog:
    """Parse output of `family` arriving in chunks; LogFormatError when it holds none."""
    return feed_all(parser(family, tail), chunks)


def decode(text: str) -> Iterator[str]:
    """A saved log's text as the CLI shows it: the Engine API's /build JSON stream (as tools
    that drive the API save it) decoded, any other text as it is."""
    return _decoded(iter([text]))


def read(text: str, tail: int = 20) -> BuildLog:
    """A saved log: decoded, its family detected on its first text, parsed."""
    return read_stream([text], tail)[1]


def read_family(text: str, tail: int = 20) -> tuple[str, BuildLog]:
    """A saved log's family (detected on its first decoded text) and the log parsed."""
    return read_stream([text], tail)


DETECT_HEAD = 1 << 16  # characters of a log its family is told from (detect's tests read less)


def read_stream(chunks: Iterable[str], tail: int = 20) -> tuple[str, BuildLog]:
    """A saved log arriving in chunks (a file read piece by piece): decoded, its family
    detected on its first DETECT_HEAD characters, parsed as it comes, in bounded memory."""
    text = _decoded(iter(chunks))
    head, size = [], 0
    for chunk in text:
        head.append(chunk)
        size += len(chunk)
        if size >= DETECT_HEAD:
            break
    first = "".join(head)
    family = detect(first)
    return family, parse(itertools.chain([first], text), family, tail)


def _decoded(chunks: Iterator[str]) -> Iterator[str]:
    """The chunks as the CLI shows them: an Engine API /build JSON stream (its first text
    that is not blank starts with `{`) decoded, other text as it is."""
    blank, size = [], 0
    for chunk in chunks:
        blank.append(chunk)
        size += len(chunk)
        if size > DETECT_HEAD or chunk.strip():
            break
    start = itertools.chain(blank, chunks)
    if "".join(blank).lstrip().startswith("{"):
        return api_stream_text(start)
    return start

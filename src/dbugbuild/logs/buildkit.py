"""BuildKit's plain progress output -> Dockerfile steps, other vertices, the failure. PURE.

Reads what `docker buildx build --progress=plain` (and `docker build` with BuildKit, `docker
compose build`, `buildctl`) prints, from BuildKit 0.6 (`executor failed running [...]`, no
Dockerfile excerpt) through 0.9+ (`process "..." did not complete successfully: exit code: N`,
the `Dockerfile:LINE` excerpt) to buildx 0.25+ (`ERROR: failed to build: failed to solve: ...`),
also with CI timestamps (GitHub Actions, Jenkins), ANSI colour and CRLF line endings.
Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- Streaming: `BuildKitLogParser.feed` takes text cut anywhere; the result does not depend on
  the chunking. Memory is bounded by the number of vertices, not by their output: at most
  `tail` output lines per vertex, one unfinished line (cut at 1 Mi characters) and the chunk
  being read.
- Fast: runs of step output (`#N 1.234 text`), the bulk of a big log, are found and counted
  by one regular-expression scan per chunk; only the few other lines are handled one by one.
- Input that holds no BuildKit plain progress (garbage, empty, a classic-builder log, a bare
  fragment) raises `BuildKitLogError`; BuildKit's tty progress saved to a file raises
  `TtyProgressError` (both are `LogFormatError`s). Never a half-empty `BuildKitLog`.
- When a log holds several builds (a CI retry, several `docker build` in one job), the
  result describes the last one.

The shapes come from BuildKit's own printers (read, not copied): moby/buildkit
util/progress/progressui/printer.go (`textMux.printVtx`: the `#N name` header, `#N <status>`,
`#N ...` when another vertex takes over, `#N DONE 0.3s` / `#N CACHED` / `#N ERROR: msg` /
`#N CANCELED`, `#N WARN: msg`), display.go (`trace.update`: each output line is prefixed with
its seconds since the vertex started, 3/2/1 decimals below 10/100 s and above;
`printErrorLogs`: the `------` / ` > name:` / last lines / `------` block), and
frontend/dockerfile/dockerfile2llb/convert.go (`prefixCommand`: `[platform stage i/n] ` with
the index padded to the width of n, `ONBUILD ` for triggers in newer versions, and no stage
name when the Dockerfile has one stage). Wordings of errors: solver/llbsolver/ops/exec.go
(`process %q did not complete successfully`, since moby/buildkit#2215, v0.9; `executor failed
running %v` before). buildx commands/build.go `printWarnings` prints the build-check summary.
Everything else is as recorded under tests/fixtures/buildkit/ (Engine 26.1.5, buildx 0.13.1).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from dbugbuild.logs.model import LogFormatError
from dbugbuild.logs.text import strip_ansi

__all__ = [
    "BuildKitLog",
    "BuildKitLogError",
    "BuildKitLogParser",
    "ExcerptLine",
    "Failure",
    "Step",
    "TtyProgressError",
    "Vertex",
    "VertexState",
    "looks_like_buildkit",
    "parse",
]

VertexState = Literal["running", "done", "cached", "error", "canceled"]


class BuildKitLogError(LogFormatError):
    """The input holds no recognisable BuildKit plain progress output."""


class TtyProgressError(BuildKitLogError):
    """The input is BuildKit's tty progress (redrawn screens), which cannot be read reliably."""


@dataclass(frozen=True)
class Step:
    """A vertex that is a Dockerfile instruction: `#N [stage i/n] INSTR ...`."""

    vertex: int | None  # N of `#N`; None when only the error block names the step
    name: str  # the vertex name as printed, e.g. '[stage-0 2/3] RUN echo hi'
    stage: str | None  # as printed: a stage name, `stage-0`, or None (one-stage Dockerfile)
    platform: str | None  # `linux/arm64` in multi-platform builds, else None
    index: int  # i of `i/n`: BuildKit counts per stage
    total: int  # n of `i/n`
    instruction: str  # upper-case keyword, e.g. 'RUN'
    text: str  # the instruction as echoed, e.g. 'RUN <<EOT (set -e...)'
    onbuild: bool  # `ONBUILD ` before the instruction (a trigger, newer BuildKit)
    state: VertexState
    error: str | None  # the text of `#N ERROR: ...`
    output_tail: tuple[str, ...]  # the last output lines, without `#N 1.234 `
    output_lines: int  # how many output lines the vertex printed
    clipped: bool  # BuildKit said `[output clipped, log limit ... reached]`

    @property
    def named_stage(self) -> str | None:
        """The stage's name, or None for an unnamed stage (BuildKit shows it as `stage-N`)."""
        if self.stage is None or re.fullmatch(r"stage-\d+", self.stage):
            return None
        return self.stage


@dataclass(frozen=True)
class Vertex:
    """A vertex that is not a Dockerfile step: `[internal] load ...`, `exporting to image`..."""

    vertex: int
    name: str
    state: VertexState
    error: str | None
    output_tail: tuple[str, ...]
    output_lines: int


@dataclass(frozen=True)
class ExcerptLine:
    """One line of the `Dockerfile:LINE` excerpt; `marked` is the `>>>` marker."""

    number: int
    text: str
    marked: bool


@dataclass(frozen=True)
class Failure:
    """How the build failed, from the failing vertex, the error block, excerpt and last line."""

    message: (
        str | None
    )  # the final `ERROR: ...` line without `ERROR: `, e.g. 'failed to solve: ...'
    vertex: int | None  # N of the vertex that printed `#N ERROR:`
    vertex_name: str | None  # that vertex's name, or the error block's ` > name:`
    vertex_error: str | None  # the text of `#N ERROR: ...`
    exit_code: int | None  # from `exit code: N` (0.9+ and 0.8 wordings)
    command: str | None  # the process, unquoted: '/bin/sh -c apt-get install ...'
    dockerfile: str | None  # the file named in the excerpt's `Dockerfile:LINE`
    line: int | None  # LINE of `Dockerfile:LINE` (or of `dockerfile parse error on line N`)
    span: tuple[int, int] | None  # first and last line marked `>>>`
    excerpt: tuple[ExcerptLine, ...]
    block: tuple[str, ...]  # the error block's lines, without their `#N 1.234 ` prefixes


@dataclass(frozen=True)
class BuildKitLog:
    """What a BuildKit build did: its steps, its other vertices, and how it ended."""

    steps: tuple[Step, ...]  # in the order their vertices first appeared
    vertices: tuple[Vertex, ...]  # the others, in the same order
    failure: Failure | None
    image: str | None  # `writing image sha256:...`, else the exported manifest (list)
    names: tuple[str, ...]  # `naming to ...`
    warnings: tuple[str, ...]  # `WARNING: ...` lines, `#N WARN: ...` and build-check items
    builder: str | None  # from `#0 building with "NAME" instance using DRIVER driver`
    driver: str | None
    builds: int  # how many builds the log held; this result describes the last

    @property
    def succeeded(self) -> bool:
        """No failure, and the build got to its end (an image, a name, or every step ended)."""
        if self.failure is not None:
            return False
        if self.image is not None or self.names:
            return True
        return bool(self.steps) and all(step.state != "running" for step in self.steps)

    @property
    def failed_step(self) -> Step | None:
        """The Dockerfile step that failed, also when only the error block names it."""
        if self.failure is None:
            return None
        for step in self.steps:
            if self.failure.vertex is not None and step.vertex == self.failure.vertex:
                return step
        if self.failure.vertex_name is not None:
            named = [step for step in self.steps if step.name == self.failure.vertex_name]
            if named:
                return named[-1]
            return _parse_step(None, self.failure.vertex_name, "error", self.failure.vertex_error)
        return None


# --- Lines ----------------------------------------------------------------------------

_MAX_LINE = 1 << 20  # a line without an end is cut into pieces of this many characters

# CI prefixes: GitHub Actions / Azure Pipelines `2024-03-05T10:11:12.3456789Z ` (a blank line is
# the stamp alone), Jenkins timestamper `[2024-03-05T10:11:12.345Z] ` and `10:11:12 `.
_PREFIX = (
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |(?=\n)|$)"
    r"|\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\] ?"
    r"|\d\d:\d\d:\d\d(?: |(?=\n)|$))"
)
_PREFIX_RE = re.compile(_PREFIX)
# A vertex's output line: `#N 1.234 text` (display.go: seconds with 3, 2 or 1 decimals). To
# skip such lines in bulk, a line counts as output when it starts `#N <digit>`: a status or
# header never does (statuses start with their id, `sha256:...`, `transferring ...`).
_OUTPUT_START = re.compile(rf"({_PREFIX})?[ \t]*#[0-9]+ [0-9]")
# The end of a run of output: a newline NOT followed by another output line. One search over
# the chunk finds it; the lines it skips are never looked at one by one. This is the hot loop
# of a big log; for this one lookahead the standard `re` engine is twice as fast as the
# `regex` package (a 100 MB log: 0.29 s against 0.60 s for the whole parse, Python 3.11,
# regex 2026.11), which is why no parser depends on `regex`. Without a CI prefix the
# pattern is simpler and faster.
_RUN_END = re.compile(r"\n(?![ \t]*#[0-9]+ [0-9])")
# With a CI prefix, one pattern per prefix family ([0-9], not \d: half the time in `re`).
_RUN_END_GITHUB = re.compile(
    r"\n(?![0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z [ \t]*#[0-9]+ [0-9])"
)
_RUN_END_JENKINS = re.compile(
    r"\n(?!\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\] ?[ \t]*#[0-9]+ [0-9])"
)
_RUN_END_CLOCK = re.compile(r"\n(?![0-9]{2}:[0-9]{2}:[0-9]{2} [ \t]*#[0-9]+ [0-9])")


def _run_end(prefix: str | None) -> re.Pattern[str]:
    """The run-end pattern for lines that start with this CI prefix (or none)."""
    if not prefix:
        return _RUN_END
    if prefix.startswith("["):
        return _RUN_END_JENKINS
    return _RUN_END_GITHUB if "T" in prefix else _RUN_END_CLOCK


_OUTPUT_LINE = re.compile(rf"(?:{_PREFIX})?[ \t]*#(\d+) \d+\.\d+(?: ([^\n]*))?")
_RUN_VERTEX = re.compile(rf"(?:{_PREFIX})?[ \t]*#(\d+) ")

_VERTEX = re.compile(r"[ \t]*#(\d+)(?: (.*))?")
_END = re.compile(r"DONE(?: \d+(?:\.\d+)?s)?|CACHED|CANCELED(?: .*)?|ERROR: (?P<error>.*)")
_TIMED = re.compile(r"\d+\.\d+(?: (.*))?")
_BUILDING_WITH = re.compile(
    r'building with "(?P<builder>[^"]*)" instance using (?P<driver>\S+) driver'
)
_WRITING_IMAGE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
_MANIFEST_LIST = re.compile(r"exporting manifest list (sha256:[0-9a-f]{64})")
_MANIFEST = re.compile(r"exporting manifest (sha256:[0-9a-f]{64})")
_NAMING = re.compile(r"naming to (\S+)")
_CLIPPED = "[output clipped, log limit"

# Steps: `[stage-0 2/3] RUN ...`, `[ 1/10] FROM ...`, `[linux/arm64 builder 3/5] ONBUILD RUN`.
_BRACKET = re.compile(r"\[([^\]]*)\] (.*)")
_INDEX = re.compile(r"(\d+)/(\d+)")

_BLOCK_RULE = "------"
_EXCERPT_RULE = "-" * 20
_BLOCK_HEAD = re.compile(r" > (.*):")
_BLOCK_TIME = re.compile(r"(?:#\d+ )?\d+\.\d+(?: |$)")
_EXCERPT_HEAD = re.compile(r"(\S(?:.*\S)?):(\d+)")
_EXCERPT_LINE = re.compile(r"\s*(\d+) \|(.*)")
# The last line of a failed build: buildx/docker CLI `ERROR: `, buildctl `error: `, compose and
# old CLIs with no prefix; CI actions quote it (`buildx failed with: ERROR: ...`).
_FINAL = re.compile(
    r"(?:ERROR: (?P<msg>.+)"
    r"|error: (?P<lower>failed to (?:solve|build).+)"
    r"|(?P<bare>failed to (?:solve|build)(?: with frontend \S+)?: .+)"
    r"|.*\bbuildx (?:call )?failed with: (?:ERROR|error): (?P<quoted>.+))"
)
_BUILDKIT_WORDING = re.compile(
    r"failed to solve|failed to build|executor failed running|did not complete successfully"
)
_WARNING = re.compile(r"WARNING: (.+)")
_CHECKS = re.compile(r"\s*\d+ warnings? found(?: \(.*\))?:")
_CHECK_ITEM = re.compile(r" - (.+)")
_TTY = re.compile(
    r"\[\+\] Building |\s*=> (?:CACHED |ERROR |CANCELED )?\[|\s*=> (?:exporting|naming|=> )"
)

# Errors: 0.9+ `process "<Go %q>" did not complete successfully: exit code: N`; before 0.9
# `executor failed running [<argv %v>]: exit code: N` (or `: runc did not terminate ...`).
_PROCESS = re.compile(
    r'process "((?:[^"\\]|\\.)*)" did not complete successfully(?:: exit code: (-?\d+))?'
)
_EXECUTOR = re.compile(r"executor failed running \[(.*)\]: (.*)")
_EXIT_CODE = re.compile(r"exit code: (-?\d+)")
_PARSE_ERROR_LINE = re.compile(r"dockerfile parse error (?:on )?line (\d+)", re.IGNORECASE)
_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _has_long_line(text: str) -> bool:
    """Whether text holds a line longer than _MAX_LINE, probing every _MAX_LINE/2 characters.

    A line that long contains a probe point from which the next newline is more than
    _MAX_LINE/2 away; only such points are measured. (A `regex` pattern `[^\\n]{1048577,}`
    would do it in one call, but compiling it takes 280 MB and 0.4 s.)
    """
    half = _MAX_LINE // 2
    for probe in range(0, len(text), half):
        if text.find("\n", probe, probe + half + 1) == -1:
            start = text.rfind("\n", 0, probe) + 1
            end = text.find("\n", probe)
            if (end if end != -1 else len(text)) - start > _MAX_LINE:
                return True
    return False


def _pieces(text: str) -> Iterator[str]:
    """The lines of text, each longer than _MAX_LINE cut into pieces of _MAX_LINE."""
    for line in text.split("\n"):
        if len(line) <= _MAX_LINE:
            yield line
        else:
            yield from (line[i : i + _MAX_LINE] for i in range(0, len(line), _MAX_LINE))


def _go_unquote(text: str) -> str:
    """Undo Go's %q (strconv.Quote) escapes in the quoted process of a BuildKit error."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567" and len(code) == 3:
            return chr(int(code, 8))
        return _GO_SIMPLE.get(code, code)

    return _GO_ESCAPE.sub(one, text)


def _parse_step(
    number: int | None, name: str, state: VertexState, error: str | None
) -> Step | None:
    """A Step for a vertex name of the shape dockerfile2llb gives instructions, else None."""
    bracket = _BRACKET.fullmatch(name)
    if bracket is None:
        return None
    tokens = bracket.group(1).split()
    if not tokens:
        return None
    index = _INDEX.fullmatch(tokens[-1])
    if index is None:
        return None
    rest = tokens[:-1]
    platform = rest.pop(0) if rest and "/" in rest[0] else None
    stage = " ".join(rest) or None
    text = bracket.group(2)
    onbuild = text.startswith("ONBUILD ")
    if onbuild:
        text = text[len("ONBUILD ") :]
    words = text.split(maxsplit=1)
    return Step(
        vertex=number,
        name=name,
        stage=stage,
        platform=platform,
        index=int(index.group(1)),
        total=int(index.group(2)),
        instruction=words[0].upper() if words else "",
        text=text,
        onbuild=onbuild,
        state=state,
        error=error,
        output_tail=(),
        output_lines=0,
        clipped=False,
    )


# --- State ----------------------------------------------------------------------------


@dataclass
class _VertexState:
    number: int
    name: str
    tail: deque[str]
    state: VertexState = "running"
    error: str | None = None
    lines: int = 0
    clipped: bool = False

    def freeze(self) -> Step | Vertex:
        step = _parse_step(self.number, self.name, self.state, self.error)
        if step is not None:
            return Step(
                vertex=step.vertex,
                name=step.name,
                stage=step.stage,
                platform=step.platform,
                index=step.index,
                total=step.total,
                instruction=step.instruction,
                text=step.text,
                onbuild=step.onbuild,
                state=self.state,
                error=self.error,
                output_tail=tuple(self.tail),
                output_lines=self.lines,
                clipped=self.clipped,
            )
        return Vertex(
            vertex=self.number,
            name=self.name,
            state=self.state,
            error=self.error,
            output_tail=tuple(self.tail),
            output_lines=self.lines,
        )


@dataclass
class _Block:
    name: str
    lines: deque[str]


@dataclass
class _Build:
    vertices: dict[int, _VertexState] = field(default_factory=dict)
    blocks: list[_Block] = field(default_factory=list)
    excerpt: list[ExcerptLine] = field(default_factory=list)
    excerpt_file: str | None = None
    excerpt_line: int | None = None
    final: str | None = None
    image: str | None = None
    manifest_list: str | None = None
    manifest: str | None = None
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    builder: str | None = None
    driver: str | None = None

    def has_evidence(self) -> bool:
        """Vertices, or BuildKit's own final error: an excerpt or error block alone is no build."""
        return bool(self.vertices) or (
            self.final is not None and _BUILDKIT_WORDING.search(self.final) is not None
        )

    def ended(self) -> bool:
        return self.final is not None or self.image is not None or bool(self.names)


_NORMAL, _IN_BLOCK, _IN_EXCERPT, _IN_CHECKS = range(4)


class BuildKitLogParser:
    """Streaming parser of BuildKit plain progress: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        self._parts: list[str] = []  # the unfinished line
        self._size = 0
        self._build = _Build()
        self._previous: _Build | None = None
        self._builds = 1
        self._mode = _NORMAL
        self._current: int | None = None  # the vertex the previous line belonged to
        self._pending_block = False
        self._pending_excerpt: tuple[str, int] | None = None
        self._block: _Block | None = None
        self._tty_lines = 0
        self._first_line: str | None = None
        self._seen_text = False
        self._closed = False

    # -- input --------------------------------------------------------------------------

    def feed(self, chunk: str) -> None:
        """Take the next piece of the log (any size, cut anywhere)."""
        if self._closed:
            raise ValueError("feed() after close(): this BuildKitLogParser is finished")
        if not chunk:
            return
        if "\n" not in chunk and "\r" not in chunk:
            self._parts.append(chunk)
            self._size += len(chunk)
            if self._size > _MAX_LINE:
                self._cut_unfinished()
            return
        text = "".join(self._parts) + chunk if self._parts else chunk
        # A line ends at \n, \r\n or a lone \r; a \r at the very end may be half of a \r\n.
        end = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
        rest = text[end:]
        self._parts, self._size = ([rest], len(rest)) if rest else ([], 0)
        if end:
            lines = text[:end]
            if "\r" in lines:
                lines = lines.replace("\r\n", "\n").replace("\r", "\n")
            self._block_of_lines(lines)
        if self._size > _MAX_LINE:
            self._cut_unfinished()

    def close(self) -> BuildKitLog:
        """Finish the input and return the (last) build; BuildKitLogError if there is none."""
        if not self._closed:
            self._closed = True
            rest = "".join(self._parts)
            self._parts, self._size = [], 0
            if rest:
                self._block_of_lines(rest.replace("\r\n", "\n").replace("\r", "\n") + "\n")
        build = self._build
        if not build.has_evidence() and self._previous is not None:
            build = self._previous
        if not build.has_evidence() or (self._tty_lines and not build.vertices):
            raise self._no_buildkit_error()
        return self._result(build)

    def _cut_unfinished(self) -> None:
        """Bound the memory a line without end takes: emit it in pieces of _MAX_LINE."""
        text = "".join(self._parts)
        cut = (len(text) - 1) // _MAX_LINE * _MAX_LINE  # keep 1.._MAX_LINE characters
        pieces = [text[i : i + _MAX_LINE] for i in range(0, cut, _MAX_LINE)]
        self._parts, self._size = [text[cut:]], len(text) - cut
        self._block_of_lines("\n".join(pieces) + "\n")

    def _no_buildkit_error(self) -> BuildKitLogError:
        if self._tty_lines:
            return TtyProgressError(
                "this is BuildKit's tty progress (the screen it redraws on a terminal), which "
                "cannot be read reliably: save the build with --progress=plain (or "
                "BUILDKIT_PROGRESS=plain) and use that output"
            )
        if not self._seen_text:
            return BuildKitLogError(
                "the build output is empty; expected BuildKit's plain progress, as "
                "`docker buildx build --progress=plain` prints it ('#1 [internal] load ...')"
            )
        if self._build.excerpt or self._build.blocks or self._first_line is None:
            found = "it holds only a Dockerfile excerpt or an error block"
        else:
            found = f"it starts with {self._first_line[:70]!r}"
        return BuildKitLogError(
            f"no BuildKit build output found ({found}); expected the output of "
            "`docker buildx build --progress=plain`, lines like '#5 [2/3] RUN ...'"
        )

    # -- blocks of whole lines ----------------------------------------------------------

    def _block_of_lines(self, text: str) -> None:
        """Handle complete lines (each ends with \\n): runs of output in bulk, others one by one."""
        if "\x1b" in text:
            text = strip_ansi(text)
        if len(text) > _MAX_LINE and _has_long_line(text):
            text = "\n".join(_pieces(text[:-1])) + "\n"
        pos, size = 0, len(text)
        while pos < size:
            normal = self._mode == _NORMAL and not self._pending_block
            start = _OUTPUT_START.match(text, pos) if normal else None
            if start is not None and self._pending_excerpt is None:
                end = _run_end(start.group(1)).search(text, pos)
                stop = end.start() + 1 if end else size
                self._output_run(text, pos, stop)
                pos = stop
            else:
                newline = text.index("\n", pos)
                self._line(text[pos:newline])
                pos = newline + 1

    def _output_run(self, text: str, start: int, stop: int) -> None:
        """Lines text[start:stop] are all `#N 1.234 ...`: count them, keep the last few."""
        self._seen_text = True
        first = _RUN_VERTEX.match(text, start)
        last_start = text.rfind("\n", start, stop - 1) + 1
        last = _RUN_VERTEX.match(text, max(last_start, start))
        if first is None or last is None or first.group(1) != last.group(1):
            for line in text[start:stop].splitlines():
                self._line(line)
            return
        vertex = self._vertex(int(first.group(1)))
        vertex.lines += text.count("\n", start, stop)
        if not vertex.clipped and text.find(_CLIPPED, start, stop) != -1:
            vertex.clipped = True
        if self._tail:
            keep = text[start : stop - 1].rsplit("\n", self._tail)[-self._tail :]
            for line in keep:
                if line.startswith("#"):  # the usual shape, split without a regex
                    parts = line.split(" ", 2)
                    vertex.tail.append(parts[2] if len(parts) > 2 else "")
                else:
                    match = _OUTPUT_LINE.match(line)
                    vertex.tail.append((match.group(2) or "") if match else line)
        self._current = vertex.number

    def _vertex(self, number: int, name: str | None = None) -> _VertexState:
        vertex = self._build.vertices.get(number)
        if vertex is None:
            vertex = _VertexState(number, name or "", deque(maxlen=self._tail))
            self._build.vertices[number] = vertex
        return vertex

    # -- one line -----------------------------------------------------------------------

    def _line(self, raw: str) -> None:
        prefix = _PREFIX_RE.match(raw)
        line = raw[prefix.end() :] if prefix else raw
        if self._mode == _IN_EXCERPT:
            self._excerpt_line(line)
            return
        if self._mode == _IN_BLOCK:
            self._block_line(line)
            return
        if not line.strip():
            self._current = None
            self._pending_block = False
            self._pending_excerpt = None
            if self._mode == _IN_CHECKS:
                self._mode = _NORMAL
            return
        self._seen_text = True
        if self._pending_block:
            self._pending_block = False
            head = _BLOCK_HEAD.fullmatch(line)
            if head:
                self._block = _Block(head.group(1), deque(maxlen=self._tail))
                self._build.blocks.append(self._block)
                self._mode = _IN_BLOCK
                return
        if self._pending_excerpt is not None:
            name, number = self._pending_excerpt
            self._pending_excerpt = None
            if line == _EXCERPT_RULE:
                build = self._build
                build.excerpt, build.excerpt_file, build.excerpt_line = [], name, number
                self._mode = _IN_EXCERPT
                return
        if self._mode == _IN_CHECKS:
            item = _CHECK_ITEM.match(line)
            if item:
                self._warn(item.group(1).rstrip())
                return
            self._mode = _NORMAL
        vertex = _VERTEX.fullmatch(line)
        if vertex:
            self._vertex_line(int(vertex.group(1)), vertex.group(2) or "")
            return
        self._current = None
        self._top_line(line)

    def _vertex_line(self, number: int, rest: str) -> None:
        build = self._build
        if number == 0:
            building = _BUILDING_WITH.match(rest)
            if building:
                if build.has_evidence() or build.builder is not None:
                    self._new_build()
                    build = self._build
                build.builder, build.driver = building.group("builder"), building.group("driver")
            self._current = None
            return
        known = build.vertices.get(number)
        end = _END.fullmatch(rest)
        if end:  # a vertex whose header the log does not hold (it starts mid-build) gets no name
            vertex = known or self._vertex(number)
            if end.group("error") is not None:
                vertex.state, vertex.error = "error", end.group("error")
            elif rest.startswith("DONE"):
                vertex.state = "done"
            elif rest == "CACHED":
                vertex.state = "cached"
            else:
                vertex.state = "canceled"
            self._current = number
            return
        if rest == "...":
            self._current = None  # another vertex takes over; this one goes on later
            return
        timed = _TIMED.fullmatch(rest)
        if timed:  # output met one line at a time (after an error block, in a fallback)
            vertex = known or self._vertex(number)
            vertex.lines += 1
            vertex.tail.append(timed.group(1) or "")
            if _CLIPPED in rest:
                vertex.clipped = True
            self._current = number
            return
        if rest.startswith("WARN: ") and known is not None:
            self._warn(rest[len("WARN: ") :])
            self._current = number
            return
        if known is not None and self._current == number:
            self._status(rest)
            return
        # A header: the vertex begins, or comes back after another one's lines.
        if known is not None and not known.name:
            known.name = rest
        elif (known is not None and known.name != rest) or (
            known is None and build.ended() and build.vertices and number <= max(build.vertices)
        ):
            self._new_build()
        self._vertex(number, rest)
        self._current = number

    def _status(self, rest: str) -> None:
        build = self._build
        writing = _WRITING_IMAGE.match(rest)
        if writing:
            build.image = writing.group(1)
            return
        naming = _NAMING.match(rest)
        if naming:
            if naming.group(1) not in build.names:
                build.names.append(naming.group(1))
            return
        listed = _MANIFEST_LIST.match(rest)
        if listed:
            build.manifest_list = listed.group(1)
            return
        manifest = _MANIFEST.match(rest)
        if manifest:
            build.manifest = manifest.group(1)

    def _top_line(self, line: str) -> None:
        build = self._build
        if self._first_line is None and line not in (_BLOCK_RULE, _EXCERPT_RULE):
            self._first_line = line.strip()
        if line == _BLOCK_RULE:
            self._pending_block = True
            return
        head = _EXCERPT_HEAD.fullmatch(line)
        if head:
            self._pending_excerpt = (head.group(1), int(head.group(2)))
            return
        final = _FINAL.fullmatch(line)
        if final:
            message = (
                final.group("msg")
                or final.group("lower")
                or final.group("bare")
                or final.group("quoted")
            )
            # After the image is written, an `ERROR:` line is some later tool's (a push, a test).
            worded = _BUILDKIT_WORDING.search(message) is not None
            if build.final is None and (worded or not (build.image or build.names)):
                build.final = message
            return
        warning = _WARNING.fullmatch(line)
        if warning:
            self._warn(warning.group(1).rstrip())
            return
        if _CHECKS.fullmatch(line):
            self._mode = _IN_CHECKS
            return
        if _TTY.match(line):
            self._tty_lines += 1

    def _warn(self, text: str) -> None:
        if text not in self._build.warnings:
            self._build.warnings.append(text)

    def _block_line(self, line: str) -> None:
        assert self._block is not None
        if line == _BLOCK_RULE:
            self._mode, self._block = _NORMAL, None
            return
        stamp = _BLOCK_TIME.match(line)
        self._block.lines.append(line[stamp.end() :] if stamp else line)

    def _excerpt_line(self, line: str) -> None:
        if line == _EXCERPT_RULE:
            self._mode = _NORMAL
            return
        numbered = _EXCERPT_LINE.fullmatch(line)
        if numbered is None:
            self._mode = _NORMAL  # not an excerpt after all: read the line normally
            self._line(line)
            return
        # errdefs Source.Print: ` %*d | %s %s` with `>>>` or three spaces before the text.
        rest = numbered.group(2)
        marked = rest.startswith(" >>>")
        text = rest[5:] if len(rest) > 5 else ""
        if len(self._build.excerpt) < 4 * self._tail + 64:
            self._build.excerpt.append(ExcerptLine(int(numbered.group(1)), text, marked))

    def _new_build(self) -> None:
        if self._build.has_evidence():
            self._previous = self._build
            self._builds += 1
        self._build = _Build()
        self._current = None
        self._block = None
        self._mode = _NORMAL

    # -- result -------------------------------------------------------------------------

    def _result(self, build: _Build) -> BuildKitLog:
        frozen = [vertex.freeze() for vertex in build.vertices.values()]
        steps = tuple(item for item in frozen if isinstance(item, Step))
        others = tuple(item for item in frozen if isinstance(item, Vertex))
        image = build.image or build.manifest_list or build.manifest
        return BuildKitLog(
            steps=steps,
            vertices=others,
            failure=self._failure(build),
            image=image,
            names=tuple(build.names),
            warnings=tuple(build.warnings),
            builder=build.builder,
            driver=build.driver,
            builds=self._builds if build is self._build else self._builds - 1,
        )

    def _failure(self, build: _Build) -> Failure | None:
        failed = [v for v in build.vertices.values() if v.state == "error"]
        if not failed and build.final is None and not build.blocks:
            return None
        vertex = _pick_failed(failed, build)
        block = _pick_block(build.blocks, vertex)
        vertex_error = vertex.error if vertex else None
        exit_code, command = _exit_and_command(vertex_error)
        if exit_code is None and command is None and build.final is not None:
            exit_code, command = _exit_and_command(build.final)
        marked = [line.number for line in build.excerpt if line.marked]
        line = build.excerpt_line
        if line is None:
            for text in (build.final, vertex_error):
                parse_error = _PARSE_ERROR_LINE.search(text or "")
                if parse_error:
                    line = int(parse_error.group(1))
                    break
        name = vertex.name if vertex else (block.name if block else None)
        return Failure(
            message=build.final,
            vertex=vertex.number if vertex else None,
            vertex_name=name,
            vertex_error=vertex_error,
            exit_code=exit_code,
            command=command,
            dockerfile=build.excerpt_file,
            line=line,
            span=(min(marked), max(marked)) if marked else None,
            excerpt=tuple(build.excerpt),
            block=tuple(block.lines) if block else (),
        )


def _pick_failed(failed: list[_VertexState], build: _Build) -> _VertexState | None:
    """The vertex whose error the build ended with (several may fail in parallel)."""
    if not failed:
        return None
    final = build.final or ""
    for vertex in reversed(failed):
        if vertex.error and vertex.error in final:
            return vertex
    names = {block.name for block in build.blocks}
    for vertex in reversed(failed):
        if vertex.name in names:
            return vertex
    return failed[-1]


def _pick_block(blocks: list[_Block], vertex: _VertexState | None) -> _Block | None:
    if vertex is not None:
        for block in blocks:
            if block.name == vertex.name:
                return block
    return blocks[-1] if blocks else None


def _exit_and_command(message: str | None) -> tuple[int | None, str | None]:
    """Exit code and process from either wording of an exec failure."""
    if not message:
        return None, None
    process = _PROCESS.search(message)
    if process:
        code = int(process.group(2)) if process.group(2) is not None else None
        return code, _go_unquote(process.group(1))
    executor = _EXECUTOR.search(message)
    if executor:
        code_match = _EXIT_CODE.match(executor.group(2))
        return (int(code_match.group(1)) if code_match else None), executor.group(1)
    return None, None


def parse(chunks: Iterable[str], tail: int = 20) -> BuildKitLog:
    """Parse BuildKit plain progress arriving in chunks; see BuildKitLogParser."""
    parser = BuildKitLogParser(tail=tail)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


_DETECT = re.compile(
    rf"(?m)^(?:{_PREFIX})?[ \t]*(?:"
    r"#\d+ (?:\[|DONE|CACHED|ERROR: |CANCELED|building with |exporting |naming to |resolve "
    r"|\d+\.\d{1,3} )"
    r"|\[\+\] Building "
    r"|=> (?:CACHED |ERROR )?\["
    r"|(?:ERROR: |error: )?failed to (?:solve|build)(?: with frontend \S+)?: "
    r")"
)


def looks_like_buildkit(text: str) -> bool:
    """True when the start of a log (a few KB) has BuildKit progress lines, plain or tty."""
    head = text[:16384]
    if "\x1b" in head:
        head = strip_ansi(head)
    return _DETECT.search(head.replace("\r\n", "\n").replace("\r", "\n")) is not None

"""Classic `docker build` output -> steps, image ids and the failure. PURE.

Reads what the legacy builder (DOCKER_BUILDKIT=0) prints, as the docker CLI shows it or
as the Engine API streams it, in any chunking, from Docker 1.x (`Step 0 :`, bracketed
commands, logrus/Go-log prefixed errors) to Engine 20.10+ (`Step 1/6 :`), also when a CI
system or wrapper added timestamps, indentation, ANSI colour or CR/CRLF line endings.
Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- One pass, streaming: `BuildLogParser.feed` takes any piece of text (partial lines,
  several lines, an ANSI sequence cut in two); the result does not depend on how the
  text was chunked. Memory grows with the number of steps, not with their output: at
  most `tail` output lines per step, plus one unfinished line (cut at 1 Mi characters).
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

import codecs
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

__all__ = [
    "BuildLog",
    "BuildLogParser",
    "Failure",
    "LogFormatError",
    "Step",
    "api_stream_text",
    "parse",
    "split_lines",
    "strip_ansi",
]


class LogFormatError(ValueError):
    """The input holds no recognisable classic build output (garbage, empty, BuildKit)."""


@dataclass(frozen=True)
class Step:
    """One `Step N/M : ...` of the build, with what the builder said about it."""

    index: int  # 1-based, also for logs that count from `Step 0 :`
    total: int | None  # M of `Step N/M`; None in logs of Docker < 17.x
    text: str  # the instruction as echoed, e.g. 'RUN echo hello &&     ls /'
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last ` ---> <id>`; None when it printed none
    cached: bool  # ` ---> Using cache` seen
    container: str | None  # the step's last ` ---> Running in <id>`
    triggers: int  # N of `# Executing N build trigger(s)`, else 0
    output_tail: tuple[str, ...]  # last lines the step printed, without bookkeeping


@dataclass(frozen=True)
class Failure:
    """The builder's error, as the docker CLI prints it (without its prefixes)."""

    message: str
    exit_code: int | None  # the failing command's exit code, when the message says it
    command: str | None  # what the message quotes between '...' or [...]
    parse_error_line: int | None  # N of `dockerfile parse error line N`
    in_trigger: bool  # failed while running ONBUILD triggers inside a FROM step


@dataclass(frozen=True)
class BuildLog:
    """What a classic build did: its steps, and how it ended."""

    steps: tuple[Step, ...]
    failure: Failure | None
    image: str | None  # `Successfully built <id>` (or the API's aux ID)
    tags: tuple[str, ...]  # `Successfully tagged <tag>`

    @property
    def succeeded(self) -> bool:
        """True when the build printed its image id and no error."""
        return self.failure is None and self.image is not None

    @property
    def failed_step(self) -> Step | None:
        """The step during which the failure happened (None: no failure, or outside steps)."""
        if self.failure is None or not self.steps or self.steps[-1].image is not None:
            return None
        return self.steps[-1]

    @property
    def last_good_image(self) -> str | None:
        """The image to debug from: the last id before the failing step, in its stage.

        None when the failing step is the stage's FROM (an ONBUILD trigger or a pull
        failed: the log holds no id for the parent), when the stage is FROM scratch,
        or when there is no failing step.
        """
        failed = self.failed_step
        if failed is None or failed.instruction == "FROM":
            return None
        for step in reversed(self.steps[:-1]):
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None


# --- Lines --------------------------------------------------------------------------

# ECMA-48: CSI sequences (colours, cursor moves), OSC strings, and two-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
)
_NEWLINE = re.compile(r"\r\n|\r|\n")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor movement, OSC titles) from text."""
    return _ANSI.sub("", text)


class _LineSplitter:
    """Incremental chunks -> lines; \\n, \\r\\n and a lone \\r all end a line."""

    def __init__(self, max_line: int) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._after_cr = False  # the last chunk ended in \r: drop a \n that starts the next
        self._max_line = max_line

    def push(self, chunk: str) -> list[str]:
        if not chunk:
            return []
        if self._after_cr:
            self._after_cr = False
            if chunk.startswith("\n"):
                chunk = chunk[1:]
        lines: list[str] = []
        start = 0
        for match in _NEWLINE.finditer(chunk):
            self._parts.append(chunk[start : match.start()])
            lines.append("".join(self._parts))
            self._parts, self._size = [], 0
            start = match.end()
        self._after_cr = chunk.endswith("\r")
        rest = chunk[start:]
        if rest:
            self._parts.append(rest)
            self._size += len(rest)
            if self._size > self._max_line:  # bound the memory a line without end can take
                joined = "".join(self._parts)
                cut = len(joined) - len(joined) % self._max_line
                lines += [joined[i : i + self._max_line] for i in range(0, cut, self._max_line)]
                self._parts = [joined[cut:]] if cut < len(joined) else []
                self._size = len(joined) - cut
        return lines

    def finish(self) -> list[str]:
        lines = ["".join(self._parts)] if self._parts else []
        self._parts, self._size = [], 0
        return lines


_MAX_LINE = 1 << 20


def split_lines(chunks: Iterable[str], max_line: int = _MAX_LINE) -> Iterator[str]:
    """Yield the lines of text arriving in chunks (without their line endings).

    \\n, \\r\\n and a lone \\r (a progress update) each end a line, also when split
    across chunks; a last line without an ending is yielded at the end. A line longer
    than `max_line` characters is yielded in pieces of `max_line`.
    """
    splitter = _LineSplitter(max_line)
    for chunk in chunks:
        yield from splitter.push(chunk)
    yield from splitter.finish()


# --- Engine API stream ----------------------------------------------------------------


def _api_object_text(obj: object) -> str:
    """The text the docker CLI prints, without a terminal, for one /build JSON message."""
    # As moby pkg/jsonmessage JSONMessage.Display does without a terminal; an error is
    # printed by the CLI as its message alone (docker/cli build.go: StatusError).
    if not isinstance(obj, dict):
        raise LogFormatError(
            f"the Engine API build stream holds {type(obj).__name__} {obj!r:.60}; "
            "expected JSON objects such as {'stream': 'Step 1/3 : FROM ...'}"
        )
    detail = obj.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return f"{detail['message']}\n"
    if obj.get("error"):
        return f"{obj['error']}\n"
    aux = obj.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
        # The CLI keeps the aux ID for --iidfile and prints nothing; we print the id alone
        # on a line, as the daemon itself does for `docker build -q`.
        return f"{aux['ID']}\n"
    if isinstance(obj.get("stream"), str):
        return str(obj["stream"])
    status = obj.get("status")
    if not isinstance(status, str):
        return ""
    progress = obj.get("progressDetail")
    if isinstance(progress, dict) and (
        _positive(progress.get("current")) or _positive(progress.get("total"))
    ):
        return ""  # a progress bar: not printed without a terminal
    prefix = f"{obj['id']}: " if obj.get("id") else ""
    if obj.get("from"):
        prefix += f"(from {obj['from']}) "
    if isinstance(obj.get("progress"), str) and obj["progress"]:
        return f"{prefix}{status} {obj['progress']}"
    return f"{prefix}{status}\n"


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and value > 0


def api_stream_text(chunks: Iterable[str | bytes]) -> Iterator[str]:
    """Yield the text the docker CLI prints for an Engine API /build JSON stream.

    Accepts the raw chunks as they arrive (bytes or text; objects split across chunks or
    several per chunk). `stream` text comes out as is; `status` lines as `id: status`
    (progress bars dropped, as without a terminal); an error as its message line; an
    `aux` ID as the bare `sha256:...` line that `docker build -q` prints. Raises
    LogFormatError on input that is not such a stream.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    for chunk in chunks:
        text = utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            continue
        buffer += text
        while True:
            start = len(buffer) - len(buffer.lstrip())
            if start == len(buffer):
                buffer = ""
                break
            if buffer[start] != "{":
                raise LogFormatError(
                    f"the Engine API build stream is not JSON: found {buffer[start:][:60]!r}; "
                    "expected objects such as {'stream': 'Step 1/3 : FROM ...'}"
                )
            try:
                obj, end = decoder.raw_decode(buffer, start)
            except ValueError:
                buffer = buffer[start:]
                break  # an object cut by the chunking: wait for the rest
            buffer = buffer[end:]
            out = _api_object_text(obj)
            if out:
                yield out
    buffer += utf8.decode(b"", final=True)
    if buffer.strip():
        raise LogFormatError(
            f"the Engine API build stream ends inside a JSON object: {buffer.strip()[:60]!r}"
        )


# --- Recognising the builder's lines -----------------------------------------------------

# CI prefixes. Which one a log carries is decided on its first `Step` line (and then
# stripped from every line); before that, each is tried on each line.
_CI_PREFIXES = (
    # GitHub Actions, Azure Pipelines: 2024-03-05T10:11:12.3456789Z
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$)"),
    # Jenkins timestamper, ISO form: [2024-03-05T10:11:12.345Z]
    re.compile(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\] ?"),
    # Jenkins timestamper, clock form: 10:11:12
    re.compile(r"\d\d:\d\d:\d\d(?: |$)"),
)
_NO_PREFIX = re.compile(r"")

_STEP = re.compile(r"Step (\d+)(?:/(\d+))? : (.*)")
_ID = r"([0-9a-f]{12,64})"
_RUNNING_IN = re.compile(rf"---> Running in {_ID}\s*$")
_USING_CACHE = re.compile(r"---> Using cache\s*$")
_IMAGE = re.compile(rf"---> {_ID}\s*$")
_TRIGGERS = re.compile(r"# Executing (\d+) build triggers?")
_BUILT = re.compile(rf"Successfully built {_ID}\s*$")
_TAGGED = re.compile(r"Successfully tagged (\S+)\s*$")
_AUX_ID = re.compile(r"sha256:([0-9a-f]{64})\s*$")
_BOOKKEEPING = re.compile(
    r"(?:Error r|R)emoving intermediate container "
    r"|Trigger \d+, "  # Docker 1.x echoed each ONBUILD trigger
    r"|Sending build context to Docker daemon"
    r"|DEPRECATED: The legacy builder is deprecated"
    r"|BuildKit is currently disabled; enable it by removing"
    r"|environment-variable\.\s*$"
)
_SENDING_CONTEXT = re.compile(r"Sending build context to Docker daemon")
# The daemon's own pull inside a FROM (or COPY --from) step: v1 and v2 registries.
_PULL_PROGRESS = re.compile(
    r"\S+: Pulling from \S+"
    r"|Pulling (?:repository|from) \S+"
    r"|Pulling image \S+"
    r"|[0-9a-f]{12}: (?:Pulling fs layer|Pulling image|Pulling metadata|Pulling dependent layers"
    r"|Waiting|Downloading|Verifying Checksum|Download complete|Extracting|Pull complete"
    r"|Already exists)"
    r"|Digest: sha256:"
    r"|Status: (?:Downloaded newer image|Image is up to date) for "
)
_PULLING_STEPS = frozenset({"FROM", "COPY", "ADD"})

# Errors. A strong message can only be the builder's or the CLI's; a weak one is how old
# CLIs printed any error (logrus `FATA[0022] `, Go's `2014/09/17 03:25:48 `) or an error
# the daemon words like program output, and counts only if nothing but bookkeeping
# follows it.
_NON_ZERO = re.compile(
    r"The command (?:'(?P<quoted>.*)'|\[(?P<bracketed>.*)\]) returned a non-zero code: "
    r"(?P<code>-?\d+)\s*$"
)
_PARSE_ERROR = re.compile(r"[Dd]ockerfile parse error line (\d+): ")
_STRONG_START = re.compile(
    r"(?:COPY|ADD) failed: "
    r"|unable to prepare context: "
    r"|Cannot locate specified Dockerfile"
    r"|[Uu]nknown instruction: "
    r"|failed to reach build target "
    r"|No build stage in current context"
    # moby builder/dockerfile/copy.go: a multi-source COPY/ADD to a path without `/`.
    r"|When using (?:COPY|ADD) with more than one source file, the destination must be"
)
_DAEMON_PREFIX = re.compile(r"Error response from daemon: ")
_OLD_CLI_PREFIX = re.compile(r"(?:(?:FATA|ERRO|INFO)\[\d+\]|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ")
_WEAK_START = re.compile(
    r"pull access denied |manifest for \S+ not found|manifest unknown|repository \S+ not found"
    r"|failed to |unable to |OCI runtime |invalid reference format|toomanyrequests: "
    r"|error from sender: |Get \"?https?://"
)
_BUILDKIT = re.compile(
    r"#\d+ (?:\[|DONE |CACHED|ERROR|sha256:|resolve |naming |writing |exporting |transferring )"
    r"|\[\+\] Building "
    r"|=> (?:CACHED |ERROR )?\[|=> exporting|=> naming"
    r"|ERROR: failed to solve: "
)


def _failure(line: str) -> tuple[Failure, bool] | None:
    """The failure a line reports and whether it is strong, or None."""
    text = line
    marked = False
    old_cli = _OLD_CLI_PREFIX.match(text)
    if old_cli:
        text, marked = text[old_cli.end() :], True
    daemon = _DAEMON_PREFIX.match(text)
    if daemon:
        text = text[daemon.end() :]
    text = text.strip()
    non_zero = _NON_ZERO.search(text)
    if non_zero:
        command = non_zero.group("quoted")
        if command is None:
            command = non_zero.group("bracketed")
        message = text[non_zero.start() :]
        return Failure(message, int(non_zero.group("code")), command, None, False), True
    parse_error = _PARSE_ERROR.search(text)
    if parse_error:
        message = text[parse_error.start() :]
        return Failure(message, None, None, int(parse_error.group(1)), False), True
    if daemon or _STRONG_START.match(text):
        return Failure(text, None, None, None, False), True
    if marked or _WEAK_START.match(text):
        return Failure(text, None, None, None, False), False
    return None


@dataclass
class _StepState:
    index: int
    total: int | None
    text: str
    instruction: str
    tail: deque[str]
    image: str | None = None
    cached: bool = False
    container: str | None = None
    triggers: int = 0

    def freeze(self, offset: int) -> Step:
        return Step(
            index=self.index + offset,
            total=self.total,
            text=self.text,
            instruction=self.instruction,
            image=self.image,
            cached=self.cached,
            container=self.container,
            triggers=self.triggers,
            output_tail=tuple(self.tail),
        )


@dataclass
class _BuildState:
    steps: list[_StepState] = field(default_factory=list)
    failure: Failure | None = None
    failure_strong: bool = False
    failure_line: str = ""  # a weak failure's line: step output after all if output follows
    image: str | None = None
    aux_image: str | None = None
    tags: list[str] = field(default_factory=list)
    sent_context: bool = False


class BuildLogParser:
    """Streaming parser of classic build output: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        self._lines = _LineSplitter(_MAX_LINE)
        self._build = _BuildState()
        self._prefix: re.Pattern[str] | None = None  # decided on the first Step line
        self._indent = ""
        self._seen_text = False
        self._first_line: str | None = None
        self._buildkit_line: str | None = None
        self._closed = False

    def feed(self, chunk: str) -> None:
        """Take the next piece of build output (any size, cut anywhere)."""
        if self._closed:
            raise ValueError("feed() after close(): this BuildLogParser is finished")
        for line in self._lines.push(chunk):
            self._line(line)

    def close(self) -> BuildLog:
        """Finish the input and return the build; LogFormatError if none was recognised."""
        if not self._closed:
            self._closed = True
            for line in self._lines.finish():
                self._line(line)
        build = self._build
        if not build.steps:
            if self._buildkit_line is not None:
                raise LogFormatError(
                    f"this is a BuildKit log (found {self._buildkit_line[:70]!r}), not the "
                    "classic builder's: rebuild with DOCKER_BUILDKIT=0 and use that output"
                )
            if not (build.failure_strong or build.image or (build.failure and build.sent_context)):
                if not self._seen_text:
                    raise LogFormatError(
                        "the build output is empty; expected the output of a classic "
                        "`docker build` (DOCKER_BUILDKIT=0), lines like 'Step 1/3 : FROM ...'"
                    )
                found = (
                    f"it starts with {self._first_line[:70]!r}"
                    if self._first_line is not None
                    else "it holds only the docker CLI's own notices"
                )
                raise LogFormatError(
                    f"no classic docker build output found ({found}); expected the output "
                    "of `docker build` with DOCKER_BUILDKIT=0, lines like 'Step 1/3 : FROM ...'"
                )
        offset = 1 if build.steps and build.steps[0].index == 0 else 0  # `Step 0 :` logs
        steps = tuple(step.freeze(offset) for step in build.steps)
        failure = build.failure
        if failure is not None and steps and steps[-1].image is None:
            last = steps[-1]
            if last.instruction == "FROM" and last.triggers > 0:
                failure = replace(failure, in_trigger=True)
        image = build.image
        if image is None and failure is None:
            image = build.aux_image
        return BuildLog(steps=steps, failure=failure, image=image, tags=tuple(build.tags))

    # -- one line ---------------------------------------------------------------------

    def _unprefix(self, line: str) -> str:
        if self._prefix is not None:
            match = self._prefix.match(line)
            if match:
                line = line[match.end() :]
            if self._indent and line.startswith(self._indent):
                line = line[len(self._indent) :]
            return line
        for prefix in _CI_PREFIXES:
            match = prefix.match(line)
            if match:
                return line[match.end() :]
        return line

    def _line(self, raw: str) -> None:
        line = self._unprefix(strip_ansi(raw))
        body = line.strip()
        if not body:
            return
        self._seen_text = True
        build = self._build
        current = build.steps[-1] if build.steps else None

        step = _STEP.match(body)
        if step:
            self._step(raw, step)
            return
        if _SENDING_CONTEXT.match(body) and (build.steps or build.failure or build.image):
            self._build = _BuildState(sent_context=True)  # a second build in the same log
            return
        if self._bookkeeping(body, current):
            return

        if self._first_line is None:
            self._first_line = body
        found = _failure(body)
        if found is not None:
            failure, strong = found
            if strong or not build.failure_strong:
                self._clear_weak_failure()
                build.failure, build.failure_strong = failure, strong
                build.failure_line = "" if strong else line.rstrip()
            return
        self._clear_weak_failure()  # output went on: that was no error of the builder's
        if current is None:
            if self._buildkit_line is None and _BUILDKIT.match(body):
                self._buildkit_line = body
            return
        if build.failure_strong:
            return  # after the builder's error: a wrapper's lines, not the step's output
        if current.instruction in _PULLING_STEPS and _PULL_PROGRESS.match(body):
            return
        current.tail.append(line.rstrip())

    def _clear_weak_failure(self) -> None:
        """Forget a weak failure that turned out to be step output; keep its line as such."""
        build = self._build
        if build.failure is None or build.failure_strong:
            return
        if build.steps:
            build.steps[-1].tail.append(build.failure_line)
        build.failure, build.failure_line = None, ""

    def _step(self, raw: str, match: re.Match[str]) -> None:
        build = self._build
        index = int(match.group(1))
        if (build.steps and index <= build.steps[-1].index) or build.image is not None:
            build = self._build = _BuildState(sent_context=build.sent_context)
        self._clear_weak_failure()
        build.failure, build.failure_strong = None, False  # a step began: no error before it
        if self._prefix is None:
            self._fix_prefix(strip_ansi(raw))
        text = match.group(3)
        build.steps.append(
            _StepState(
                index=index,
                total=int(match.group(2)) if match.group(2) else None,
                text=text,
                instruction=text.split(maxsplit=1)[0].upper() if text.strip() else "",
                tail=deque(maxlen=self._tail),
            )
        )

    def _fix_prefix(self, line: str) -> None:
        """Decide, on the first Step line, which CI prefix and indentation every line has."""
        self._prefix = _NO_PREFIX
        for prefix in _CI_PREFIXES:
            match = prefix.match(line)
            if match:
                self._prefix, line = prefix, line[match.end() :]
                break
        self._indent = line[: len(line) - len(line.lstrip())]

    def _bookkeeping(self, body: str, current: _StepState | None) -> bool:
        """Handle a line the builder prints about its own work; False if it is none."""
        build = self._build
        if body.startswith("--->"):
            if current is not None:
                running = _RUNNING_IN.match(body)
                image = _IMAGE.match(body)
                if running:
                    current.container = running.group(1)
                elif _USING_CACHE.match(body):
                    current.cached = True
                elif image:
                    current.image = image.group(1)
            return True
        triggers = _TRIGGERS.match(body)
        if triggers:
            if current is not None:
                current.triggers = int(triggers.group(1))
            return True
        built = _BUILT.match(body)
        if built:
            self._clear_weak_failure()
            build.image = built.group(1)
            build.failure, build.failure_strong = None, False
            return True
        tagged = _TAGGED.match(body)
        if tagged:
            build.tags.append(tagged.group(1))
            return True
        aux = _AUX_ID.match(body)
        if aux:
            build.aux_image = aux.group(1)[:12]
            return True
        if _SENDING_CONTEXT.match(body):
            build.sent_context = True
            return True
        return bool(_BOOKKEEPING.match(body))


def parse(chunks: Iterable[str], tail: int = 20) -> BuildLog:
    """Parse classic build output arriving in chunks; see BuildLogParser."""
    parser = BuildLogParser(tail=tail)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()

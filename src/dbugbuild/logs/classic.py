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

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from dbugbuild.logs.model import BuildLog, Failure, LogFormatError, Step
from dbugbuild.logs.text import MAX_LINE, LinePrefix, LineSplitter, strip_ansi

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
# A wrapper may put text after the code on the same line: a closing quote or brace (logrus,
# Ansible's JSON result), kitchen-dokken's `. The common scenerios ...] on <instance>`.
_NON_ZERO = re.compile(
    r"The command (?:'(?P<quoted>.*)'|\[(?P<bracketed>.*)\]) returned a non-zero code: "
    r"(?P<code>-?\d+)(?!\d)"
)
# The same error whose start a wrapper or an excerpt cut off: the command's closing quote is
# what is left of it (an Ansible message holding the whole build on one line).
_CUT_NON_ZERO = re.compile(r"\S' returned a non-zero code: (?P<code>-?\d+)(?!\d)")
# Engine 20.10 (and Docker 1.x): `dockerfile parse error line 3: ...`; Engine 23+ (BuildKit's
# parser, vendored: instructions/parse.go parseError) `dockerfile parse error on line 3: ...`.
_PARSE_ERROR = re.compile(r"[Dd]ockerfile parse error (?:on )?line (\d+): ")
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
# Docker 1.x's CLI with logrus' text format: time="..." level="info" msg="The command ..."
_LOGRUS = re.compile(r'time="[^"]*" level="?\w+"? msg="(?P<msg>(?:[^"\\]|\\.)*)"')
_WEAK_START = re.compile(
    r"pull access denied |manifest for \S+ not found|manifest unknown|repository \S+ not found"
    r"|failed to |unable to |OCI runtime |invalid reference format|toomanyrequests: "
    r"|error from sender: |(?:Get|Head) \"?https?://|unauthorized: "
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
    else:
        logrus = _LOGRUS.match(text)
        if logrus:
            text, marked = re.sub(r"\\(.)", r"\1", logrus.group("msg")), True
    daemon = _DAEMON_PREFIX.match(text)
    if daemon:
        text = text[daemon.end() :]
    text = text.strip()
    non_zero = _NON_ZERO.search(text)
    if non_zero:
        command = non_zero.group("quoted")
        if command is None:
            command = non_zero.group("bracketed")
        message = text[non_zero.start() : non_zero.end()]
        return Failure(message, int(non_zero.group("code")), command, None, False), True
    cut = _CUT_NON_ZERO.search(text)
    if cut:
        return Failure(text[: cut.end()], int(cut.group("code")), None, None, False), True
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
    lines: int = 0  # output lines seen (the tail keeps the last ones)

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
            output_lines=self.lines,
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


class ClassicParser:
    """Streaming parser of classic build output: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        self._lines = LineSplitter(MAX_LINE)
        self._build = _BuildState()
        self._prefix = LinePrefix()  # settled on the first Step line
        self._seen_text = False
        self._first_line: str | None = None
        self._buildkit_line: str | None = None
        self._closed = False

    def feed(self, chunk: str) -> None:
        """Take the next piece of build output (any size, cut anywhere)."""
        if self._closed:
            raise ValueError("feed() after close(): this ClassicParser is finished")
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

    def _line(self, raw: str) -> None:
        clean = strip_ansi(raw)
        line = None if self._prefix.settled else self._prefix.settle(clean, _STEP)
        if line is None:
            line = self._prefix.strip(clean)
        body = line.strip()
        if not body:
            return
        self._seen_text = True
        build = self._build
        current = build.steps[-1] if build.steps else None

        step = _STEP.match(body)
        if step:
            self._step(step)
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
        current.lines += 1

    def _clear_weak_failure(self) -> None:
        """Forget a weak failure that turned out to be step output; keep its line as such."""
        build = self._build
        if build.failure is None or build.failure_strong:
            return
        if build.steps:
            build.steps[-1].tail.append(build.failure_line)
            build.steps[-1].lines += 1
        build.failure, build.failure_line = None, ""

    def _step(self, match: re.Match[str]) -> None:
        build = self._build
        index = int(match.group(1))
        if (build.steps and index <= build.steps[-1].index) or build.image is not None:
            build = self._build = _BuildState(sent_context=build.sent_context)
        self._clear_weak_failure()
        build.failure, build.failure_strong = None, False  # a step began: no error before it
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
    """Parse classic build output arriving in chunks; see ClassicParser."""
    parser = ClassicParser(tail=tail)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()

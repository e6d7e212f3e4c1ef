"""`podman build` / `buildah bud` output -> steps, image ids and the failure. PURE.

Reads what Buildah prints (it is the builder inside Podman), as a user saves it with
`2>&1 | tee`, in any chunking, old and new:

- Podman >= 3.x / Buildah >= 1.2x: `STEP 2/6: RUN ...`, per stage and prefixed `[2/3] ` when
  the Containerfile has several stages (imagebuildah/executor.go, buildStage's log func);
  `--> <id>` after each committed step (11 hex digits in Buildah 1.28 = Podman 4.3, 12 in later
  versions, 64 in Buildah 1.x), `--> Using cache <64 hex>` before it on a cache hit, `COMMIT
  <name>` before the last id, `Successfully tagged <name>`, the final 64-hex id alone on a line;
  the error as `Error: building at STEP "RUN ...": while running runtime: exit status 100`
  (stage_executor.go wraps ib.Run's error as `building at STEP "%s": %w` with step.Message).
- Podman 1.x/2.x / Buildah 1.x: `STEP 1: FROM ...`, one counter for the whole build, `STEP 15:
  COMMIT name`, and `Error: error building at STEP "...": error while running runtime: exit
  status 1` (pkg/errors-era `errors.Wrapf(err, "error building at STEP \"%s\"")`), or, older
  still, `error building at step {Env:[...] Command:run Args:[...] ... Message:RUN ...
  Original:RUN ...}: error while running runtime: exit status 1` (executor.go wrapped the
  whole imagebuilder.Step with `%+v`).

Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- Streaming: `BuildahLogParser.feed` takes any piece of text; the result does not depend on how
  the text was chunked. Lines end at \\n, \\r\\n or a lone \\r; a line longer than 1 Mi
  characters is cut in pieces. Memory grows with the number of steps, not with their output: at
  most `tail` output lines per step, plus one unfinished line.
- Fast: input is searched in cache-sized slices with str.find for the few markers that the
  lines that matter hold (STEP, COMMIT, `-->`, `Successfully tagged`, errors); one compiled
  pattern then reads each such line; only the last `tail` lines between two of them are looked
  at one by one. (On 100 MB that is about 4x the time of `grep -nE` for the same markers.)
- Output lines are reported without ANSI codes, the CI timestamp and indentation that the
  first of Buildah's lines carries, and Buildah's bookkeeping (pull and commit progress).
- Input with no Buildah output (garbage, an empty string, a classic or BuildKit docker log)
  raises `BuildahLogError` (a `LogFormatError`), never returns a half-empty `BuildahLog`.
- When a log holds several builds (a CI retry), the result describes the last one.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dbugbuild.logs.model import LogFormatError
from dbugbuild.logs.text import strip_ansi

__all__ = [
    "BuildahLog",
    "BuildahLogError",
    "BuildahLogParser",
    "Commit",
    "Failure",
    "Step",
    "looks_like_buildah",
    "parse",
]

MAX_LINE = 1 << 20
_SLICE = 1 << 16


class BuildahLogError(LogFormatError):
    """The input holds no recognisable Buildah (`podman build`, `buildah bud`) output."""


@dataclass(frozen=True)
class Step:
    """One `STEP ...:` line of the build and what Buildah said about it."""

    stage: int | None  # s of the `[s/S] ` prefix; None when the log prints none
    stages: int | None  # S of the prefix
    index: int  # i of `STEP i/n:` (counts per stage) or of `STEP i:` (counts the whole build)
    total: int | None  # n of `STEP i/n:`; None in the `STEP i:` format
    text: str  # the instruction as echoed (Buildah echoes the Containerfile's own text)
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last `--> <id>` (as printed: 11, 12 or 64 hex digits)
    cached: bool  # `--> Using cache <id>` seen for this step
    output_tail: tuple[str, ...]  # last lines the step printed, without Buildah's bookkeeping


@dataclass(frozen=True)
class Commit:
    """A `COMMIT [name]` line: Buildah writes the final image of the build (or of a stage)."""

    stage: int | None
    stages: int | None
    name: str | None  # the -t name as given, None for a bare `COMMIT`


@dataclass(frozen=True)
class Failure:
    """The error that ended the build, as Podman or Buildah printed it."""

    message: str  # the error line without `Error: ` or a logrus prefix
    exit_code: int | None  # N of a final `exit status N`: the failing command's (or runtime's)
    step_text: str | None  # what `building at STEP "..."` (or `Message:` of `{...}`) quotes
    kind: str  # 'run' | 'copy-source' | 'base-image' | 'syntax' | 'other'
    subject: str | None  # the missing COPY source, or the base image that could not be had


@dataclass(frozen=True)
class BuildahLog:
    """What a Buildah build did: its steps, commits, and how it ended."""

    steps: tuple[Step, ...]
    commits: tuple[Commit, ...]
    failure: Failure | None
    image: str | None  # the final id line (64 hex), else the `--> <id>` after the last COMMIT
    tags: tuple[str, ...]  # `Successfully tagged <name>`

    @property
    def succeeded(self) -> bool:
        """True when the build printed its final image and no error."""
        return self.failure is None and self.image is not None

    @property
    def failed_step(self) -> Step | None:
        """The step during which the build failed (None: no failure, or outside any step)."""
        if self.failure is None or not self.steps:
            return None
        if self.failure.step_text is not None:
            quoted = " ".join(self.failure.step_text.split())
            for step in reversed(self.steps):
                if step.image is None and " ".join(step.text.split()) == quoted:
                    return step
        last = self.steps[-1]
        return last if last.image is None else None

    @property
    def failed_stage_from(self) -> Step | None:
        """The FROM step of the failing step's stage (its base: the log prints no id for it)."""
        failed = self.failed_step
        if failed is None:
            return None
        for step in self._stage_before(failed, include=True):
            if step.instruction == "FROM":
                return step
        return None

    @property
    def last_good_image(self) -> str | None:
        """The image to debug from: the last `--> <id>` before the failing step, in its stage.

        None when the failing step is the stage's FROM (the base could not be had), or when it
        directly follows the FROM (the base itself is the last good layer: see
        `failed_stage_from`), or when there is no failing step.
        """
        failed = self.failed_step
        if failed is None or failed.instruction == "FROM":
            return None
        for step in self._stage_before(failed, include=False):
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None

    def _stage_before(self, failed: Step, *, include: bool) -> Iterator[Step]:
        """The steps of `failed`'s stage before it, newest first (interleaved stages skipped)."""
        position = max(i for i, step in enumerate(self.steps) if step is failed)
        start = position if include else position - 1
        for step in reversed(self.steps[: start + 1]):
            if failed.stage is not None and step.stage != failed.stage:
                continue  # `--jobs` builds stages in parallel; their lines interleave
            yield step
            if step.instruction == "FROM":
                return


# --- Line shapes -------------------------------------------------------------------------------

# CI prefixes (GitHub Actions / Azure timestamps, Jenkins timestamper), the forms
# dbugbuild.logs.text accepts; which one a log carries is decided on its first Buildah line.
_CI_FORMS = (
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$)",
    r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\] ?",
    r"\d\d:\d\d:\d\d(?: |$)",
)
_CI = "(?:" + "|".join(_CI_FORMS) + ")"
_CI_PATTERNS = tuple(re.compile(form) for form in _CI_FORMS)
_STAGE = r"(?:\[(?P<stage>\d+)/(?P<stages>\d+)\] )?"
_LOGRUS = r'(?:ERRO\[\d+\] |time="[^"\n]*" level=error msg=")?'

# Every line that matters holds one of these; str.find skips the rest of a block at memory
# speed (on 100 MB of build output, 7 finds take 0.35 s where one `re` or `regex` alternation
# scan takes 0.9 s or 2.3 s), then _INTERESTING checks the line the hit is in.
_MARKERS = (
    "STEP ",
    "COMMIT",
    "--> ",
    "Successfully tagged ",
    "Error: ",
    "building at step",
    "creating build container",
)
_INTERESTING = re.compile(
    rf"^(?P<lead>[ \t]*{_CI}?[ \t]*)"
    rf"(?:{_STAGE}(?:STEP (?P<index>\d+)(?:/(?P<total>\d+))?: (?P<text>[^\n]*)"
    r"|(?P<commitkw>COMMIT)(?: (?P<commit>[^\n]*))?$)"
    r"|--> (?P<arrow>[^\n]*)"
    r"|Successfully tagged (?P<tagged>\S+)[ \t]*$"
    r"|Error: (?P<error>[^\n]*)"
    rf"|(?P<logrus>{_LOGRUS})"
    r"(?P<bare>(?:error building|building at STEP|error creating build container)[^\n]*))",
    re.MULTILINE,
)
# After COMMIT, Buildah prints the final id alone (imagebuildah/executor.go, Build).
_FINAL = re.compile(rf"^[ \t]*{_CI}?[ \t]*([0-9a-f]{{64}})[ \t]*$", re.MULTILINE)
_ARROW_ID = re.compile(r"(Using cache )?([0-9a-f]{11,64})\s*$")
_ARROW_NOTE = re.compile(r"(?:Cache pulled from remote|Pushing cache) ")

# Errors.
_STRONG = re.compile(
    r"(?:error )?building at (?:STEP \"|step \{)"
    r"|(?:error )?creating build container: "
    r"|error building: "
)
_QUOTED_STEP = re.compile(r'(?:error )?building at STEP "')
_STRUCT_STEP = re.compile(r"building at step \{")
_STRUCT_MESSAGE = re.compile(r"Message:(.*?) (?:Heredocs:\[[^\]]*\] )?Original:", re.DOTALL)
_STRUCT_LINES = 16  # at most this many lines are joined to an error's open `{...}`
_STEP_END_RUNTIME = re.compile(r'": (?:error )?while running runtime: ')
_STEP_END_STATUS = re.compile(r'": exit status -?\d+\s*$')
_EXIT_STATUS = re.compile(r'exit status (-?\d+)\s*"?\s*$')
_COPY_SOURCE = re.compile(
    r'copier: stat: (?:"(?P<a>[^"]*)"|\[(?P<b>[^\]]*)\]): no such file or directory'
    r'|no files found matching "(?P<c>[^"]*)"'
    r'|no items matching glob "(?P<d>[^"]*)"'
)
_BASE_IMAGE = re.compile(r"(?:error )?creating build container: ")
_SYNTAX = re.compile(
    r"Unknown instruction: "
    r"|requires (?:at least|exactly) (?:one|two) arguments?"
    r"|[Dd]ockerfile parse error"
    r"|parsing (?:Dockerfile|Containerfile)"
)

# Buildah's own progress, not a step's output (FROM pulls, COMMIT writes).
_BOOKKEEPING = re.compile(
    r"Trying to pull \S+"
    r"|Getting image source signatures"
    r"|Copying (?:blob|config) "
    r"|Writing manifest to image destination"
    r"|Storing signatures"
    r'|Resolved "[^"]*" as an alias '
    r'|Resolving "[^"]*" using unqualified-search registries'
    r"|\[Warning\] one or more build args were not consumed"
    r"|(?:ERRO(?:\[\d+\])?|time=\"[^\"]*\" level=error msg=\")\s*\"?exit status \d+\"?\s*$"
    r"|Emulate Docker CLI using podman\."
    r"|\u2714 \S+\s*$"  # Podman 5 shows the short name it resolved: `✔ docker.io/library/x:1`
)
_CLASSIC = re.compile(r"^\s*Step \d+(?:/\d+)? : ", re.MULTILINE)
_BUILDKIT = re.compile(r"^\s*(?:#\d+ \[|\[\+\] Building |=> )", re.MULTILINE)
_NEWLINES = re.compile(r"\r\n|\r|\n")

_HEAD = 4096  # characters kept from the start for error messages and looks_like_buildah


def looks_like_buildah(text: str) -> bool:
    """True when the start of a log (a few KB) shows Buildah's STEP lines or errors."""
    head = text[:65536].replace("\r", "\n")
    if "\x1b" in head:
        head = strip_ansi(head)
    for match in _INTERESTING.finditer(head):
        if match.group("index") is not None:
            return True
        error = match.group("error") or match.group("bare")
        if error is not None and _STRONG.search(error):
            return True
    return False


@dataclass
class _StepState:
    stage: int | None
    stages: int | None
    index: int
    total: int | None
    text: str
    instruction: str
    tail: deque[str]
    image: str | None = None
    cached: bool = False

    def freeze(self) -> Step:
        return Step(
            stage=self.stage,
            stages=self.stages,
            index=self.index,
            total=self.total,
            text=self.text,
            instruction=self.instruction,
            image=self.image,
            cached=self.cached,
            output_tail=tuple(self.tail),
        )


@dataclass
class _BuildState:
    steps: list[_StepState] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    failure: Failure | None = None
    strong: bool = False
    weak_line: str = ""  # a weak failure's line: step output after all if output follows
    committed: bool = False  # a COMMIT was seen: what follows is commit progress
    commit_image: str | None = None
    final: str | None = None
    tags: list[str] = field(default_factory=list)
    open_struct: list[str] | None = None  # an error's `{...}` still open: its lines so far

    @property
    def finished(self) -> bool:
        return self.strong or self.final is not None


class BuildahLogParser:
    """Streaming parser of Buildah output: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        self._pending = ""  # the unfinished last line
        self._buffer: list[str] = []  # pieces fed and not yet processed (< _SLICE characters)
        self._buffered = 0
        self._build = _BuildState()
        self._prefix: re.Pattern[str] | None = None  # the CI prefix of the 1st Buildah line
        self._indent: str | None = None  # and its indentation after that prefix
        self._head: list[str] = []
        self._head_size = 0
        self._seen_text = False
        self._closed = False

    # -- input --------------------------------------------------------------------------------

    def feed(self, chunk: str) -> None:
        """Take the next piece of build output (any size, cut anywhere)."""
        if self._closed:
            raise ValueError("feed() after close(): this BuildahLogParser is finished")
        if not chunk:
            return
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _SLICE:
            self._flush()

    def _flush(self) -> None:
        """Process what feed() collected (small pieces are joined first: fewer, larger scans)."""
        text = self._pending + "".join(self._buffer)
        self._buffer, self._buffered = [], 0
        start, size = 0, len(text)
        # Work in slices that stay in the CPU cache: each is searched once per marker.
        while start < size:
            stop = min(start + _SLICE, size)
            cut = max(text.rfind("\n", start, stop), text.rfind("\r", start, stop))
            if cut < 0:  # a line longer than a slice, or the unfinished end
                cut = _next_break(text, stop)
                if cut < 0:
                    break
                if cut - start > MAX_LINE:
                    self._block(_pieces(text[start:cut]))
                    start = cut + 1
                    continue
            self._block(text[start : cut + 1])
            start = cut + 1
        self._pending = text[start:]
        if len(self._pending) > MAX_LINE:
            self._cut_pending()

    def close(self) -> BuildahLog:
        """Finish the input and return the build; BuildahLogError if none was recognised."""
        if not self._closed:
            self._closed = True
            self._flush()
            if self._pending:
                rest, self._pending = self._pending, ""
                self._block(rest + "\n")
        build = self._build
        if not build.steps and not build.strong and build.final is None:
            raise BuildahLogError(self._why_not())
        steps = tuple(step.freeze() for step in build.steps)
        image = build.final or build.commit_image
        failure = build.failure
        if failure is not None:
            image = None
        return BuildahLog(steps, tuple(build.commits), failure, image, tuple(build.tags))

    def _cut_pending(self) -> None:
        """Bound the memory a line without end can take: cut it in MAX_LINE pieces."""
        cut = len(self._pending) - len(self._pending) % MAX_LINE
        self._block(_pieces(self._pending[:cut]))
        self._pending = self._pending[cut:]

    def _why_not(self) -> str:
        head = "".join(self._head)
        if not self._seen_text:
            return (
                "the build output is empty; expected the output of `podman build` or "
                "`buildah bud`, lines like 'STEP 1/3: FROM ...'"
            )
        if _CLASSIC.search(head):
            return (
                "this is a classic `docker build` log (lines like 'Step 1/3 : FROM'), "
                "not Podman's or Buildah's"
            )
        if _BUILDKIT.search(head):
            return "this is a BuildKit log, not Podman's or Buildah's"
        first = next((line.strip() for line in _NEWLINES.split(head) if line.strip()), "")
        return (
            f"no Podman/Buildah build output found (it starts with {first[:70]!r}); expected "
            "the output of `podman build` or `buildah bud`, lines like 'STEP 1/3: FROM ...'"
        )

    # -- one block of complete lines ----------------------------------------------------------

    def _block(self, block: str) -> None:
        if "\r" in block:
            block = block.replace("\r\n", "\n").replace("\r", "\n")
        if "\x1b" in block:
            block = strip_ansi(block)
        if self._head_size < _HEAD:
            self._head.append(block[: _HEAD - self._head_size])
            self._head_size += len(self._head[-1])
        if not self._seen_text and not block.isspace():
            self._seen_text = True
        starts = set()
        for marker in _MARKERS:
            hit = block.find(marker)
            while hit >= 0:
                starts.add(block.rfind("\n", 0, hit) + 1)
                line_end = block.find("\n", hit)
                hit = block.find(marker, line_end) if line_end >= 0 else -1
        position = 0
        for start in sorted(starts):
            if start < position:
                continue
            match = _INTERESTING.match(block, start)
            if match is None or not self._claims(match):
                continue  # a marker inside a line of output, or output that looks like ours
            if start > position:
                self._output(block, position, start)
            end = block.find("\n", match.end())
            position = len(block) if end < 0 else end + 1
            self._interesting(match)
        if position < len(block):
            self._output(block, position, len(block))

    def _output(self, block: str, start: int, end: int) -> None:
        """Lines block[start:end] are program output: keep the step's last `tail` of them."""
        build = self._build
        if build.open_struct is not None:
            start = self._continue_struct(block, start, end)
        if build.committed and build.failure is None:
            for final in _FINAL.finditer(block, start, end):
                build.final = final.group(1)
        current = build.steps[-1] if build.steps else None
        if current is None or build.strong or build.committed:
            return
        kept: list[str] = []
        limit = end
        want = max(self._tail, 1)
        while limit > start and len(kept) < want:
            cut = block.rfind("\n", start, limit - 1)
            line_start = start if cut < 0 else cut + 1
            line = block[line_start:limit].rstrip("\n")
            limit = line_start
            line = self._unprefix(line).rstrip()
            if not line.strip() or _BOOKKEEPING.match(line.lstrip()):
                continue
            kept.append(line)
        if not kept:
            return
        self._clear_weak_failure()  # output went on: an `Error: ...` before was the step's
        current.tail.extend(reversed(kept[: self._tail]))

    def _unprefix(self, line: str) -> str:
        if self._prefix is not None:
            match = self._prefix.match(line)
            if match:
                line = line[match.end() :]
        if self._indent and line.startswith(self._indent):
            line = line[len(self._indent) :]
        return line

    def _fix_prefix(self, lead: str) -> None:
        """Decide, on the first line of Buildah's, which CI prefix and indentation all have."""
        self._indent = lead
        for pattern in _CI_PATTERNS:
            match = pattern.match(lead)
            if match:
                self._prefix, self._indent = pattern, lead[match.end() :]
                break

    @staticmethod
    def _claims(match: re.Match[str]) -> bool:
        """False for a `--> ...` line that is no id Buildah prints: a program's own output."""
        arrow = match.group("arrow")
        return arrow is None or bool(_ARROW_ID.match(arrow) or _ARROW_NOTE.match(arrow))

    def _interesting(self, match: re.Match[str]) -> None:
        build = self._build
        if self._indent is None:
            self._fix_prefix(match.group("lead"))
        if match.group("index") is not None:
            self._step(match)
        elif match.group("commitkw") is not None:
            self._commit(match.group("stage"), match.group("stages"), match.group("commit"))
        elif match.group("arrow") is not None:
            self._arrow(match.group("arrow"))
        elif match.group("tagged") is not None:
            build.tags.append(match.group("tagged"))
        elif match.group("error") is not None:
            self._error(match.group("error"), match.group(0))
        else:
            text = match.group("bare")
            if "msg=" in match.group("logrus"):  # logrus quoted it: `msg="... \"RUN x\" ..."`
                text = text.removesuffix('"').replace('\\"', '"')
            self._error(text, match.group(0))

    def _step(self, match: re.Match[str]) -> None:
        stage = int(match.group("stage")) if match.group("stage") else None
        stages = int(match.group("stages")) if match.group("stages") else None
        index = int(match.group("index"))
        text = match.group("text").rstrip()
        instruction = text.split(maxsplit=1)[0].upper() if text.strip() else ""
        if instruction == "COMMIT" and match.group("total") is None:
            # Buildah 1.x logged the commit through the STEP counter: `STEP 15: COMMIT name`.
            self._commit(match.group("stage"), match.group("stages"), text[6:].strip() or None)
            return
        build = self._build
        if build.steps:
            last = next((s for s in reversed(build.steps) if s.stage == stage), None)
            restart = index == 1 and stage in (None, 1)
            if restart or build.finished or (last is not None and index <= last.index):
                build = self._build = _BuildState()  # a second build in the same log
        self._clear_weak_failure()
        build.failure, build.strong = None, False  # a step began: no error before it counts
        build.committed = False
        build.steps.append(
            _StepState(
                stage=stage,
                stages=stages,
                index=index,
                total=int(match.group("total")) if match.group("total") else None,
                text=text,
                instruction=instruction,
                tail=deque(maxlen=self._tail),
            )
        )

    def _commit(self, stage: str | None, stages: str | None, name: str | None) -> None:
        build = self._build
        name = name.strip() if name else None
        build.commits.append(
            Commit(int(stage) if stage else None, int(stages) if stages else None, name or None)
        )
        build.committed = True

    def _arrow(self, rest: str) -> None:
        build = self._build
        found = _ARROW_ID.match(rest)
        if found is None:
            return  # `--> Cache pulled from remote ...`, `--> Pushing cache ...`: bookkeeping
        current = build.steps[-1] if build.steps else None
        if current is not None:
            current.image = found.group(2)
            current.cached = current.cached or found.group(1) is not None
        if build.committed and found.group(1) is None:
            build.commit_image = found.group(2)

    def _error(self, text: str, line: str) -> None:
        build = self._build
        message = text.strip()
        strong = bool(_STRONG.search(message))
        if build.strong and not strong:
            return  # a wrapper's `Error: Process completed with exit code 125.`, say
        self._clear_weak_failure()
        build.failure = _failure(message, build.steps[-1] if build.steps else None)
        build.strong = strong
        build.weak_line = "" if strong else self._unprefix(line).rstrip()
        opened = _STRUCT_STEP.search(message)
        if strong and opened and message.count("{") > message.count("}"):
            build.open_struct = [message]

    def _continue_struct(self, block: str, start: int, end: int) -> int:
        """Append lines to an error whose `{...}` a line break cut (as posted, or a Message with
        a newline); return where the lines after it start."""
        build = self._build
        parts = build.open_struct
        while parts is not None and start < end:
            cut = block.find("\n", start, end)
            stop = end if cut < 0 else cut + 1
            line = self._unprefix(block[start:stop].rstrip("\n"))
            start = stop
            if not line.strip():
                continue  # as everywhere: blank lines (and \r\n cut in two) are nothing
            parts.append(line)
            message = "\n".join(parts)
            if message.count("{") <= message.count("}") or len(parts) > _STRUCT_LINES:
                build.open_struct = None
                current = build.steps[-1] if build.steps else None
                build.failure = _failure(message.rstrip(), current)
                parts = None
        return start

    def _clear_weak_failure(self) -> None:
        """Forget a weak failure that turned out to be step output; keep its line as such."""
        build = self._build
        if build.failure is None or build.strong:
            return
        if build.steps and not build.committed:
            build.steps[-1].tail.append(build.weak_line)
        build.failure, build.weak_line = None, ""


def _failure(message: str, current: _StepState | None) -> Failure:
    step_text = _quoted_step(message)
    status = _EXIT_STATUS.search(message)
    exit_code = int(status.group(1)) if status else None
    subject: str | None = None
    copy = _COPY_SOURCE.search(message)
    if _BASE_IMAGE.search(message):
        kind = "base-image"
        if current is not None and current.instruction == "FROM":
            subject = _from_image(current.text)
    elif copy:
        kind = "copy-source"
        subject = next(g for g in copy.groups() if g is not None)
    elif _SYNTAX.search(message):
        kind = "syntax"
    elif exit_code is not None and (
        "running runtime" in message
        or (step_text or "").split(maxsplit=1)[:1] == ["RUN"]
        or (current is not None and current.instruction == "RUN")
    ):
        kind = "run"
    else:
        kind = "other"
    return Failure(message, exit_code, step_text, kind, subject)


def _quoted_step(message: str) -> str | None:
    """The step text an error quotes: `building at STEP "<text>": ...` or `{... Message:...}`."""
    quoted = _QUOTED_STEP.search(message)
    if quoted:
        rest = message[quoted.end() :]
        # Go's %s does not escape the quotes inside the step text: find where it ends by what
        # Buildah writes after it, else at the first `": ` after balanced quotes.
        for ender in (_STEP_END_RUNTIME, _STEP_END_STATUS):
            ends = [found.start() for found in ender.finditer(rest)]
            if ends:
                return rest[: ends[-1]]
        first: int | None = None
        for position in _find_all(rest, '": '):
            if first is None:
                first = position
            if rest[:position].count('"') % 2 == 0:
                return rest[:position]
        return rest[:first] if first is not None else rest.rstrip('"')
    struct = _STRUCT_STEP.search(message)
    if struct:
        found = _STRUCT_MESSAGE.search(message, struct.end())
        return found.group(1) if found else None
    return None


def _next_break(text: str, start: int) -> int:
    """The position of the first line break at or after start, or -1."""
    breaks = [p for p in (text.find("\n", start), text.find("\r", start)) if p >= 0]
    return min(breaks) if breaks else -1


def _pieces(line: str) -> str:
    """A line too long to keep, as lines of MAX_LINE characters (the last may be shorter)."""
    return "\n".join(line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)) + "\n"


def _find_all(text: str, needle: str) -> Iterator[int]:
    position = text.find(needle)
    while position >= 0:
        yield position
        position = text.find(needle, position + 1)


def _from_image(text: str) -> str | None:
    """The image a `FROM [--platform=...] image [AS name]` step names."""
    words = [w for w in text.split()[1:] if not w.startswith("--")]
    return words[0] if words else None


def parse(chunks: Iterable[str], tail: int = 20) -> BuildahLog:
    """Parse Buildah output arriving in chunks; see BuildahLogParser."""
    parser = BuildahLogParser(tail=tail)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()

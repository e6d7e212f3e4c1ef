"""PURE: the streaming parser of classic `docker build` output (see the package's docstring).

Reads whole lines in blocks (text.LineBlocks): a step's output, the bulk of a big log, is
skipped in bulk between the lines that can matter (shapes.STARTS, shapes.ANYWHERE), and only
its last `tail` lines are read; every other line is read one by one. Never does I/O, never
prints, never reads the environment or the clock.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field, replace

from dbugbuild.logs.classic.shapes import (
    ANYWHERE,
    AUX_ID,
    BLANK_LINE,
    BOOKKEEPING,
    BUILDKIT,
    BUILT,
    IMAGE,
    PULL_PROGRESS,
    PULLING_STEPS,
    RUNNING_IN,
    SENDING_CONTEXT,
    STARTS,
    STARTS_FIRST,
    STEP,
    TAGGED,
    TRIGGERS,
    USING_CACHE,
    failure,
)
from dbugbuild.logs.model import BuildLog, Failure, LogFormatError, Step
from dbugbuild.logs.reading import BlockReader, StepBuilder, last_restart
from dbugbuild.logs.text import LinePrefix, LineScan


@dataclass(kw_only=True)
class _StepState(StepBuilder):
    """A classic step as read so far, with its container and ONBUILD triggers."""

    container: str | None = None
    triggers: int = 0

    def freeze(self, offset: int) -> Step:
        fields = self.fields()
        fields["index"] += offset
        return Step(**fields, container=self.container, triggers=self.triggers)


@dataclass
class _BuildState:
    """A classic build as read so far."""

    steps: list[_StepState] = field(default_factory=list)
    failure: Failure | None = None
    failure_strong: bool = False
    failure_line: str = ""  # a weak failure's line: step output after all if output follows
    image: str | None = None
    aux_image: str | None = None
    tags: list[str] = field(default_factory=list)
    sent_context: bool = False


class ClassicParser(BlockReader):
    """Streaming parser of classic build output: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        super().__init__()
        self._scan: LineScan | None = None
        self._build = _BuildState()
        self._prefix = LinePrefix()  # settled on the first Step line
        self._seen_text = False
        self._first_line: str | None = None
        self._buildkit_line: str | None = None

    def close(self) -> BuildLog:
        """Finish the input and return the build; LogFormatError if none was recognised."""
        self._end_input()
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

    # -- blocks of whole lines -----------------------------------------------------------

    def _read(self, text: str) -> None:
        """Read whole lines (each ends in \\n, ANSI-free): a step's output in bulk, the
        lines that can matter one by one."""
        pos, size = 0, len(text)
        skipped = False
        while pos < size:
            if not skipped and self._first_line is not None and self._prefix.settled:
                skipped = True
                pos = self._last_build(text, pos)
            scan = self._bulk_scan()
            start = pos if scan is None else _next_interesting(text, pos, scan)
            if start > pos:
                self._output(text, pos, start)
            if start < size:
                end = text.index("\n", start)
                self._line(text[start:end])
                start = end + 1
            pos = start

    def _last_build(self, text: str, pos: int) -> int:
        """Where to read on from: after the last line of text[pos:] that starts another build
        (`Sending build context` after a build's steps), the parser's state set as that line
        leaves it (a CI retry loop's earlier builds cannot show in the result); else pos."""
        found = last_restart(
            text,
            pos,
            (_SENDING, lambda a, b: bool(SENDING_CONTEXT.match(self._body(text[a:b])))),
            ("Step ", lambda a, b: bool(STEP.match(self._body(text[a:b])))),
            bool(self._build.steps),
        )
        if found is None or (self._buildkit_line is None and _buildkit_like(text, pos, found[0])):
            return pos
        self._build = _BuildState(sent_context=True)  # what that line does after steps
        return found[1] + 1

    def _body(self, line: str) -> str:
        return self._prefix.strip(line).strip()

    def _bulk_scan(self) -> LineScan | None:
        """The patterns that find the next line that can matter, or None while every line
        must be read: before the prefix is settled and the first output line seen, outside
        a step (a BuildKit log is told by its lines there), and in a step that may pull."""
        build = self._build
        if not build.steps or self._first_line is None or not self._prefix.settled:
            return None
        if build.steps[-1].instruction in PULLING_STEPS:
            return None
        if self._scan is None:
            self._scan = self._prefix.starts(STARTS, STARTS_FIRST)
        return self._scan

    def _output(self, text: str, start: int, stop: int) -> None:
        """Lines text[start:stop] are the current step's output: keep the last `tail`."""
        build = self._build
        if not build.failure_strong and stop > start:  # its lines with text in them, as _line
            blank = len(BLANK_LINE.findall(text, start, stop - 1))
            build.steps[-1].lines += text.count("\n", start, stop) - blank
        kept: list[str] = []
        limit, want = stop, max(self._tail, 1)
        while limit > start and len(kept) < want:
            cut = text.rfind("\n", start, limit - 1)
            line_start = start if cut < 0 else cut + 1
            line = self._prefix.strip(text[line_start : limit - 1])
            limit = line_start
            if line.strip():
                kept.append(line.rstrip())
        if not kept:
            return
        self._clear_weak_failure()  # output went on: that was no error of the builder's
        if not build.failure_strong:
            build.steps[-1].tail.extend(reversed(kept))

    # -- one line ---------------------------------------------------------------------

    def _line(self, clean: str) -> None:
        line = None if self._prefix.settled else self._prefix.settle(clean, STEP)
        if line is None:
            line = self._prefix.strip(clean)
        body = line.strip()
        if not body:
            return
        self._seen_text = True
        build = self._build
        current = build.steps[-1] if build.steps else None

        step = STEP.match(body)
        if step:
            self._step(step)
            return
        if SENDING_CONTEXT.match(body) and (build.steps or build.failure or build.image):
            self._build = _BuildState(sent_context=True)  # a second build in the same log
            return
        if self._bookkeeping(body, current):
            return

        if self._first_line is None:
            self._first_line = body
        found = failure(body)
        if found is not None:
            failed, strong = found
            if strong or not build.failure_strong:
                self._clear_weak_failure()
                build.failure, build.failure_strong = failed, strong
                build.failure_line = "" if strong else line.rstrip()
            return
        self._clear_weak_failure()  # output went on: that was no error of the builder's
        if current is None:
            if self._buildkit_line is None and BUILDKIT.match(body):
                self._buildkit_line = body
            return
        if build.failure_strong:
            return  # after the builder's error: a wrapper's lines, not the step's output
        if current.instruction in PULLING_STEPS and PULL_PROGRESS.match(body):
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
                running = RUNNING_IN.match(body)
                image = IMAGE.match(body)
                if running:
                    current.container = running.group(1)
                elif USING_CACHE.match(body):
                    current.cached = True
                elif image:
                    current.image = image.group(1)
            return True
        triggers = TRIGGERS.match(body)
        if triggers:
            if current is not None:
                current.triggers = int(triggers.group(1))
            return True
        built = BUILT.match(body)
        if built:
            self._clear_weak_failure()
            build.image = built.group(1)
            build.failure, build.failure_strong = None, False
            return True
        tagged = TAGGED.match(body)
        if tagged:
            build.tags.append(tagged.group(1))
            return True
        aux = AUX_ID.match(body)
        if aux:
            build.aux_image = aux.group(1)[:12]
            return True
        if SENDING_CONTEXT.match(body):
            build.sent_context = True
            return True
        return bool(BOOKKEEPING.match(body))


def _next_interesting(text: str, pos: int, scan: LineScan) -> int:
    """The start of the first line at or after `pos` (a line's start) that can matter."""
    best = scan.next(text, pos)
    for marker in ANYWHERE:
        found = text.find(marker, pos, best)
        if found >= 0:
            best = text.rfind("\n", pos, found) + 1 or pos
    return best


_SENDING = "Sending build context to Docker daemon"
_VERTEX = re.compile(r"#\d")  # a literal first: found at memory speed


def _buildkit_like(text: str, start: int, stop: int) -> bool:
    """Whether text[start:stop] may hold a line BUILDKIT matches (a superset)."""
    if any(text.find(mark, start, stop) >= 0 for mark in ("=> ", "[+] ", "ERROR: failed")):
        return True
    return _VERTEX.search(text, start, stop) is not None and bool(
        BUILDKIT.search(text, start, stop)
    )

"""PURE: the streaming parser of Buildah output (`podman build`, `buildah bud`) -> BuildahLog.

See the package's docstring for what it guarantees. Never does I/O, never prints, never reads
the environment or the clock.
"""

from __future__ import annotations

import re
from collections import deque

from dbugbuild.logs.buildah.model import BuildahLog, BuildahLogError, Commit
from dbugbuild.logs.buildah.shapes import (
    ARROW_ID,
    ARROW_NOTE,
    BOOKKEEPING,
    BUILDKIT,
    CLASSIC,
    FINAL,
    HEAD,
    INTERESTING,
    MARKERS,
    NEWLINES,
    STRONG,
    STRUCT_LINES,
    STRUCT_STEP,
    classify,
    next_break,
    pieces,
)
from dbugbuild.logs.buildah.state import BuildState, StepState, last_step_done
from dbugbuild.logs.reading import last_restart
from dbugbuild.logs.text import CI_PREFIXES, MAX_LINE, strip_ansi

_SLICE = 1 << 16


class BuildahLogParser:
    """Streaming parser of Buildah output: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        self._pending = ""  # the unfinished last line
        self._buffer: list[str] = []  # pieces fed and not yet processed (< _SLICE characters)
        self._buffered = 0
        self._build = BuildState()
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
                cut = next_break(text, stop)
                if cut < 0:
                    break
                if cut - start > MAX_LINE:
                    self._block(pieces(text[start:cut]))
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
        self._block(pieces(self._pending[:cut]))
        self._pending = self._pending[cut:]

    def _why_not(self) -> str:
        head = "".join(self._head)
        if not self._seen_text:
            return (
                "the build output is empty; expected the output of `podman build` or "
                "`buildah bud`, lines like 'STEP 1/3: FROM ...'"
            )
        if CLASSIC.search(head):
            return (
                "this is a classic `docker build` log (lines like 'Step 1/3 : FROM'), "
                "not Podman's or Buildah's"
            )
        if BUILDKIT.search(head):
            return "this is a BuildKit log, not Podman's or Buildah's"
        first = next((line.strip() for line in NEWLINES.split(head) if line.strip()), "")
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
        if self._head_size < HEAD:
            self._head.append(block[: HEAD - self._head_size])
            self._head_size += len(self._head[-1])
        if not self._seen_text and not block.isspace():
            self._seen_text = True
        if self._indent is not None:
            block = self._last_build(block)
        starts = set()
        for marker in MARKERS:
            hit = block.find(marker)
            while hit >= 0:
                starts.add(block.rfind("\n", 0, hit) + 1)
                line_end = block.find("\n", hit)
                hit = block.find(marker, line_end) if line_end >= 0 else -1
        position = 0
        for start in sorted(starts):
            if start < position:
                continue
            match = INTERESTING.match(block, start)
            if match is None or not self._claims(match):
                continue  # a marker inside a line of output, or output that looks like ours
            if start > position:
                self._output(block, position, start)
            end = block.find("\n", match.end())
            position = len(block) if end < 0 else end + 1
            self._interesting(match)
        if position < len(block):
            self._output(block, position, len(block))

    def _last_build(self, block: str) -> str:
        """The block from the last `STEP 1` line that starts another build (after a build's
        steps), the state reset as that line resets it (a CI retry loop's earlier builds
        cannot show in the result); else the whole block."""
        found = last_restart(
            block,
            0,
            ("STEP 1", lambda a, _: _restarts(INTERESTING.match(block, a))),
            ("STEP ", lambda a, _: _is_step(INTERESTING.match(block, a))),
            bool(self._build.steps),
        )
        if found is None:
            return block
        self._build = BuildState()
        return block[found[0] :]

    def _output(self, block: str, start: int, end: int) -> None:
        """Lines block[start:end] are program output: keep the step's last `tail` of them."""
        build = self._build
        if build.open_struct is not None:
            start = self._continue_struct(block, start, end)
        current = build.steps[-1] if build.steps else None
        if build.failure is None and not build.committed and last_step_done(current):
            # Untagged, its last step a cache hit: Buildah prints no COMMIT, only the id.
            final = FINAL.search(block, start, end)
            if final is not None:
                build.committed = True
                start = final.start()
        if build.committed and build.failure is None:
            for final in FINAL.finditer(block, start, end):
                build.final = final.group(1)
        if current is None or build.strong or build.committed:
            return
        current.lines += block.count("\n", start, end)
        kept: list[str] = []
        limit = end
        want = max(self._tail, 1)
        while limit > start and len(kept) < want:
            cut = block.rfind("\n", start, limit - 1)
            line_start = start if cut < 0 else cut + 1
            line = block[line_start:limit].rstrip("\n")
            limit = line_start
            line = self._unprefix(line).rstrip()
            if not line.strip() or BOOKKEEPING.match(line.lstrip()):
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
        for pattern in CI_PREFIXES:
            match = pattern.match(lead)
            if match:
                self._prefix, self._indent = pattern, lead[match.end() :]
                break

    @staticmethod
    def _claims(match: re.Match[str]) -> bool:
        """False for a `--> ...` line that is no id Buildah prints: a program's own output."""
        arrow = match.group("arrow")
        return arrow is None or bool(ARROW_ID.match(arrow) or ARROW_NOTE.match(arrow))

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
                build = self._build = BuildState()  # a second build in the same log
        self._clear_weak_failure()
        build.failure, build.strong = None, False  # a step began: no error before it counts
        build.committed = False
        build.steps.append(
            StepState(
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
        found = ARROW_ID.match(rest)
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
        strong = bool(STRONG.search(message))
        if build.strong and not strong:
            return  # a wrapper's `Error: Process completed with exit code 125.`, say
        self._clear_weak_failure()
        build.failure = classify(message, build.steps[-1] if build.steps else None)
        build.strong = strong
        build.weak_line = "" if strong else self._unprefix(line).rstrip()
        opened = STRUCT_STEP.search(message)
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
            if message.count("{") <= message.count("}") or len(parts) > STRUCT_LINES:
                build.open_struct = None
                current = build.steps[-1] if build.steps else None
                build.failure = classify(message.rstrip(), current)
                parts = None
        return start

    def _clear_weak_failure(self) -> None:
        """Forget a weak failure that turned out to be step output; keep its line as such."""
        build = self._build
        if build.failure is None or build.strong:
            return
        if build.steps and not build.committed:
            build.steps[-1].tail.append(build.weak_line)
            build.steps[-1].lines += 1
        build.failure, build.weak_line = None, ""


def _restarts(match: re.Match[str] | None) -> bool:
    """Whether a line INTERESTING matched is a `STEP 1` of the first stage (or of no stage)."""
    return match is not None and match.group("index") == "1" and match.group("stage") in (None, "1")


def _is_step(match: re.Match[str] | None) -> bool:
    return match is not None and match.group("index") is not None

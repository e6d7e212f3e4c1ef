"""PURE: the streaming parser of BuildKit's plain progress (see the package's docstring).

Feed it text cut anywhere, then close() it: a BuildKitLog for the last build the log
holds, or BuildKitLogError. Never does I/O, never prints, never reads the environment
or the clock.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from dbugbuild.logs.buildkit.lines import (
    BLOCK_HEAD,
    BLOCK_RULE,
    BLOCK_TIME,
    BUILDING_WITH,
    BUILDKIT_WORDING,
    CHECK_ITEM,
    CHECKS,
    CLIPPED,
    END,
    EXCERPT_HEAD,
    EXCERPT_LINE,
    EXCERPT_RULE,
    FINAL,
    OUTPUT_LINE,
    OUTPUT_START,
    PREFIX_RE,
    RUN_VERTEX,
    TIMED,
    TTY,
    VERTEX,
    WARNING,
    run_end,
)
from dbugbuild.logs.buildkit.model import BuildKitLog
from dbugbuild.logs.buildkit.skim import MARKER, skim
from dbugbuild.logs.buildkit.state import Block, Build, VertexBuilder, no_build_error, result
from dbugbuild.logs.model import ExcerptLine
from dbugbuild.logs.reading import BlockReader
from dbugbuild.logs.text import GATHER

_NORMAL, _IN_BLOCK, _IN_EXCERPT, _IN_CHECKS = range(4)
_MAY_BE_FINAL = re.compile("ERROR: |error: |failed to ")  # what every FINAL line holds
_PREFIX_FIRST = frozenset("0123456789[")
_BARE_VERTEX = re.compile(r"#([0-9]+)(?: ([^\n]*))?\n")  # what VERTEX takes, at a line's start
_HEADER_FIRST = re.compile(r"\n*#[1-9][0-9]* \[")  # a build's first vertex, read as one
_DIGITS = frozenset("0123456789")  # what OUTPUT_START takes after `#N `
_END_FIRST = frozenset("DCE")  # what every END starts with (DONE, CACHED, CANCELED, ERROR)


class BuildKitLogParser(BlockReader):
    """Streaming parser of BuildKit plain progress: feed() text in any chunks, then close()."""

    def __init__(self, tail: int = 20) -> None:
        if tail < 0:
            raise ValueError(f"tail must be 0 or more, not {tail}")
        self._tail = tail
        super().__init__()
        self._build = Build()
        self._previous: Build | None = None
        self._builds = 1
        self._mode = _NORMAL
        self._current: int | None = None  # the vertex the previous line belonged to
        self._pending_block = False
        self._pending_excerpt: tuple[str, int] | None = None
        self._block: Block | None = None
        self._tty_lines = 0
        self._first_line: str | None = None
        self._seen_text = False
        self._indent: str | None = None  # what a wrapper (a pasted log) puts before each line
        # The last build skimmed (skim.py), and the state before it, to read it again if it
        # is still the build or the previous one when the block is read.
        self._skimmed: tuple[int, tuple[Any, ...], Build] | None = None
        self._last_start = -1  # where the block's last `#0 building with` line begins, - 1

    # -- input --------------------------------------------------------------------------

    def close(self) -> BuildKitLog:
        """Finish the input and return the (last) build; BuildKitLogError if there is none."""
        self._end_input()
        build = self._build
        if not build.has_evidence() and self._previous is not None:
            build = self._previous
        if not build.has_evidence() or (self._tty_lines and not build.vertices):
            raise no_build_error(self._build, self._tty_lines, self._seen_text, self._first_line)
        return result(build, self._builds if build is self._build else self._builds - 1)

    # -- blocks of whole lines ----------------------------------------------------------

    def _read(self, text: str) -> None:
        """Handle complete lines (each ends with \\n, ANSI-free): runs of output in bulk,
        others one by one, a build that a later one of the block replaces skimmed."""
        self._last_start = text.rfind(MARKER)  # no build to skim after the last one begins
        end = len(text)
        if self._last_start >= 0 and end - self._last_start <= GATHER and not self._closed:
            end = text.index("\n", self._last_start + 1) + 1  # the last build, from its second
            self._lines.unread(text[end:])  # line: read with the next block, then skimmed if
            # another build follows it there
        normal = self._mode == _NORMAL and not self._pending_block
        pos = self._skim(text, 0) if normal and self._pending_excerpt is None else 0
        self._scan(text, pos, True, end)
        skimmed, self._skimmed = self._skimmed, None
        if skimmed is None:
            return
        pos, state, lossy = skimmed
        gone = self._build.vertices or _HEADER_FIRST.match(text, end)  # (a vertex to come)
        if self._build is not lossy and (self._previous is not lossy or gone):
            return  # the skimmed build shows nowhere: a build with vertices follows it
        self._builds, self._previous, copied, self._first_line, self._tty_lines = state[:5]
        self._build = copied or Build(builder=lossy.builder, driver=lossy.driver)
        self._current, self._seen_text, self._mode, self._block = *state[5:], _NORMAL, None
        self._pending_block, self._pending_excerpt = False, None
        self._scan(text, pos, False, end)

    def _scan(self, text: str, pos: int, skimming: bool, size: int) -> None:
        while pos < size:
            if text[pos] == "\n" and self._mode in (_NORMAL, _IN_CHECKS):
                self._blank()  # the empty line between vertices: half the lines of a build
                pos += 1
                continue
            normal = self._mode == _NORMAL and not self._pending_block
            # A bare `#N ...` line (no stamp, no indent), read as _line would read it without
            # its prefix, indent, mode and blank tests: most lines of a many-builds log.
            bare = (
                _BARE_VERTEX.match(text, pos)
                if normal and self._indent == "" and text[pos] == "#"
                else None
            )
            if bare is not None:
                start = bare if (bare.group(2) or "")[:1] in _DIGITS else None
            else:
                start = OUTPUT_START.match(text, pos) if normal else None
            # (until the indentation is settled, on the first `#N` line, _line reads it)
            if start is not None and self._pending_excerpt is None and self._indent is not None:
                vertex = start.group(2) if bare is None else bare.group(1)
                end = run_end(None if bare else start.group(1), vertex).search(text, pos)
                stop = end.start() + 1 if end else size
                self._output_run(text, pos, stop)
                pos = stop
            elif bare is not None and self._pending_excerpt is None:
                self._seen_text = True
                self._vertex_line(int(bare.group(1)), bare.group(2) or "")
                pos = bare.end()
                if skimming and bare.group(1) == "0" and self._build.fresh():
                    pos = self._skim(text, pos)
            else:
                newline = text.index("\n", pos)
                self._line(text[pos:newline])
                pos = newline + 1

    def _skim(self, text: str, pos: int) -> int:
        """Where to read on from pos (a line's start, in normal mode): past the build that
        goes on there when it is skimmed (skim.py) up to the next one, else pos."""
        if self._last_start < pos:
            return pos
        build, current, fresh = self._build, self._current, self._build.fresh()
        known = {} if fresh else {str(n): vertex.name for n, vertex in build.vertices.items()}
        found = None
        if self._indent == "":
            last = None if current is None else str(current)
            found = skim(text, pos, known, build.ended(), last)
        if found is None or found[0] == pos or (found[2] and self._first_line is None):
            return pos  # (an error tail would tell the first line)
        copied = None if fresh else build.copied()  # (a fresh one is made again, if need be)
        kept = (self._builds, self._previous, copied, self._first_line)
        self._skimmed = (pos, (*kept, self._tty_lines, current, self._seen_text), build)
        stop, vertex, _ = found
        build.vertices.setdefault(vertex, VertexBuilder(vertex, "", deque(maxlen=0)))
        self._current = None
        return stop

    def _output_run(self, text: str, start: int, stop: int) -> None:
        """Lines text[start:stop] are all `#N 1.234 ...`: count them, keep the last few."""
        self._seen_text = True
        first = RUN_VERTEX.match(text, start)
        last_start = text.rfind("\n", start, stop - 1) + 1
        last = RUN_VERTEX.match(text, max(last_start, start))
        if first is None or last is None or first.group(1) != last.group(1):
            for line in text[start:stop].splitlines():
                self._line(line)
            return
        vertex = self._vertex(int(first.group(1)))
        vertex.lines += text.count("\n", start, stop)
        if not vertex.clipped and text.find(CLIPPED, start, stop) != -1:
            vertex.clipped = True
        if self._tail:
            begin = stop - 1  # the start of the last `tail` lines, without copying the run
            for _ in range(self._tail):
                found = text.rfind("\n", start, begin)
                if found < 0:
                    begin = start
                    break
                begin = found
            else:
                begin += 1
            keep = text[begin : stop - 1].split("\n")
            for line in keep:
                if line.startswith("#"):  # the usual shape, split without a regex
                    parts = line.split(" ", 2)
                    vertex.tail.append(parts[2] if len(parts) > 2 else "")
                else:
                    match = OUTPUT_LINE.match(line)
                    vertex.tail.append((match.group(2) or "") if match else line)
        self._current = vertex.number

    def _vertex(self, number: int, name: str | None = None) -> VertexBuilder:
        vertex = self._build.vertices.get(number)
        if vertex is None:
            vertex = VertexBuilder(number, name or "", deque(maxlen=self._tail))
            self._build.vertices[number] = vertex
        return vertex

    # -- one line -----------------------------------------------------------------------

    def _line(self, raw: str) -> None:
        # Every CI prefix starts with a digit or `[`: most lines (`#N ...`) skip the match.
        prefix = PREFIX_RE.match(raw) if raw[:1] in _PREFIX_FIRST else None
        line = raw[prefix.end() :] if prefix else raw
        if self._indent is None and VERTEX.fullmatch(line):  # settled on the first `#N`
            self._indent = line[: len(line) - len(line.lstrip(" \t"))]
        if self._indent and line.startswith(self._indent):
            line = line[len(self._indent) :]
        if self._mode == _IN_EXCERPT:
            self._excerpt_line(line)
            return
        if self._mode == _IN_BLOCK:
            self._block_line(line)
            return
        if not line.strip():
            self._blank()
            return
        self._seen_text = True
        if self._pending_block:
            self._pending_block = False
            head = BLOCK_HEAD.fullmatch(line)
            if head:
                self._block = Block(head.group(1), deque(maxlen=self._tail))
                self._build.blocks.append(self._block)
                self._mode = _IN_BLOCK
                return
        if self._pending_excerpt is not None:
            name, number = self._pending_excerpt
            self._pending_excerpt = None
            if line == EXCERPT_RULE:
                build = self._build
                build.excerpt, build.excerpt_file, build.excerpt_line = [], name, number
                self._mode = _IN_EXCERPT
                return
        if self._mode == _IN_CHECKS:
            item = CHECK_ITEM.match(line)
            if item:
                self._warn(item.group(1).rstrip())
                return
            self._mode = _NORMAL
        vertex = VERTEX.fullmatch(line)
        if vertex:
            self._vertex_line(int(vertex.group(1)), vertex.group(2) or "")
            return
        self._current = None
        self._top_line(line)

    def _blank(self) -> None:
        self._current = None
        self._pending_block = False
        self._pending_excerpt = None
        if self._mode == _IN_CHECKS:
            self._mode = _NORMAL

    def _vertex_line(self, number: int, rest: str) -> None:
        build = self._build
        if number == 0:
            building = BUILDING_WITH.match(rest)
            if building:
                if build.has_evidence() or build.builder is not None:
                    self._new_build()
                    build = self._build
                build.builder, build.driver = building.group("builder"), building.group("driver")
            self._current = None
            return
        known = build.vertices.get(number)
        end = END.fullmatch(rest) if rest[:1] in _END_FIRST else None
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
        timed = TIMED.fullmatch(rest) if rest[:1].isdigit() else None
        if timed:  # output met one line at a time (after an error block, in a fallback)
            vertex = known or self._vertex(number)
            vertex.lines += 1
            vertex.tail.append(timed.group(1) or "")
            if CLIPPED in rest:
                vertex.clipped = True
            self._current = number
            return
        if rest.startswith("WARN: ") and known is not None:
            self._warn(rest[len("WARN: ") :])
            self._current = number
            return
        if known is not None and self._current == number:
            build.status(rest)
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

    def _top_line(self, line: str) -> None:
        build = self._build
        if self._first_line is None and line not in (BLOCK_RULE, EXCERPT_RULE):
            self._first_line = line.strip()
        if line == BLOCK_RULE:
            self._pending_block = True
            return
        # The cheap tests first: a 1 MiB piece of a long line took 50 ms through these two.
        head = EXCERPT_HEAD.fullmatch(line) if line[-1:].isdigit() else None
        if head:
            self._pending_excerpt = (head.group(1), int(head.group(2)))
            return
        final = FINAL.fullmatch(line) if _MAY_BE_FINAL.search(line) else None
        if final:
            message = (
                final.group("msg")
                or final.group("lower")
                or final.group("bare")
                or final.group("quoted")
            )
            # After the image is written, an `ERROR:` line is some later tool's (a push, a test).
            worded = BUILDKIT_WORDING.search(message) is not None
            if build.final is None and (worded or not (build.image or build.names)):
                build.final = message
            return
        warning = WARNING.fullmatch(line)
        if warning:
            self._warn(warning.group(1).rstrip())
            return
        if CHECKS.fullmatch(line):
            self._mode = _IN_CHECKS
            return
        if TTY.match(line):
            self._tty_lines += 1

    def _warn(self, text: str) -> None:
        if text not in self._build.warnings:
            self._build.warnings.append(text)

    def _block_line(self, line: str) -> None:
        assert self._block is not None
        if line == BLOCK_RULE:
            self._mode, self._block = _NORMAL, None
            return
        stamp = BLOCK_TIME.match(line)
        self._block.lines.append(line[stamp.end() :] if stamp else line)

    def _excerpt_line(self, line: str) -> None:
        if line == EXCERPT_RULE:
            self._mode = _NORMAL
            return
        numbered = EXCERPT_LINE.fullmatch(line)
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
        self._build = Build()
        self._current, self._block, self._mode = None, None, _NORMAL

"""PURE: the lines of build output, as every log family needs them.

Chunks -> lines (\\n, \\r\\n and a lone \\r end a line, also across chunks), ANSI escape
sequences removed, and the timestamp prefix a CI system adds to each line recognised and
stripped. Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

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


class LineSplitter:
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


MAX_LINE = 1 << 20


def split_lines(chunks: Iterable[str], max_line: int = MAX_LINE) -> Iterator[str]:
    """Yield the lines of text arriving in chunks (without their line endings).

    \\n, \\r\\n and a lone \\r (a progress update) each end a line, also when split
    across chunks; a last line without an ending is yielded at the end. A line longer
    than `max_line` characters is yielded in pieces of `max_line`.
    """
    splitter = LineSplitter(max_line)
    for chunk in chunks:
        yield from splitter.push(chunk)
    yield from splitter.finish()


# CI prefixes. Which one a log carries is decided on its first line of build output (a
# classic `Step` line, say) and then stripped from every line; before that, each is
# tried on each line.
CI_PREFIXES = (
    # GitHub Actions, Azure Pipelines: 2024-03-05T10:11:12.3456789Z
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |$)"),
    # Jenkins timestamper, ISO form: [2024-03-05T10:11:12.345Z]
    re.compile(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\] ?"),
    # Jenkins timestamper, clock form: 10:11:12
    re.compile(r"\d\d:\d\d:\d\d(?: |$)"),
)
_NO_PREFIX = re.compile(r"")
# Packer tags each line of a provisioner's output `    NAME: ` (its stdout) or `==> NAME: `
# (its stderr and Packer's own messages); `--> NAME: ` in its closing summary.
_PACKER_TAG = re.compile(r"(?:==> |--> | +)(?P<name>[^\s:]+): ")
# Mixlib::ShellOut (Test Kitchen's docker drivers, Chef) starts the command's stdout and its
# stderr each with a tag: `STDOUT: ` / `STDERR: ` on the first line of each section.
_SECTION_TAGS = ("STDOUT: ", "STDERR: ")


class LinePrefix:
    """The CI prefix and wrapper tag or indentation of a log's lines, decided once, then
    stripped."""

    def __init__(self) -> None:
        self._prefix: re.Pattern[str] | None = None
        self._indent = ""
        self._tag: re.Pattern[str] | None = None

    @property
    def settled(self) -> bool:
        return self._prefix is not None

    def settle(self, line: str, first: re.Pattern[str]) -> str | None:
        """Decide, on the family's first line of build output, which prefix and indentation or
        wrapper tag every line has; the line without them, or None (nothing decided) when
        `first` does not match there. `line` is ANSI-free."""
        prefix = _NO_PREFIX
        for candidate in CI_PREFIXES:
            match = candidate.match(line)
            if match:
                prefix, line = candidate, line[match.end() :]
                break
        body = line.lstrip()
        if first.match(body):
            self._prefix, self._indent = prefix, line[: len(line) - len(body)]
            return body
        tag = _PACKER_TAG.match(line)
        if tag and first.match(line, tag.end()):
            name = re.escape(tag.group("name"))
            self._prefix, self._tag = prefix, re.compile(rf"(?:==> |--> | *){name}:(?: |$)")
            return line[tag.end() :]
        return None

    def strip(self, line: str) -> str:
        """The line without its prefix (and indentation or tag, once settled)."""
        if self._prefix is not None:
            match = self._prefix.match(line)
            if match:
                line = line[match.end() :]
            if self._tag is not None:
                tag = self._tag.match(line)
                if tag:
                    line = line[tag.end() :]
            elif self._indent and line.startswith(self._indent):
                line = line[len(self._indent) :]
        else:
            for prefix in CI_PREFIXES:
                match = prefix.match(line)
                if match:
                    line = line[match.end() :]
                    break
        if line.startswith(_SECTION_TAGS):
            line = line[len("STDOUT: ") :]
        return line

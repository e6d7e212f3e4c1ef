"""PURE: the lines of build output, as every log family needs them.

Chunks -> lines (\\n, \\r\\n and a lone \\r end a line, also across chunks), ANSI escape
sequences removed, and the timestamp prefix a CI system adds to each line recognised and
stripped. Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

# ECMA-48: CSI sequences (colours, cursor moves), OSC strings, and two-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
)
_NEWLINE = re.compile(r"\r\n|\r|\n")
# The same over a block of lines: an unterminated OSC string ends with its line.
_ANSI_BLOCK = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
)
MAX_LINE = 1 << 20  # a longer line is cut into pieces of this many characters
GATHER = 1 << 18  # what a parser reads at a time: its cost per block is paid less often


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor movement, OSC titles) from text."""
    return _ANSI.sub("", text)


def has_long_line(text: str, max_line: int = MAX_LINE) -> bool:
    """Whether text holds a line longer than max_line, probing every max_line/2 characters.

    A line that long contains a probe point from which the next newline is more than
    max_line/2 away; only such points are measured. (A `regex` pattern `[^\\n]{1048577,}`
    would do it in one call, but compiling it takes 280 MB and 0.4 s.)
    """
    half = max(max_line // 2, 1)
    for probe in range(0, len(text), half):
        if text.find("\n", probe, probe + half + 1) == -1:
            start = text.rfind("\n", 0, probe) + 1
            end = text.find("\n", probe)
            if (end if end != -1 else len(text)) - start > max_line:
                return True
    return False


def cut_lines(text: str, max_line: int = MAX_LINE) -> str:
    """Text of whole lines (each ending in \\n), a line longer than max_line cut into lines
    of max_line characters (the last piece of each may be shorter)."""
    if len(text) <= max_line or not has_long_line(text, max_line):
        return text
    out = []
    for line in text[:-1].split("\n"):
        if len(line) <= max_line:
            out.append(line)
        else:
            out += [line[i : i + max_line] for i in range(0, len(line), max_line)]
    return "\n".join(out) + "\n"


class LineBlocks:
    """Incremental chunks -> blocks of whole lines, the way every parser reads a log.

    Each block ends in \\n: \\r\\n and a lone \\r became \\n (also across chunks), a
    line longer than max_line was cut into pieces of max_line counted from the line's start
    (whatever the chunking: at most max_line characters of an unfinished line are kept), and
    ANSI escape sequences are removed. So the blocks' lines do not depend on the chunking.
    """

    def __init__(self, max_line: int = MAX_LINE, gather: int = 0) -> None:
        self._parts: list[str] = []  # the unfinished line (and up to `gather` more)
        self._size = 0
        self._max_line = max_line
        self._gather = min(gather, max_line)  # join small chunks: fewer, larger blocks

    def push(self, chunk: str) -> str:
        """The whole lines that `chunk` completes ("" when it completes none)."""
        if not chunk:
            return ""
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._size < self._gather or (
            "\n" not in chunk and "\r" not in chunk and self._size <= self._max_line
        ):
            return ""
        cut = chunk.rfind("\n") + 1
        if cut and "\r" not in chunk and len(chunk) <= self._max_line:  # the usual case: the
            self._parts[-1] = chunk[:cut]  # block is joined without its unfinished last line,
            block = _normal("".join(self._parts), self._max_line)  # not cut from a copy
            self._parts, self._size = (
                ([chunk[cut:]], len(chunk) - cut) if cut < len(chunk) else ([], 0)
            )
            return block
        text = "".join(self._parts)
        # A line ends at \n, \r\n or a lone \r; a \r at the very end may be half of a \r\n.
        end = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
        rest = text[end:]
        block = _normal(text[:end], self._max_line) if end else ""
        if len(rest) > self._max_line:
            cut = (len(rest) - 1) // self._max_line * self._max_line  # keep 1..max_line
            max_line = self._max_line
            pieces = [rest[i : i + max_line] for i in range(0, cut, max_line)]
            block += _normal("\n".join(pieces) + "\n", max_line)
            rest = rest[cut:]
        self._parts, self._size = ([rest], len(rest)) if rest else ([], 0)
        return block

    def unread(self, lines: str) -> None:
        """Put whole lines (a block's end, each ending in \\n) back before the input not yet
        returned: the next block starts with them."""
        if lines:
            self._parts.insert(0, lines)
            self._size += len(lines)

    def finish(self) -> str:
        """What is left: lines gathered, and the last line when the text did not end with a
        line break."""
        rest = "".join(self._parts)
        self._parts, self._size = [], 0
        if not rest:
            return ""
        ended = rest.endswith(("\n", "\r"))  # gathered whole lines, not a last line
        return _normal(rest if ended else rest + "\n", self._max_line)


def _normal(text: str, max_line: int) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = cut_lines(text, max_line)
    return _ANSI_BLOCK.sub("", text) if "\x1b" in text else text


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
# Each: what strip() removes, and the same written for scans (scan_starts): possessive, so
# that a search does not backtrack into it at every line (3x faster on a stamped log).
# Each: what strip() removes; the same for scans (LineScan), possessive so that a search does
# not backtrack into it at every line (3x faster); the stamp's last character and what a line
# without the stamp does not start with, to find the lines that matter by that character (a
# literal, which `re` skips to at memory speed: 2.4x faster again).
_CI_FORMS = (
    # GitHub Actions, Azure Pipelines: 2024-03-05T10:11:12.3456789Z
    (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z(?: |$)",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]++Z",
        ("Z", r"[0-9]{4}-"),
    ),
    # Jenkins timestamper, ISO form: [2024-03-05T10:11:12.345Z]
    (
        r"\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z\] ?",
        r"\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]++Z\]",
        (r"\]", r"\["),
    ),
    # Jenkins timestamper, clock form: 10:11:12
    (r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?: |$)", r"[0-9]{2}:[0-9]{2}:[0-9]{2}", None),
)
CI_PATTERNS = tuple(form[0] for form in _CI_FORMS)
CI_PREFIXES = tuple(re.compile(form) for form in CI_PATTERNS)
# What str.strip() removes but \n (and \r, gone by then): every str.isspace() character.
_BLANKS = r"[\t\x0b\x0c\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*+"
_NO_PREFIX = re.compile(r"")
# Packer tags each line of a provisioner's output `    NAME: ` (its stdout) or `==> NAME: `
# (its stderr and Packer's own messages); `--> NAME: ` in its closing summary.
_PACKER_TAG = re.compile(r"(?:==> |--> | +)(?P<name>[^\s:]+): ")
# Mixlib::ShellOut (Test Kitchen's docker drivers, Chef) starts the command's stdout and its
# stderr each with a tag: `STDOUT: ` / `STDERR: ` on the first line of each section.
_SECTION_TAGS = ("STDOUT: ", "STDERR: ")


class LineScan:
    """Finds, in a block of whole lines, the next line that may matter (a superset: each is
    then read one by one). Without a stamp: one search for a line start and what follows.
    With one: the stamp's last character and what follows (most lines), and the lines
    without the stamp, each then matched at its start."""

    def __init__(
        self, first: re.Pattern[str], after: re.Pattern[str], bare: re.Pattern[str] | None = None
    ) -> None:
        self._first = first  # at a line's start
        self._after = after  # \n then the line (no stamp), or the stamp's end then the body
        self._bare = bare  # a line without the stamp

    def next(self, text: str, pos: int) -> int:
        """The start of the first line at or after pos (a line's start) that may matter, or
        len(text)."""
        if self._first.match(text, pos):
            return pos
        hit = self._after.search(text, pos)
        if self._bare is None:
            return hit.start() + 1 if hit else len(text)
        best = len(text) if hit is None else text.rfind("\n", pos, hit.start()) + 1 or pos
        bare = self._bare.search(text, pos, best)
        while bare is not None:
            if self._first.match(text, bare.end()):
                return bare.end()
            bare = self._bare.search(text, bare.end(), best)
        return best


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

    def starts(self, tokens: str, first: str) -> LineScan:
        """Once settled: what finds, in a block of lines, the next line whose body (what
        strip() leaves, without blanks) may start with `tokens` (whose first characters, and
        those of STDOUT:/STDERR:, make the character class `first`)."""
        assert self._prefix is not None
        form = next((f for f in _CI_FORMS if self._prefix.pattern == f[0]), None)
        tag = ""
        if self._tag is not None:
            tag = f"(?:{self._tag.pattern.removesuffix('(?: |$)')} )?{_BLANKS}"
        rest = f"{tag}(?=[{first}])(?:(?:STDOUT: |STDERR: ){_BLANKS})?(?:{tokens})"
        body = f"(?:{form[1]})?+{_BLANKS}{rest}" if form else f"{_BLANKS}{rest}"
        if form is None or form[2] is None or tag:
            return LineScan(scan_pattern(body), scan_pattern("\n" + body))
        last, start = form[2]
        return LineScan(
            scan_pattern(body),
            scan_pattern(f"{last}{_BLANKS}{rest}"),
            scan_pattern(f"\n(?!{start})"),
        )

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


def scan_pattern(source: str) -> re.Pattern[str]:
    """A scan's pattern; without its possessive quantifiers on Python 3.10 (the same lines
    found, only slower)."""
    try:
        return re.compile(source)
    except re.error:  # Python < 3.11: no possessive quantifiers
        return re.compile(source.replace("*+", "*").replace("++", "+").replace("?+", "?"))


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),  # Windows PowerShell's `>` and Out-File
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a saved log from its first bytes, and the length of its byte order
    mark: UTF-8, or UTF-16 by its BOM (or, without one, by the NUL byte beside each ASCII
    character of a UTF-16 text: one in two bytes)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) * 5 >= len(sample) * 2:  # 40%: no UTF-8 text
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if odd >= 4 * max(even, 1):
            return "utf-16-le", 0
        if even >= 4 * max(odd, 1):
            return "utf-16-be", 0
    return "utf-8", 0


def decode_bytes(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text from a saved log's bytes arriving in chunks, decoded incrementally (a character
    may be cut between chunks) as `encoding` tells from the first; undecodable bytes become
    U+FFFD."""
    decoder: codecs.IncrementalDecoder | None = None
    head = b""
    for chunk in chunks:
        if decoder is None:
            head += chunk
            if len(head) < 4096 and chunk:
                continue  # read enough to tell UTF-16 without a BOM
            name, skip = encoding(head)
            decoder = codecs.getincrementaldecoder(name)(errors="replace")
            chunk, head = head[skip:], b""
        text = decoder.decode(chunk)
        if text:
            yield text
    if decoder is None:
        name, skip = encoding(head)
        decoder = codecs.getincrementaldecoder(name)(errors="replace")
        text = decoder.decode(head[skip:])
        if text:
            yield text
    text = decoder.decode(b"", final=True)
    if text:
        yield text

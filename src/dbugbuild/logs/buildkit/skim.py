"""PURE: skimming a build of a CI retry loop that a later build replaces (see parser.py).

A log of many builds is read line by line only where it can show in the result: its last
build (the parser reads a block's last build with the next block). A build that another
`#0 building with` line ends in the same block is skimmed: one search per run of a vertex's
lines and one per error tail, keeping only what decides where a build begins (the vertices'
numbers and names, whether an image was written or named or a final line read, the mode an
error block or excerpt leaves). `skim` says where the next build begins when reading every
line would find no other build before it, a vertex in it and nothing that shows later (no
tty progress line); when in doubt it says no and the build is read line by line. Never does
I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dbugbuild.logs.buildkit.lines import (
    BUILDING_WITH,
    END,
    NAMING,
    PREFIX,
    TIMED,
    WRITING_IMAGE,
)
from dbugbuild.logs.text import scan_pattern

# A run of one vertex's lines: its first line (read as the parser reads it), then its lines
# that cannot matter once that one is read (the vertex is known and was the last one: the
# parser reads them as output, an end, a warning or a status other than the three that start
# with w, n or e: writing image, naming to, exporting manifest), then the blank lines after.
# The lines of a run are found by one search; `re` matches the back reference in C, and a
# possessive `.*+` is 1.5x faster than `[^\n]*` on short output lines (~650 MB/s); the `regex`
# package runs this scan 3.1x slower (regex 2026.11.19, Python 3.11).
_RUN = scan_pattern(r"#([0-9]+)(?: (.*+))?\n(?:#\1 [^.wne\n].*+\n)*+(\n*)")
# What an error tail holds, each piece taking the parser from reading vertices back to it:
# an error block (`------`, ` > name:`, lines until a line that is `------` once a CI stamp
# is cut off), the Dockerfile excerpt (`Dockerfile:N`, a rule, numbered lines, a rule), the
# final `ERROR: ` line (not ending in `:N`, which the parser would take for an excerpt's
# head) and blank lines.
_TAIL = scan_pattern(  # (the final line first: tried before the excerpt's head, 4x faster)
    r"(?:ERROR: (?![^\n]*:[0-9]+\n).++\n"
    r"|\n"
    rf"|------\n > [^\n]*:\n(?:(?!(?:{PREFIX})?------\n).*+\n)*+------\n"
    r"|(?!ERROR: )[^\s0-9\[#](?:[^\n]*\S)?:[0-9]+\n-{20}\n(?:[ \t]+[0-9]+ \|.*+\n)*+-{20}\n"
    r")++"
)


MARKER = "\n#0 building with "  # the line before a build of buildx or `docker build` begins


def skim(
    text: str,
    start: int,
    known: dict[str, str] | None = None,
    ended: bool = False,
    current: str | None = None,
) -> tuple[int, int, bool] | None:
    """Reading text (whole lines) from start (a line's start, in the parser's normal mode,
    no CI stamp and no indentation; the build's vertices so far `known` by number as text,
    an end read or not, the vertex of the line before) up to the next `#0 building with`
    line that starts a build: that line's start, the highest vertex number of the build
    before it and whether it holds an error tail, when reading every line would read the
    lines up to there as part of that one build, with a vertex; else None."""
    names = dict(known or {})  # the vertices, as the parser knows them
    tail = False
    pos = start
    stop = len(text)
    while pos < stop:
        again = False
        match = _RUN.match
        while (run := match(text, pos)) is not None:  # one run after the other
            number, rest, blanks = run.groups("")
            if number == "0" or rest == "...":  # the run's first line leaves no vertex last
                if number == "0" and BUILDING_WITH.match(rest):  # the next build
                    return (pos, max(map(int, names)), tail) if names else None
                current, pos, again = None, text.index("\n", pos) + 1, True
                break
            if number[0] == "0":
                return None  # `#05`: the parser's vertex 5, not told apart here
            first = rest[:1]
            header = first == "[" and current != number  # most first lines: no more tests
            if header:
                pass
            elif (first in "DCE" and END.fullmatch(rest)) or (
                first.isdigit() and TIMED.fullmatch(rest)
            ):  # an end, or output: the vertex is known, unnamed if it was not
                names.setdefault(number, "")
            elif number in names and (rest.startswith("WARN: ") or current == number):
                if current == number and (WRITING_IMAGE.match(rest) or NAMING.match(rest)):
                    ended = True
            else:
                header = True
            if header:  # as parser.BuildKitLogParser._vertex_line, without a new build
                name = names.get(number)
                if name is None:
                    if ended and names and int(number) <= max(map(int, names)):
                        return None
                    names[number] = rest
                elif not name:
                    names[number] = rest
                elif name != rest:
                    return None
            current, pos = None if blanks else number, run.end()
        if again or pos >= stop:
            continue
        if text[pos] == "\n":
            current, pos = None, pos + 1
            continue
        piece = _TAIL.match(text, pos)
        if piece is None:
            return None
        current, ended, tail, pos = None, True, True, piece.end()
    return None  # no other build begins in text

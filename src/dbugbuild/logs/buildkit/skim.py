"""PURE: skimming a build of a CI retry loop that a later build replaces (see parser.py).

A log of many builds is read line by line only where it can show in the result: the last
builds. An earlier build, from just after its `#0 building with` line to the next one, is
skimmed: one search per run of a vertex's lines and one per error tail, with only what decides
where builds begin kept (the vertices' numbers and names, whether an image was written or
named, the mode the error block and excerpt put the parser in). `skim` says whether the region
is exactly one build that reading every line would also end at the next `#0 building with`,
with at least one vertex and nothing else that shows later (no tty progress line); when in
doubt it says no and the region is read line by line. Never does I/O, never prints, never
reads the environment or the clock.
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

MARKER = "\n#0 building with "  # the line that starts a build of buildx and docker build
# A run of one vertex's lines: its first line (read as the parser reads it), then its lines
# that cannot matter once that one is read (the vertex is known and was the last one: the
# parser reads them as output, an end, a warning or a status other than the three that start
# with w, n or e: writing image, naming to, exporting manifest), then the blank lines after.
# The lines of a run are found by one search; `re` matches the back reference in C.
_RUN = scan_pattern(r"#([0-9]+)(?: ([^\n]*))?\n(?:#\1 [^.wne\n][^\n]*\n)*+(\n*)")
# What an error tail holds, each piece taking the parser from reading vertices back to it:
# an error block (`------`, ` > name:`, lines until a line that is `------` once a CI stamp
# is cut off), the Dockerfile excerpt (`Dockerfile:N`, a rule, numbered lines, a rule), the
# final `ERROR: ` line (not ending in `:N`, which the parser would take for an excerpt's
# head) and blank lines.
_TAIL = scan_pattern(
    rf"(?:------\n > [^\n]*:\n(?:(?!(?:{PREFIX})?------\n)[^\n]*\n)*+------\n"
    r"|[^\s0-9\[#](?:[^\n]*\S)?:[0-9]+\n-{20}\n(?:[ \t]+[0-9]+ \|[^\n]*\n)*+-{20}\n"
    r"|ERROR: (?![^\n]*:[0-9]+\n)[^\n]+\n"
    r"|\n)++"
)


def skim_to(text: str, start: int, tails: bool) -> tuple[int, int] | None:
    """After the `#0 building with` line that ends at start: the start of the next one and
    the highest vertex number of the build between, when that build can be skimmed (it
    holds an error tail only if `tails`) and one more `#0 building with` line follows in
    text (that build is read line by line, so the skimmed one rarely shows); else None."""
    stop = text.find(MARKER, start - 1) + 1
    if not stop or text.find(MARKER, stop) < 0:
        return None
    if not BUILDING_WITH.match(text[stop + 3 : text.index("\n", stop)]):
        return None  # not the start of another build
    skimmed = skim(text, start, stop)
    if skimmed is None or (skimmed[1] and not tails):
        return None
    return stop, skimmed[0]


def skim(text: str, start: int, stop: int) -> tuple[int, bool] | None:
    """For text[start:stop] (whole lines, read in the parser's normal mode with no vertex
    yet, no CI stamp and no indentation, just after a `#0 building with` line): its highest
    vertex number and whether it holds an error tail, when reading every line would read it
    as that one build, adding no other; else None."""
    names: dict[int, str] = {}  # the vertices, as the parser would know them
    ended = False  # an image written or named, or a final line: may be read as ended
    current: int | None = None  # the vertex of the previous line, as the parser keeps it
    tail = False
    pos = start
    while pos < stop:
        run = _RUN.match(text, pos, stop)
        if run is None:
            if text[pos] == "\n":
                current, pos = None, pos + 1
                continue
            piece = _TAIL.match(text, pos, stop)
            if piece is None:
                return None
            current, ended, tail, pos = None, True, True, piece.end()
            continue
        number, rest = int(run.group(1)), run.group(2) or ""
        one_line = False  # the run's first line leaves no vertex as the last one
        if number == 0 or rest == "...":
            if number == 0 and rest.startswith("building with"):
                return None  # another build may begin here
            current, one_line = None, True
        elif (rest[:1] in "DCE" and END.fullmatch(rest)) or (
            rest[:1].isdigit() and TIMED.fullmatch(rest)
        ):  # an end, or output: the vertex is known, unnamed if it was not
            names.setdefault(number, "")
            current = number
        elif number in names and (rest.startswith("WARN: ") or current == number):
            if current == number and (WRITING_IMAGE.match(rest) or NAMING.match(rest)):
                ended = True
            current = number
        else:  # a header: as parser.BuildKitLogParser._vertex_line, without a new build
            name = names.get(number)
            if name is None:
                if ended and names and number <= max(names):
                    return None
                names[number] = rest
            elif not name:
                names[number] = rest
            elif name != rest:
                return None
            current = number
        if one_line:
            pos = text.index("\n", run.start()) + 1
        else:
            pos = run.end()
            if run.group(3):
                current = None
    if not names:
        return None
    return max(names), tail

"""PURE: the line shapes of BuildKit's plain progress, and the wordings of its errors.

The patterns the parser (parser.py) matches, the helpers that cut and unquote, and the
quick test `looks_like_buildkit` that logs.detect asks. Never does I/O, never prints,
never reads the environment or the clock.
"""

from __future__ import annotations

import re

from dbugbuild.logs.text import scan_pattern, strip_ansi

# CI prefixes: GitHub Actions / Azure Pipelines `2024-03-05T10:11:12.3456789Z ` (a blank line is
# the stamp alone), Jenkins timestamper `[2024-03-05T10:11:12.345Z] ` and `10:11:12 `.
PREFIX = (
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?: |(?=\n)|$)"
    r"|\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\] ?"
    r"|\d\d:\d\d:\d\d(?: |(?=\n)|$))"
)
PREFIX_RE = re.compile(PREFIX)
# A vertex's output line: `#N 1.234 text` (display.go: seconds with 3, 2 or 1 decimals). To
# skip such lines in bulk, a line counts as output when it starts `#N <digit>`: a status or
# header never does (statuses start with their id, `sha256:...`, `transferring ...`).
OUTPUT_START = re.compile(rf"({PREFIX})?[ \t]*#([0-9]+) [0-9]")
# The end of a run of output: a newline NOT followed by another output line. One search over
# the chunk finds it; the lines it skips are never looked at one by one. This is the hot loop
# of a big log; for this one lookahead the standard `re` engine is twice as fast as the
# `regex` package (a 100 MB log: 0.29 s against 0.60 s for the whole parse, Python 3.11,
# regex 2026.11), which is why no parser depends on `regex`. Without a CI prefix the
# pattern is simpler and faster.
# A run is one vertex's lines: parallel stages interleave their output, and a line of another
# vertex inside a run was once counted as the first one's (fuzzing found it: the count then
# depended on where the chunks were cut).
_RUN_STAMPS = {
    "": "",
    # With a CI prefix ([0-9], not \d: half the time in `re`; possessive: no backtracking).
    # (each digit spelled out: 25% faster than [0-9]{2} in this lookahead)
    "github": r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
    r"(?:\.[0-9]++)?+Z ",
    "jenkins": r"\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]++Z\] ?",
    "clock": r"[0-9]{2}:[0-9]{2}:[0-9]{2} ",
}


_RUN_ENDS: dict[tuple[str, str], re.Pattern[str]] = {}  # compiled once per vertex


def _run_end(stamp: str, vertex: str) -> re.Pattern[str]:
    pattern = _RUN_ENDS.get((stamp, vertex))
    if pattern is None:
        if len(_RUN_ENDS) > 512:
            _RUN_ENDS.clear()
        pattern = scan_pattern(rf"\n(?!{_RUN_STAMPS[stamp]}[ \t]*#{vertex} [0-9])")
        _RUN_ENDS[stamp, vertex] = pattern
    return pattern


def run_end(prefix: str | None, vertex: str) -> re.Pattern[str]:
    """The end of a run of `vertex`'s output lines that start with this CI prefix (or
    none): a newline not followed by another of its lines."""
    if not prefix:
        return _run_end("", vertex)
    if prefix.startswith("["):
        return _run_end("jenkins", vertex)
    return _run_end("github" if "T" in prefix else "clock", vertex)


OUTPUT_LINE = re.compile(rf"(?:{PREFIX})?[ \t]*#(\d+) \d+\.\d+(?: ([^\n]*))?")
RUN_VERTEX = re.compile(rf"(?:{PREFIX})?[ \t]*#(\d+) ")

VERTEX = re.compile(r"[ \t]*#(\d+)(?: (.*))?")
END = re.compile(r"DONE(?: \d+(?:\.\d+)?s)?|CACHED|CANCELED(?: .*)?|ERROR: (?P<error>.*)")
TIMED = re.compile(r"\d+\.\d+(?: (.*))?")
BUILDING_WITH = re.compile(
    r'building with "(?P<builder>[^"]*)" instance using (?P<driver>\S+) driver'
)
WRITING_IMAGE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
MANIFEST_LIST = re.compile(r"exporting manifest list (sha256:[0-9a-f]{64})")
MANIFEST = re.compile(r"exporting manifest (sha256:[0-9a-f]{64})")
NAMING = re.compile(r"naming to (\S+)")
CLIPPED = "[output clipped, log limit"


BLOCK_RULE = "------"
EXCERPT_RULE = "-" * 20
BLOCK_HEAD = re.compile(r" > (.*):")
BLOCK_TIME = re.compile(r"(?:#\d+ )?\d+\.\d+(?: |$)")
EXCERPT_HEAD = re.compile(r"(\S(?:.*\S)?):(\d+)")
EXCERPT_LINE = re.compile(r"\s*(\d+) \|(.*)")
# The last line of a failed build: buildx/docker CLI `ERROR: `, buildctl `error: `, compose and
# old CLIs with no prefix; CI actions quote it (`buildx failed with: ERROR: ...`).
FINAL = re.compile(
    r"(?:ERROR: (?P<msg>.+)"
    r"|error: (?P<lower>failed to (?:solve|build).+)"
    r"|(?P<bare>failed to (?:solve|build)(?: with frontend \S+)?: .+)"
    r"|.*\bbuildx (?:call )?failed with: (?:ERROR|error): (?P<quoted>.+))"
)
BUILDKIT_WORDING = re.compile(
    r"failed to solve|failed to build|executor failed running|did not complete successfully"
)
WARNING = re.compile(r"WARNING: (.+)")
CHECKS = re.compile(r"\s*\d+ warnings? found(?: \(.*\))?:")
CHECK_ITEM = re.compile(r" - (.+)")
TTY = re.compile(
    r"\[\+\] Building |\s*=> (?:CACHED |ERROR |CANCELED )?\[|\s*=> (?:exporting|naming|=> )"
)

# Errors: 0.9+ `process "<Go %q>" did not complete successfully: exit code: N`; before 0.9
# `executor failed running [<argv %v>]: exit code: N` (or `: runc did not terminate ...`).
PROCESS = re.compile(
    r'process "((?:[^"\\]|\\.)*)" did not complete successfully(?:: exit code: (-?\d+))?'
)
EXECUTOR = re.compile(r"executor failed running \[(.*)\]: (.*)")
EXIT_CODE = re.compile(r"exit code: (-?\d+)")
PARSE_ERROR_LINE = re.compile(r"dockerfile parse error (?:on )?line (\d+)", re.IGNORECASE)
GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
GO_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def go_unquote(text: str) -> str:
    """Undo Go's %q (strconv.Quote) escapes in the quoted process of a BuildKit error."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567" and len(code) == 3:
            return chr(int(code, 8))
        return GO_SIMPLE.get(code, code)

    return GO_ESCAPE.sub(one, text)


def exit_and_command(message: str | None) -> tuple[int | None, str | None]:
    """Exit code and process from either wording of an exec failure."""
    if not message:
        return None, None
    process = PROCESS.search(message)
    if process:
        code = int(process.group(2)) if process.group(2) is not None else None
        return code, go_unquote(process.group(1))
    executor = EXECUTOR.search(message)
    if executor:
        code_match = EXIT_CODE.match(executor.group(2))
        return (int(code_match.group(1)) if code_match else None), executor.group(1)
    return None, None


DETECT = re.compile(
    rf"(?m)^(?:{PREFIX})?[ \t]*(?:"
    r"#\d+ (?:\[|DONE|CACHED|ERROR: |CANCELED|building with |exporting |naming to |resolve "
    r"|\d+\.\d{1,3} )"
    r"|\[\+\] Building "
    r"|=> (?:CACHED |ERROR )?\["
    r"|(?:ERROR: |error: )?failed to (?:solve|build)(?: with frontend \S+)?: "
    r")"
)


def looks_like_buildkit(text: str) -> bool:
    """True when the start of a log (a few KB) has BuildKit progress lines, plain or tty."""
    head = text[:16384]
    if "\x1b" in head:
        head = strip_ansi(head)
    return DETECT.search(head.replace("\r\n", "\n").replace("\r", "\n")) is not None

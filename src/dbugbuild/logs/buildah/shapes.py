"""PURE: the shapes of Buildah's lines (STEP, `-->`, COMMIT, errors, its bookkeeping) and what an
error says: the step it quotes, its exit status, its kind. Read by logs.buildah.parser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from dbugbuild.logs.buildah.model import Failure
from dbugbuild.logs.text import CI_PATTERNS, MAX_LINE, strip_ansi

# CI prefixes (GitHub Actions / Azure timestamps, Jenkins timestamper), the forms
# dbugbuild.logs.text accepts; which one a log carries is decided on its first Buildah line.
_CI = "(?:" + "|".join(CI_PATTERNS) + ")"
_STAGE = r"(?:\[(?P<stage>\d+)/(?P<stages>\d+)\] )?"
_LOGRUS = r'(?:ERRO\[\d+\] |time="[^"\n]*" level=error msg=")?'

# Every line that matters holds one of these; str.find skips the rest of a block at memory
# speed (on 100 MB of build output, 7 finds take 0.35 s where one `re` or `regex` alternation
# scan takes 0.9 s or 2.3 s), then INTERESTING checks the line the hit is in.
MARKERS = (
    "STEP ",
    "COMMIT",
    "--> ",
    "Successfully tagged ",
    "Error: ",
    "building at step",
    "creating build container",
)
INTERESTING = re.compile(
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
FINAL = re.compile(rf"^[ \t]*{_CI}?[ \t]*([0-9a-f]{{64}})[ \t]*$", re.MULTILINE)
ARROW_ID = re.compile(r"(Using cache )?([0-9a-f]{11,64})\s*$")
ARROW_NOTE = re.compile(r"(?:Cache pulled from remote|Pushing cache) ")

# Errors.
STRONG = re.compile(
    r"(?:error )?building at (?:STEP \"|step \{)"
    r"|(?:error )?creating build container: "
    r"|error building: "
)
_QUOTED_STEP = re.compile(r'(?:error )?building at STEP "')
STRUCT_STEP = re.compile(r"building at step \{")
_STRUCT_MESSAGE = re.compile(r"Message:(.*?) (?:Heredocs:\[[^\]]*\] )?Original:", re.DOTALL)
STRUCT_LINES = 16  # at most this many lines are joined to an error's open `{...}`
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
BOOKKEEPING = re.compile(
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
    # Buildah 1.28 logs an unknown instruction's step before the error that says the same.
    r'|time="[^"]*" level=error msg="\+\(UNHANDLED LOGLEVEL\) \&imagebuilder\.Step\{'
    r"|\u2714 \S+\s*$"  # Podman 5 shows the short name it resolved: `✔ docker.io/library/x:1`
)
CLASSIC = re.compile(r"^\s*Step \d+(?:/\d+)? : ", re.MULTILINE)
BUILDKIT = re.compile(r"^\s*(?:#\d+ \[|\[\+\] Building |=> )", re.MULTILINE)
NEWLINES = re.compile(r"\r\n|\r|\n")

HEAD = 4096  # characters kept from the start for error messages and looks_like_buildah


def looks_like_buildah(text: str) -> bool:
    """True when the start of a log (a few KB) shows Buildah's STEP lines or errors."""
    head = text[:65536].replace("\r", "\n")
    if "\x1b" in head:
        head = strip_ansi(head)
    for match in INTERESTING.finditer(head):
        if match.group("index") is not None:
            return True
        error = match.group("error") or match.group("bare")
        if error is not None and STRONG.search(error):
            return True
    return False


class Echoed(Protocol):
    """The step an error happened in, as far as classify needs it."""

    instruction: str
    text: str


def classify(message: str, current: Echoed | None) -> Failure:
    """The failure an error line describes, in the step `current` (None: before any step)."""
    step_text = quoted_step(message)
    status = _EXIT_STATUS.search(message)
    exit_code = int(status.group(1)) if status else None
    subject: str | None = None
    copy = _COPY_SOURCE.search(message)
    if _BASE_IMAGE.search(message):
        kind = "base-image"
        if current is not None and current.instruction == "FROM":
            subject = from_image(current.text)
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


def quoted_step(message: str) -> str | None:
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
        for position in find_all(rest, '": '):
            if first is None:
                first = position
            if rest[:position].count('"') % 2 == 0:
                return rest[:position]
        return rest[:first] if first is not None else rest.rstrip('"')
    struct = STRUCT_STEP.search(message)
    if struct:
        found = _STRUCT_MESSAGE.search(message, struct.end())
        return found.group(1) if found else None
    return None


def find_all(text: str, needle: str) -> Iterator[int]:
    position = text.find(needle)
    while position >= 0:
        yield position
        position = text.find(needle, position + 1)


def from_image(text: str) -> str | None:
    """The image a `FROM [--platform=...] image [AS name]` step names."""
    words = [w for w in text.split()[1:] if not w.startswith("--")]
    return words[0] if words else None


def next_break(text: str, start: int) -> int:
    """The position of the first line break at or after start, or -1."""
    breaks = [p for p in (text.find("\n", start), text.find("\r", start)) if p >= 0]
    return min(breaks) if breaks else -1


def pieces(line: str) -> str:
    """A line too long to keep, as lines of MAX_LINE characters (the last may be shorter)."""
    return "\n".join(line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)) + "\n"

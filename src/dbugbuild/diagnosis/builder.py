"""PURE: the builder's own failures: a Dockerfile that does not parse, a base image that cannot be
had, a COPY/ADD source missing from the build context (or excluded from it, or outside it).
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Sequence

from dbugbuild.diagnosis.case import Case, Found, code, join, said
from dbugbuild.diagnosis.facts import Facts
from dbugbuild.dockerfile import KEYWORDS, Instruction, dockerignore
from dbugbuild.report import FailedStep

_PARSE_ERROR = re.compile(r"(?i)dockerfile parse error line (\d+): (.*)")
_UNKNOWN_INSTRUCTION = re.compile(r"unknown instruction: (\S+)")
# Buildah checks each instruction when it reaches it: `building at STEP "RUNN ": Build error:
# Unknown instruction: "RUNN" &imagebuilder.Step{...}` (no line number: found by its word).
_BUILDAH_UNKNOWN = re.compile(
    r'building at STEP "[^"]*": Build error: Unknown instruction: "(\S+)"'
)
# ... and an instruction's arguments when it runs it: `building at STEP "ENV ": ENV requires at
# least one argument` (the step's line is the failing one).
_BUILDAH_ARGUMENTS = re.compile(
    r'building at STEP "[^"]*": (\w+ requires (?:at least|exactly) .*)$'
)
_INSTRUCTIONS = tuple(sorted(KEYWORDS))
_DEST_NOT_DIR = re.compile(r"When using (COPY|ADD) with more than one source file")
_CONTINUED = re.compile(r"(&&|\|\||\||;|,)\s*$")


def dockerfile_syntax(case: Case) -> Found | None:
    step = case.step
    dest = case.last(_DEST_NOT_DIR)
    if dest is not None:
        found, line = dest
        where = f" (line {step.line})" if step.line else ""
        return Found(
            f"{found.group(1)} with several sources needs a folder as its destination{where}.",
            (f"End the destination with `/`: `{found.group(1)} {_with_slash(step.command)}`.",),
            (said(line),),
        )
    parsed = case.last(_PARSE_ERROR)
    unknown_step = case.last(_BUILDAH_UNKNOWN) if parsed is None else None
    if unknown_step is not None:
        word = unknown_step[0].group(1)
        number = _line_starting(case.facts.dockerfile_text or "", word)
        if number is None:
            return None
        what, line = f"unknown instruction: {word}", unknown_step[1][:200]
    elif (arguments := case.last(_BUILDAH_ARGUMENTS)) is not None and parsed is None:
        if step.line is None:
            return None
        number, what, line = step.line, arguments[0].group(1), arguments[1]
    elif parsed is None or step.index is not None:
        return None
    else:
        found, line = parsed
        number, what = int(found.group(1)), found.group(2)
    evidence = [f'builder: "{line.strip()}"']
    hints: list[str] = []
    unknown = _UNKNOWN_INSTRUCTION.search(what)
    source = (case.facts.dockerfile_text or "").splitlines()
    if unknown is not None:
        word = unknown.group(1)
        summary = f"Line {number} starts with {code(word)}, which is not a Dockerfile instruction."
        previous = _previous_code_line(source, number)
        if previous is not None and _CONTINUED.search(source[previous - 1]):
            text = source[previous - 1].rstrip()
            summary = (
                f"Line {previous} ends without a `\\`, so line {number} "
                f"({code(word.lower())} ...) is read as a new instruction."
            )
            hints.append(
                f"End line {previous} with ` \\` to continue the instruction onto line {number}: "
                f"`{text} \\`."
            )
            evidence.append(f"Dockerfile line {previous}: {code(text)}")
        else:
            close = difflib.get_close_matches(word.upper(), _INSTRUCTIONS, n=1, cutoff=0.6)
            if close:
                hints.append(
                    f"Did you mean {code(close[0])}? Write `{close[0]} ...` on line {number}."
                )
            hints.append(
                "Each line starts with an instruction (RUN, COPY, ENV, ...) unless the line "
                "before it ends with `\\`."
            )
    else:
        summary = f"The Dockerfile does not parse: line {number}: {what}."
        hints.append(f"Fix line {number}; the Dockerfile reference gives each instruction's form.")
    if 0 < number <= len(source):
        evidence.append(f"Dockerfile line {number}: {code(source[number - 1].strip())}")
    return Found(summary, tuple(hints), tuple(evidence))


def _line_starting(text: str, word: str) -> int | None:
    """The number of the first line whose first word is `word` (case-insensitively)."""
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split(None, 1)
        if words and words[0].upper() == word.upper():
            return number
    return None


def _previous_code_line(source: Sequence[str], number: int) -> int | None:
    for n in range(number - 1, 0, -1):
        text = source[n - 1].strip()
        if text and not text.startswith("#"):
            return n
    return None


def _with_slash(command: str | None) -> str:
    words = (command or "").split()
    if not words:
        return "SRC... DEST/"
    words[-1] = words[-1].rstrip("/") + "/"
    return " ".join(words)


def _from_reference(command: str | None) -> str:
    words = [w for w in (command or "").split() if not w.startswith("--")]
    return words[0] if words else "the image"


def base_image(case: Case) -> Found | None:
    step = case.step
    if step.instruction != "FROM" or case.runs_command:
        return None
    ref = _from_reference(step.command)
    message = step.message
    evidence = (f'builder: "{message}"',)
    lower = message.lower()
    hints: list[str] = []
    where = f"line {step.line}" if step.line else "the FROM line"
    if "invalid reference format" in lower:
        summary = f"{code(ref)} is not a valid image reference."
        if "lowercase" in lower:
            hints.append(
                f"Image names are lower-case: `FROM {_lower_repo(ref)}` on {where} "
                "(only the tag may have capitals)."
            )
        hints.append("A reference is [REGISTRY/]NAME[:TAG][@DIGEST], e.g. `debian:bookworm`.")
    elif "no matching manifest" in lower:
        summary = f"{code(ref)} has no image for this machine's platform."
        hints.append("Pick a tag published for your platform, or pass --platform to the build.")
    elif any(w in lower for w in ("connection refused", "no such host", "i/o timeout", "dial tcp")):
        registry = ref.split("/", 1)[0] if "/" in ref else "docker.io"
        summary = (
            f"The registry of {code(ref)} ({registry}) cannot be reached, so it cannot be pulled."
        )
        hints.append(
            f"Check the registry address in {code(ref)}; a local image needs no pull: "
            "`docker image ls` lists the names that exist here."
        )
        hints.append("Behind a proxy, configure it for the Docker daemon (not only the shell).")
    else:
        summary = f"The base image {code(ref)} cannot be found or pulled."
        hints.append(
            f"Check the name and tag on {where}: `docker image ls` shows local images, the "
            "registry's page lists the published tags."
        )
        if "denied" in lower or "unauthorized" in lower:
            hints.append("For a private image, `docker login` to its registry first.")
    return Found(summary, tuple(hints), evidence)


def _lower_repo(ref: str) -> str:
    name, sep, tag = ref.partition(":")
    if "/" in tag:  # a registry port, not a tag
        return ref.lower()
    return name.lower() + sep + tag


_COPY_FAILED = re.compile(r"^(COPY|ADD) failed: (.*)$")
_STAT = re.compile(r"stat (\S+): file does not exist")
# Buildah (podman build): `building at STEP "COPY a b": checking on sources under "<context>":
# copier: stat: "/a": no such file or directory` (older: `no items matching glob "<path>"`).
_BUILDAH_COPY = re.compile(
    r'building at STEP "(COPY|ADD) [^\n]*?": checking on sources under "([^"]*)": (.*)$'
)
_BUILDAH_MISSING = re.compile(
    r'copier: stat: "/?([^"]*)": no such file or directory'
    r'|no items matching glob "([^"]*)"|no files found matching "([^"]*)"'
)
_OUTSIDE = re.compile(r"forbidden path outside the build context: (\S+)")


def _copy_sources(step: FailedStep, ins: Instruction | None) -> tuple[str, ...]:
    if ins is not None and ins.json_args:
        return tuple(ins.json_args[:-1])
    words = [w for w in (step.command or "").split() if not w.startswith("--")]
    return tuple(words[:-1])


def build_context(case: Case) -> Found | None:
    step = case.step
    if step.instruction not in ("COPY", "ADD") or case.runs_command:
        return None
    hit = case.last(_COPY_FAILED) or case.last(_BUILDAH_COPY)
    if hit is None:
        return None
    found, line = hit
    buildah = found.re is _BUILDAH_COPY
    keyword, what = found.group(1), found.group(3 if buildah else 2)
    facts = case.facts
    context = facts.context or "."
    evidence = [said(line)]
    if buildah:
        evidence = [f'builder: "{line.strip()[:200]}"']
        if "--from" in (step.command or ""):
            return None  # a source in another stage or image, not in the build context
        missing = _BUILDAH_MISSING.search(what)
        if missing is None:
            return None
        source = next(g for g in missing.groups() if g is not None)
        under = found.group(2).rstrip("/") + "/"
        what = f"stat {source.removeprefix(under)}: file does not exist"
    outside = _OUTSIDE.search(what)
    if outside is not None:
        source = outside.group(1)
        return Found(
            f"{code(source)} is outside the build context ({context}): {keyword} only sees "
            "files inside it.",
            (
                f"Move the file into {context}, or build from a folder that contains both "
                "(`docker build -f path/to/Dockerfile <that folder>`) and copy it by its path "
                "there.",
            ),
            tuple(evidence),
        )
    stat = _STAT.search(what)
    sources = (stat.group(1),) if stat else _copy_sources(step, case.instruction)
    if "no source files were specified" in what:
        patterns = _copy_sources(step, case.instruction)
        return Found(
            f"No file in the build context ({context}) matches "
            f"{join([code(p) for p in patterns])}.",
            (
                f"List what the context holds with `ls -la {context}`; a wildcard that matches "
                "nothing is an error for COPY.",
                *_ignore_hints(facts, patterns, evidence),
            ),
            tuple(evidence),
        )
    hints: list[str] = []
    summary = ""
    for source in sources:
        clean = posixpath.normpath(source.lstrip("/"))
        pattern = (
            dockerignore.excluded_by(facts.dockerignore, clean)
            if facts.dockerignore is not None
            else None
        )
        if pattern is not None:
            summary = (
                f"{code(source)} is excluded from the build context by .dockerignore line "
                f"{pattern.line} ({code(pattern.text)})."
            )
            hints.append(
                f"Add the line `!{clean}` after line {pattern.line} of .dockerignore, or remove "
                f"{code(pattern.text)} if the image needs those files."
            )
            evidence.append(f".dockerignore line {pattern.line}: {code(pattern.text)}")
            break
        files = facts.context_files
        if files is not None and clean not in files:
            summary = f"There is no {code(source)} in the build context ({context})."
            close = difflib.get_close_matches(clean, files, n=2, cutoff=0.75)
            if close:
                hints.append(
                    f"Did you mean {join([code(c) for c in close])}? Fix the source on line "
                    f"{step.line}: `{keyword} {(step.command or '').replace(source, close[0], 1)}`."
                )
                evidence.append(f"context: has {join(close)}")
            hints.append(
                f"Sources are relative to the build context ({context}), not to the Dockerfile's "
                "folder."
            )
            evidence.append(f"context: no {clean}")
            break
    if not summary:
        summary = (
            f"{keyword} could not find {join([code(s) for s in sources]) or 'its source'} in "
            f"the build context ({context})."
        )
        hints.append(
            f"Check that the file is in {context} and not listed in .dockerignore; sources are "
            "relative to the build context."
        )
    return Found(summary, tuple(hints), tuple(evidence))


def _ignore_hints(facts: Facts, sources: Sequence[str], evidence: list[str]) -> tuple[str, ...]:
    if facts.dockerignore is None:
        return ()
    hints = []
    for source in sources:
        pattern = dockerignore.excluded_by(facts.dockerignore, source)
        if pattern is not None:
            hints.append(f".dockerignore line {pattern.line} ({code(pattern.text)}) excludes it.")
            evidence.append(f".dockerignore line {pattern.line}: {code(pattern.text)}")
    return tuple(hints)

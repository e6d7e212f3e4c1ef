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
from dbugbuild.dockerfile import KEYWORDS, Instruction, dockerignore, lines
from dbugbuild.report import FailedStep

# The classic builder: `dockerfile parse error line N: ...`; BuildKit: `... on line N: ...`.
_PARSE_ERROR = re.compile(r"(?i)dockerfile parse error (?:on )?line (\d+): (.*)")
# The classic builder meeting what only BuildKit runs (moby builder/dockerfile: "the --mount
# option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ ...").
_NEEDS_BUILDKIT = re.compile(r"the (--[a-z-]+) option requires BuildKit")
_UNKNOWN_INSTRUCTION = re.compile(r"unknown instruction: (\S+)")
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
    needs = case.last(_NEEDS_BUILDKIT)
    if needs is not None:
        where = f"line {step.line}" if step.line else "the failing line"
        return Found(
            f"{where[0].upper()}{where[1:]} uses {code(needs[0].group(1))}, which only "
            "BuildKit runs, and the classic builder was asked for.",
            (
                "Build with BuildKit: drop `--backend classic` or `DOCKER_BUILDKIT=0` "
                "(dbugbuild picks BuildKit for such a Dockerfile by itself).",
            ),
            (f'builder: "{needs[1].strip()}"',),
        )
    parsed = case.last(_PARSE_ERROR)
    if parsed is None or step.index is not None:
        return None
    found, line = parsed
    number, what = int(found.group(1)), found.group(2)
    evidence = [f'builder: "{line.strip()}"']
    hints: list[str] = []
    unknown = _UNKNOWN_INSTRUCTION.search(what)
    source = lines(case.facts.dockerfile_text or "")
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


def _previous_code_line(source: Sequence[str], number: int) -> int | None:
    # Only lines the Dockerfile has (none with --log and no Dockerfile at hand).
    for n in range(min(number - 1, len(source)), 0, -1):
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
    elif "no matching manifest" in lower or "no match for platform in manifest" in lower:
        summary = f"{code(ref)} has no image for this machine's platform."
        hints.append("Pick a tag published for your platform, or pass --platform to the build.")
    elif any(w in lower for w in _NO_CREDENTIALS):
        registry = _registry(ref, message)
        login = "docker login" if registry == "docker.io" else f"docker login {registry}"
        if "pull access denied" in lower:  # Docker Hub says the same for a missing repository
            summary = (
                f"{code(ref)} cannot be pulled: it does not exist, or it is private and "
                f"{registry} wants credentials."
            )
        elif "no basic auth credentials" in lower:
            summary = (
                f"The registry {registry} wants credentials to pull {code(ref)}, and the docker "
                "CLI has none stored for it."
            )
        else:
            summary = f"The registry {registry} refused to let {code(ref)} be pulled."
        hints.append(
            f"Log in: `{login}` (the build uses the docker CLI's stored credentials, credential "
            "helpers included), then run dbugbuild again."
        )
        if "pull access denied" in lower:
            hints.append(f"Check the name on {where}: `docker image ls` shows local images.")
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
    return Found(summary, tuple(hints), evidence)


# What a registry answers a pull without (valid) credentials: Distribution's and the daemon's
# words (moby distribution/errors.go), Docker Hub's "pull access denied".
_NO_CREDENTIALS = (
    "no basic auth credentials",
    "unauthorized",
    "authentication required",
    "pull access denied",
    "requested access to the resource is denied",
    '": denied',  # GHCR: Head "https://ghcr.io/v2/...": denied
    "denied: ",
)
_REGISTRY_URL = re.compile(r"https?://([^/\s\"]+)/v2/")
_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def _registry(ref: str, message: str) -> str:
    """The registry of an image: the host the daemon's error names, else the reference's
    first component when it is a host (has a `.` or `:`, or is localhost), else Docker Hub."""
    named = _REGISTRY_URL.search(message)
    host = named.group(1) if named else None
    if host is None:
        first = ref.split("/", 1)[0]
        is_host = "." in first or ":" in first or first == "localhost"
        host = first if "/" in ref and is_host else ""
    return "docker.io" if not host or host in _HUB else host


def _lower_repo(ref: str) -> str:
    name, sep, tag = ref.partition(":")
    if "/" in tag:  # a registry port, not a tag
        return ref.lower()
    return name.lower() + sep + tag


_COPY_FAILED = re.compile(r"^(COPY|ADD) failed: (.*)$")
# BuildKit's wordings of a source that is not there (tests/fixtures/buildkit/logs/copy-*):
# `failed to calculate checksum of ref ...: "/app.conf": not found`, and, for a path under a
# folder that is missing, `failed to walk /var/lib/docker/tmp/buildkit-mountN/config: lstat`.
_BUILDKIT_NOT_FOUND = re.compile(
    r"failed to (?:compute cache key|calculate checksum)\S*.*?"
    r"(?:\"(?P<quoted>[^\"]+)\": not found"
    r"|failed to walk \S*/buildkit-mount\d+/(?P<walked>\S+?): lstat)"
)
_STAT = re.compile(r"stat (\S+): file does not exist")
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
    hit = case.last(_COPY_FAILED)
    if hit is None:
        hit = _buildkit_copy_failed(case)
    if hit is None:
        return None
    found, line = hit
    keyword, what = found.group(1), found.group(2)
    facts = case.facts
    stage = _from_stage(case)
    if stage is not None:
        return _not_in_stage(case, keyword, stage, what, line)
    context = facts.context or "."
    evidence = [said(line)]
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


def _buildkit_copy_failed(case: Case) -> tuple[re.Match[str], str] | None:
    """BuildKit's COPY/ADD source failure, in the classic builder's words
    (`COPY failed: stat PATH: file does not exist`), so one rule reads both."""
    hit = case.last(_BUILDKIT_NOT_FOUND)
    if hit is None:
        return None
    path = (hit[0].group("quoted") or hit[0].group("walked") or "").lstrip("/")
    said = f"{case.step.instruction} failed: stat {path}: file does not exist"
    again = _COPY_FAILED.match(said)
    assert again is not None
    return again, hit[1]


def _from_stage(case: Case) -> str | None:
    """The stage (or image) a COPY --from copies from: not the build context."""
    ins = case.instruction
    flags = ins.flags if ins is not None else tuple((case.step.command or "").split()[:3])
    for flag in flags:
        name, _, value = flag.removeprefix("--").partition("=")
        if name.lower() == "from" and value:
            return value
    return None


def _not_in_stage(case: Case, keyword: str, stage: str, what: str, line: str) -> Found:
    stat = _STAT.search(what)
    source = stat.group(1) if stat else "the source"
    written = [s for s in _copy_sources(case.step, case.instruction) if s.lstrip("/") == source]
    source = written[0] if written else source  # as the Dockerfile has it: /out/app.bin
    return Found(
        f"{code(source)} is not in {code(stage)}: `{keyword} --from={stage}` copies from that "
        "stage's (or image's) files, not from the build context.",
        (
            f"Check where {code(stage)} writes it: build that stage alone and look "
            f"(`dbugbuild --target {stage}`, or `docker run --rm IMAGE ls -la` on its image); "
            "a relative source is relative to its root, not its WORKDIR.",
        ),
        (said(line),),
    )


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

"""PURE: the builder's own failures: a Dockerfile that does not parse, a base image that cannot be
had (a COPY/ADD source missing from the build context: context.py).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from dbugbuild.diagnosis.case import Case, Found, code, said
from dbugbuild.dockerfile import KEYWORDS, lines

# The classic builder: `dockerfile parse error line N: ...`; BuildKit: `... on line N: ...`.
_PARSE_ERROR = re.compile(r"(?i)dockerfile parse error (?:on )?line (\d+): (.*)")
# The classic builder meeting what only BuildKit runs (moby builder/dockerfile: "the --mount
# option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ ...").
_NEEDS_BUILDKIT = re.compile(r"the (--[a-z-]+) option requires BuildKit")
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


def _line_starting(text: str, word: str) -> int | None:
    """The number of the first line whose first word is `word` (case-insensitively)."""
    for number, line in enumerate(lines(text), start=1):
        words = line.split(None, 1)
        if words and words[0].upper() == word.upper():
            return number
    return None


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

"""PURE: BuildKit's steps matched to the Dockerfile's instructions, never guessed.

BuildKit counts `i/n` per stage, and only the instructions that make a vertex: the stage's
FROM (unless scratch or an earlier stage), its ONBUILD triggers (counted in `n` by newer
versions, which print `ONBUILD RUN ...`; 0.13 does not count them), then RUN, COPY, ADD and
WORKDIR (moby/buildkit dockerfile2llb/convert.go: cmdTotal; `WORKDIR /` counts but prints no
vertex). It echoes an instruction with the variables it knows expanded (ARG, ENV, the
platform ARGs), quotes kept for RUN and dropped for COPY/ADD/WORKDIR, and FROM as the
normalised image reference. A step is matched when its stage, its place in that stage and
its echoed text all agree with the Dockerfile; a `$VAR` of the Dockerfile matches any text.
No I/O, no printing, no environment, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile import Dockerfile, Instruction, Stage
from dbugbuild.logs import ExcerptLine, Step

_VERTEX_KEYWORDS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})
_SKIPPABLE = frozenset({"WORKDIR", "FROM"})  # counted, yet maybe without a vertex
_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_SPACE = re.compile(r"\s+")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# dockerfile2llb takes a `from=` that names no stage for an image: `<name>: failed to resolve
# source metadata for docker.io/library/<name>:latest: ...` when it cannot be had, and
# `failed to parse stage name "<Name>": invalid reference format` when it is no image name.
_UNRESOLVED = re.compile(
    r"(?:^|: )(?P<name>[^\s:]+)(?::[^\s:]+)?: failed to resolve source metadata for "
    r'|failed to parse stage name "(?P<quoted>[^"]+)"'
)


@dataclass(frozen=True)
class Match:
    """The instruction a BuildKit step ran, and its stage. For an ONBUILD trigger of the
    stage's base image (`trigger`), the instruction is the stage's FROM: where BuildKit
    points, as the Dockerfile has no line of its own for it."""

    instruction: Instruction
    stage: Stage
    trigger: bool = False


_TRIGGER = object()  # a place in a stage's sequence taken by an ONBUILD trigger


def match_steps(steps: Sequence[Step], dockerfile: Dockerfile) -> tuple[Match | None, ...]:
    """Each step's Match, or None where its stage, place or text disagree with the file."""
    return tuple(match_step(step, dockerfile) for step in steps)


def match_step(step: Step, dockerfile: Dockerfile) -> Match | None:
    stage = _stage(step, dockerfile)
    if stage is None or step.total is None:
        return None
    own = _sequence(stage, dockerfile)
    if step.onbuild:  # newer BuildKit says so, and counts its triggers in `n`
        return Match(own[0], stage, trigger=True) if own and own[0].keyword == "FROM" else None
    # BuildKit 0.13 prints a trigger as a plain step after the FROM, not counted in `n`: its
    # text matches nothing at its place, and only the excerpt (a FROM marked) can say.
    triggers = step.total - len(own)
    if triggers < 0:
        return None  # more vertex instructions here than the build counted: another file
    head = 1 if own and own[0].keyword == "FROM" else 0
    places: list[Instruction | object] = [*own[:head], *[_TRIGGER] * triggers, *own[head:]]
    for place in places[step.index - 1 :]:
        if place is _TRIGGER:
            return Match(own[0], stage, trigger=True) if head else None
        assert isinstance(place, Instruction)
        if echo_matches(step.text, place):
            return Match(place, stage)
        if place.keyword not in _SKIPPABLE:
            return None
    return None


def _stage(step: Step, dockerfile: Dockerfile) -> Stage | None:
    """The stage a step's printed stage names: its name, its place (`stage-N`, an unnamed
    stage), or none at all (a Dockerfile of one stage)."""
    if step.stage_name is not None:
        try:
            return dockerfile.stage(step.stage_name)
        except KeyError:
            return None
    if step.stage is None:
        return dockerfile.stages[0] if len(dockerfile.stages) == 1 else None
    if not 0 < step.stage <= len(dockerfile.stages):
        return None
    stage = dockerfile.stages[step.stage - 1]
    return stage if stage.name is None else None


def _sequence(stage: Stage, dockerfile: Dockerfile) -> list[Instruction]:
    """The stage's instructions that BuildKit counts in `n`, in order."""
    earlier = {s.name for s in dockerfile.stages[: stage.index] if s.name}
    counted = stage.base.lower() != "scratch" and stage.base.lower() not in earlier
    head = [stage.instructions[0]] if counted and stage.instructions else []
    return head + [i for i in stage.instructions[1:] if i.keyword in _VERTEX_KEYWORDS]


def echo_matches(echoed: str, ins: Instruction) -> bool:
    """Whether BuildKit's echo of a step (`RUN make all`, `FROM docker.io/library/x:1`) is
    this instruction, its variables expanded to whatever BuildKit knew."""
    keyword, _, rest = echoed.strip().partition(" ")
    if keyword.upper() != ins.keyword:
        return False
    if ins.keyword == "FROM":
        base = ins.args.split()[0] if ins.args.split() else ""
        return "$" in base or _reference(rest.strip()) == _reference(base)
    code = ins.code.split("\n", 1)[0].strip()
    written = code.split(None, 1)[1] if " " in code or "\t" in code else ""
    texts = [rest]
    if "<<" in written and rest.endswith(")") and " (" in rest:
        texts.append(rest[: rest.rfind(" (")])  # a heredoc's summary: ` (first line...)`
    chunks = _chunks(written)
    return any(_glob(chunks, _squash(text)) for text in texts)


def _squash(text: str) -> str:
    """Text as compared: no quotes or backslashes (BuildKit drops them for some
    instructions), whitespace runs folded."""
    return _SPACE.sub(" ", text.replace('"', "").replace("'", "").replace("\\", "")).strip()


def _chunks(written: str) -> list[str]:
    """The literal pieces between the variables of an instruction's text."""
    pieces = _VARIABLE.split(written)
    squashed = [_squash(piece) for piece in pieces]
    if len(squashed) == 1:
        return squashed
    return [piece.strip() for piece in squashed]


def _glob(chunks: list[str], text: str) -> bool:
    """Whether text is chunks[0] + anything + chunks[1] + ... + chunks[-1]."""
    if len(chunks) == 1:
        return text == chunks[0]
    first, last = chunks[0], chunks[-1]
    if len(first) + len(last) > len(text) or not (text.startswith(first) and text.endswith(last)):
        return False
    pos, end = len(first), len(text) - len(last)
    for chunk in chunks[1:-1]:
        found = text.find(chunk, pos, end)
        if found < 0:
            return False
        pos = found + len(chunk)
    return True


def _reference(ref: str) -> str:
    """An image reference as BuildKit prints it: domain, `library/` and `:latest` added."""
    ref = ref.lower()
    digest = _DIGEST.search(ref)
    if digest:
        ref = ref[: digest.start()]
    parts = ref.split("/")
    if len(parts) == 1 or not ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = ["docker.io", *(["library"] if len(parts) == 1 else []), *parts]
    if ":" not in parts[-1]:
        parts[-1] += ":latest"
    return "/".join(parts)


def excerpt_agrees(excerpt: Sequence[ExcerptLine], source: str | None) -> bool:
    """Whether BuildKit's `Dockerfile:LINE` excerpt shows the lines this Dockerfile has
    there (else the file changed since the build: its lines are not the log's)."""
    if source is None:
        return False
    lines = source.split("\n")  # as BuildKit splits: a last "\n" is followed by an empty line
    return bool(excerpt) and all(
        0 < line.number <= len(lines) and lines[line.number - 1].rstrip() == line.text.rstrip()
        for line in excerpt
    )


def unresolved_source(message: str) -> str | None:
    """The name a failed build could not resolve as a stage or image (`from=NAME`), if any."""
    hit = _UNRESOLVED.search(message)
    return (hit.group("name") or hit.group("quoted")) if hit else None


def references(dockerfile: Dockerfile) -> Iterator[tuple[Instruction, str, str]]:
    """(instruction, the name it takes files from, how) for mounts and COPY/ADD --from."""
    for ins in dockerfile.instructions:
        for flag in ins.flags:
            name, _, value = flag.removeprefix("--").partition("=")
            if name.lower() == "from" and ins.keyword in ("COPY", "ADD"):
                yield ins, value, f"{ins.keyword} --from={value}"
            if name.lower() == "mount":
                for item in value.split(","):
                    key, _, val = item.partition("=")
                    if key.strip().lower() == "from":
                        yield ins, val.strip(), f"RUN --mount=...,from={val.strip()}"


def referenced_by(name: str, dockerfile: Dockerfile) -> Instruction | None:
    """The one instruction that takes files from `name` (a mount's `from=`, COPY --from):
    where a build that could not resolve `name` failed. None when none or several do."""
    found = [ins for ins, source, _ in references(dockerfile) if source.lower() == name.lower()]
    return found[0] if len(found) == 1 else None

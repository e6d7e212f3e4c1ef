"""PURE: where each step of a parsed log is in the Dockerfile, by the numbering its builder uses.

Three numberings, one answer (a Place per step, or None): the classic builder's `Step N/M`
counts the whole build (classic_steps); Buildah's `[s/S] STEP i/n` counts per stage, its
stages by their place in the file; BuildKit's `[stage i/n]` counts per stage the instructions
that make a vertex, its stages by name or `stage-N` (vertices.py), and its excerpt names the
failing line. A step is mapped only when the text the builder echoed agrees; classic and
Buildah steps are all mapped or none (one disagreeing step means another Dockerfile).
No I/O, no printing, no environment, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbugbuild.dockerfile import (
    Dockerfile,
    Instruction,
    Stage,
    StepRef,
    classic_steps,
    label_options,
)
from dbugbuild.logs import BuildLog, Failure, Step
from dbugbuild.report.vertices import excerpt_agrees, match_steps

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Place:
    """Where a step of the log is: its instruction (None for a step the builder added, a
    --label's LABEL) and stage; `trigger` for a parent image's ONBUILD trigger, run in the
    place of the stage's FROM (the instruction then is that FROM)."""

    instruction: Instruction | None
    stage: Stage | None
    trigger: bool = False


def places(
    log: BuildLog,
    dockerfile: Dockerfile | None,
    *,
    source: str | None,
    dockerfile_path: str,
    target: str | None,
    labels: tuple[str, ...],
    notes: list[str],
) -> list[Place | None]:
    """Each step's Place (None: not mapped); why steps are not mapped is added to `notes`."""
    if dockerfile is None:
        return [None] * len(log.steps)
    if log.family == "buildkit":
        return _buildkit_places(log, dockerfile, source, dockerfile_path, notes)
    if any(step.per_stage for step in log.steps):
        mapped = _stage_places(log, dockerfile, target)
    else:
        mapped = _classic_places(log, dockerfile, target, labels)
    mismatch = next((i for i, (place, _) in enumerate(mapped) if place is None), None)
    if mismatch is None:
        return [place for place, _ in mapped]
    step, text = log.steps[mismatch], mapped[mismatch][1]
    has = f"'{text}'" if text is not None else "no such step"
    notes.append(
        f"lines not mapped: step {_numbered(step)} of the build ran '{step.text}' "
        f"but {dockerfile_path} has {has} there (the Dockerfile changed, or other "
        "-f/--target/--label options were used)"
    )
    return [None] * len(log.steps)


def _normal(text: str) -> str:
    """Step text as compared: whitespace runs folded, the keyword upper-cased."""
    words = _SPACE.sub(" ", text.strip()).split(" ", 1)
    return " ".join([words[0].upper(), *words[1:]])


def step_matches(step: Step, ref: StepRef) -> bool:
    """Whether the builder's echo of a step is the instruction the Dockerfile has at that number."""
    # The builder echoes the instruction's line raw; a lone CR inside it (no line break to the
    # builder: parser-engine26/lone_cr) ends a line for the log reader, so the echo it gives
    # stops there.
    return _normal(step.text) == _normal(ref.text.split("\r", 1)[0])


# A step's Place when its echo agrees, else None; and the text the Dockerfile has at its
# number (None: no such step), for the note.
_Mapped = tuple[Place | None, str | None]


def _classic_places(
    log: BuildLog, dockerfile: Dockerfile, target: str | None, labels: tuple[str, ...]
) -> list[_Mapped]:
    """Classic steps by their global number `Step N/M` (also Buildah 1.x's `STEP N:`)."""
    try:
        numbered = classic_steps(dockerfile, target=target, labels=label_options(labels))
    except KeyError:  # an unknown --target: the daemon says so in the log
        numbered = ()
    refs = {r.index: r for r in numbered}
    mapped: list[_Mapped] = []
    for step in log.steps:
        ref = refs.get(step.index)
        if ref is None:
            mapped.append((None, None))
        elif not _echo_agrees(step, ref.instruction, ref.text):
            mapped.append((None, ref.text))
        else:
            mapped.append((Place(ref.instruction, ref.stage), ref.text))
    return mapped


def _stage_places(log: BuildLog, dockerfile: Dockerfile, target: str | None) -> list[_Mapped]:
    """Steps numbered per stage (Buildah's `[s/S] STEP i/n`): stage s of the Dockerfile, its
    instruction i (FROM is 1). A parent's ONBUILD triggers run as extra steps right after the
    FROM (n then exceeds the stage's instructions): they map to the FROM line."""
    stages = dockerfile.stages
    if target:
        cut = next((st.index for st in stages if st.name == target.lower()), None)
        stages = stages[: cut + 1] if cut is not None else ()
    mapped: list[_Mapped] = []
    for step in log.steps:
        position = step.stage if step.stage is not None else 1
        if not 0 < position <= len(stages) or step.index < 1:
            mapped.append((None, None))
            continue
        stage = stages[position - 1]
        own = stage.instructions
        triggers = max(0, (step.total or len(own)) - len(own))
        at = 0 if step.index <= 1 + triggers else step.index - 1 - triggers
        ins = own[at] if at < len(own) else None
        if ins is None:
            mapped.append((None, None))
        elif 1 < step.index <= 1 + triggers:  # a parent's ONBUILD trigger, in the FROM's place
            mapped.append((Place(ins, stage, trigger=True), step.text))
        elif not _echo_agrees(step, ins, ins.text):
            mapped.append((None, ins.text))
        else:
            mapped.append((Place(ins, stage), ins.text))
    return mapped


def _echo_agrees(step: Step, ins: Instruction | None, text: str) -> bool:
    if step.per_stage and step.instruction == "FROM" and ins is not None:
        # Buildah echoes a FROM of an earlier stage as `FROM <its image id> AS name`.
        return ins.keyword == "FROM"
    return _normal(step.text) == _normal(text.split("\r", 1)[0])


def _numbered(step: Step) -> str:
    if step.stage is not None:
        return f"{step.index} of stage {step.stage}"
    if step.stage_name is not None:
        return f"{step.index} of stage {step.stage_name}"
    return str(step.index)


def _buildkit_places(
    log: BuildLog,
    dockerfile: Dockerfile,
    source: str | None,
    dockerfile_path: str,
    notes: list[str],
) -> list[Place | None]:
    """BuildKit steps, each by its stage, place and text; the failing one also by the
    excerpt, which wins when the Dockerfile has its lines."""
    failure = log.failure
    excerpt = failure.excerpt if failure is not None else ()
    if excerpt and not excerpt_agrees(excerpt, source):
        notes.append(
            f"lines not mapped: the log's Dockerfile excerpt (line {excerpt[0].number} on) is "
            f"not what {dockerfile_path} has there (the Dockerfile changed, or another one "
            "was built)"
        )
        return [None] * len(log.steps)
    found: list[Place | None] = [
        Place(m.instruction, m.stage) if m is not None else None
        for m in match_steps(log.steps, dockerfile)
    ]
    failed, at = log.failed_step, log.failed_position
    if failure is not None and failed is not None and at is not None:
        by_excerpt = _excerpt_instruction(failure, dockerfile)
        if by_excerpt is not None:
            found[at] = Place(by_excerpt, dockerfile.stages[by_excerpt.stage or 0])
        elif found[at] is None:
            notes.append(
                f"lines not mapped: the failing step '{failed.text}' of the build is no "
                f"instruction of {dockerfile_path} at its place (the Dockerfile changed, or "
                "other -f/--target options were used)"
            )
    return found


def _excerpt_instruction(failure: Failure, dockerfile: Dockerfile) -> Instruction | None:
    """The instruction BuildKit's excerpt marks (the file agrees with the excerpt)."""
    if failure.span is None:
        return None
    ins = dockerfile.instruction_at(failure.span[0])
    return ins if ins is not None and ins.stage is not None else None

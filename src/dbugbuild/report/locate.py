"""PURE: join a parsed build log with the Dockerfile model: which line failed, in which stage.

It takes the parsed log, the parsed Dockerfile (or None) and its text, and builds the
Report, once: with the caller's notes and the diagnosis of the located failure (through
the caller's `diagnose`). It never guesses a line: a classic step is mapped only when the
text the builder echoed matches the instruction at that step number; a BuildKit step when
its stage, its place in the stage and its echoed text agree (vertices.py), and BuildKit's
own `Dockerfile:LINE` excerpt is taken when the Dockerfile has those lines (or there is no
Dockerfile at hand). A mapped step carries its Instruction and Stage for the stages after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from dbugbuild.dockerfile import (
    Dockerfile,
    Instruction,
    Stage,
    StepRef,
    buildkit_script,
    classic_steps,
    label_options,
)
from dbugbuild.dockerfile import lines as dockerfile_lines
from dbugbuild.logs import BuildLog, Failure, Step
from dbugbuild.report.model import (
    BUILDER,
    BuilderChoice,
    Diagnosis,
    FailedStep,
    Report,
    StepReport,
)
from dbugbuild.report.vertices import (
    excerpt_agrees,
    match_steps,
    referenced_by,
    unresolved_source,
)

# The diagnosis of the located failure, and its last good image (where a look can be had).
Diagnose = Callable[[FailedStep, str | None], Diagnosis]
# Where a step of the log is in the Dockerfile: its instruction (None for a step the
# builder added, a --label's LABEL) and stage; None when not mapped.
Place = tuple[Instruction | None, Stage | None]

_SPACE = re.compile(r"\s+")


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


def locate(
    log: BuildLog,
    *,
    dockerfile: Dockerfile | None,
    source: str | None,
    dockerfile_path: str,
    location: str,
    target: str | None = None,
    labels: tuple[str, ...] = (),
    parent_image: str | None = None,
    notes: Sequence[str] = (),
    diagnose: Diagnose | None = None,
    builder: str = BUILDER,
    builder_choice: BuilderChoice | None = None,
    service: str | None = None,
) -> Report:
    """The report for a parsed log; `parent_image` is the resolved base of an ONBUILD failure,
    `notes` follow locate's own, `diagnose` gives the failure its diagnosis, `service` is the
    Compose service built."""
    own: list[str] = []
    if log.family == "buildkit":
        places = _buildkit_places(log, dockerfile, source, dockerfile_path, own)
    else:
        places = _classic_places(log, dockerfile, dockerfile_path, target, labels, own)
    steps = tuple(_step_report(s, p) for s, p in zip(log.steps, places, strict=True))
    failure = log.failure
    failed: FailedStep | None = None
    source_lines: tuple[str, ...] = ()
    last_good = log.last_good_image
    container: str | None = None
    if failure is not None:
        fs = log.failed_step
        place = places[log.steps.index(fs)] if fs is not None else None
        failed, source_lines = _failed_step(log, failure, place, dockerfile, source, builder)
        if failure.in_trigger:
            last_good = parent_image
            own.append("the failure happened in an ONBUILD trigger of the base image")
        if fs is not None and fs.container is not None:
            # The builder keeps the failing step's container (no --force-rm), also one that
            # never started (a missing binary: state "created", no exit code).
            container = fs.container

    if failure is None:
        exit_code = 0
    elif failure.exit_code is not None and failure.exit_code > 0:
        exit_code = failure.exit_code
    else:
        exit_code = 1
    last_good = last_good if failure is not None else None
    return Report(
        status="failed" if failure is not None else "succeeded",
        dockerfile=dockerfile_path,
        image=log.image if failure is None else None,
        tags=log.tags,
        failed_step=failed,
        last_good_image=last_good,
        failed_container=container,
        steps=steps,
        exit_code=exit_code,
        notes=(*own, *notes),
        diagnosis=diagnose(failed, last_good) if failed is not None and diagnose else None,
        location=location,
        source_lines=source_lines,
        builder=builder,
        builder_choice=builder_choice,
        service=service,
    )


def _classic_places(
    log: BuildLog,
    dockerfile: Dockerfile | None,
    dockerfile_path: str,
    target: str | None,
    labels: tuple[str, ...],
    notes: list[str],
) -> list[Place | None]:
    """Classic steps by their global number `Step N/M`: all mapped, or none."""
    if dockerfile is None:
        return [None] * len(log.steps)
    try:
        numbered = classic_steps(dockerfile, target=target, labels=label_options(labels))
    except KeyError:  # an unknown --target: the daemon says so in the log
        numbered = ()
    refs = {r.index: r for r in numbered}
    mismatch = next(
        (s for s in log.steps if s.index not in refs or not step_matches(s, refs[s.index])),
        None,
    )
    if mismatch is not None:
        ref = refs.get(mismatch.index)
        has = f"'{ref.text}'" if ref else "no such step"
        notes.append(
            f"lines not mapped: step {mismatch.index} of the build ran '{mismatch.text}' "
            f"but {dockerfile_path} has {has} there (the Dockerfile changed, or other "
            "-f/--target/--label options were used)"
        )
        return [None] * len(log.steps)
    return [(refs[s.index].instruction, refs[s.index].stage) for s in log.steps]


def _buildkit_places(
    log: BuildLog,
    dockerfile: Dockerfile | None,
    source: str | None,
    dockerfile_path: str,
    notes: list[str],
) -> list[Place | None]:
    """BuildKit steps, each by its stage, place and text; the failing one also by the
    excerpt, which wins when the Dockerfile has its lines."""
    if dockerfile is None:
        return [None] * len(log.steps)
    failure = log.failure
    excerpt = failure.excerpt if failure is not None else ()
    if excerpt and not excerpt_agrees(excerpt, source):
        notes.append(
            f"lines not mapped: the log's Dockerfile excerpt (line {excerpt[0].number} on) is "
            f"not what {dockerfile_path} has there (the Dockerfile changed, or another one "
            "was built)"
        )
        return [None] * len(log.steps)
    places: list[Place | None] = [
        (m.instruction, m.stage) if m is not None else None
        for m in match_steps(log.steps, dockerfile)
    ]
    failed = log.failed_step
    if failure is not None and failed is not None:
        at = log.steps.index(failed)
        by_excerpt = _excerpt_instruction(failure, dockerfile)
        if by_excerpt is not None:
            places[at] = (by_excerpt, dockerfile.stages[by_excerpt.stage or 0])
        elif places[at] is None:
            notes.append(
                f"lines not mapped: the failing step '{failed.text}' of the build is no "
                f"instruction of {dockerfile_path} at its place (the Dockerfile changed, or "
                "other -f/--target options were used)"
            )
    return places


def _excerpt_instruction(failure: Failure, dockerfile: Dockerfile) -> Instruction | None:
    """The instruction BuildKit's excerpt marks (the file agrees with the excerpt)."""
    if failure.span is None:
        return None
    ins = dockerfile.instruction_at(failure.span[0])
    return ins if ins is not None and ins.stage is not None else None


def _stage_name(step: Step, place: Place | None) -> str | None:
    """The step's stage name: the Dockerfile's, else the builder's (never `stage-N`)."""
    if place is not None:
        stage = place[1]
        return stage.name if stage is not None else None
    return step.stage.lower() if step.stage is not None and step.stage_named else None


def _step_report(step: Step, place: Place | None) -> StepReport:
    ins = place[0] if place else None
    return StepReport(
        index=step.index,
        instruction=step.instruction,
        line=ins.line if ins else None,
        end_line=ins.end_line if ins else None,
        stage=_stage_name(step, place),
        image=step.image,
        cached=step.cached,
        stage_model=place[1] if place and ins else None,
    )


def _excerpt_lines(failure: Failure) -> tuple[str, ...]:
    """The marked lines of BuildKit's excerpt: the failing instruction's, as the log has them."""
    return tuple(line.text for line in failure.excerpt if line.marked)


def _failed_step(
    log: BuildLog,
    failure: Failure,
    place: Place | None,
    dockerfile: Dockerfile | None,
    source: str | None,
    builder: str,
) -> tuple[FailedStep, tuple[str, ...]]:
    lines = dockerfile_lines(source) if source is not None else []
    step = log.failed_step
    if step is None:
        # Nothing ran: a Dockerfile parse error (line known), an error before step 1, or
        # (BuildKit) a FROM whose image could not be resolved, its line in the excerpt.
        line = failure.parse_error_line
        end = line
        if line is None and failure.span is not None:
            line, end = failure.span
        unresolved = unresolved_source(failure.message) if log.family == "buildkit" else None
        if line is None and unresolved is not None and dockerfile is not None:
            # A `from=` BuildKit could not resolve, and no excerpt: the one line that names it.
            named = referenced_by(unresolved, dockerfile)
            line = end = named.line if named is not None else None
        text = lines[line - 1].strip() if line is not None and 0 < line <= len(lines) else None
        shown: tuple[str, ...] = (lines[line - 1],) if text is not None and line else ()
        if text is None and failure.excerpt and line is not None:
            shown = _excerpt_lines(failure)
            text = shown[0].strip() if shown else None
        keyword = text.split(None, 1)[0].upper() if text else None
        ins = dockerfile.instruction_at(line) if dockerfile is not None and line else None
        if ins is not None and ins.line != line:
            ins = None  # the line is inside an instruction, not its start: take it as is
        if ins is not None:
            end = ins.end_line
            shown = tuple(lines[ins.line - 1 : ins.end_line])
        stage = None
        if ins is not None and ins.stage is not None and dockerfile is not None:
            stage = dockerfile.stages[ins.stage]
        return (
            FailedStep(
                index=None,
                total=None,
                instruction=keyword,
                line=line,
                end_line=end,
                stage=stage.name if stage else None,
                command=text.split(None, 1)[1] if text and " " in text else None,
                exit_code=failure.exit_code,
                message=failure.message,
                output_tail=(),
                instruction_model=ins,
                stage_model=stage,
            ),
            shown,
        )
    ins = place[0] if place else None
    if failure.in_trigger and failure.command is not None:
        command: str | None = failure.command
    elif ins is not None and ins.heredocs and builder != BUILDER:
        # What BuildKit ran: a heredoc RUN's body (the classic builder ran the line alone).
        command = buildkit_script(ins) if ins.keyword == "RUN" else ins.command
    elif ins is not None:
        command = ins.command  # an exec form's array without the text after it
    else:
        command = step.text.split(None, 1)[1] if " " in step.text else None
    line_no = ins.line if ins else None
    end_line = ins.end_line if ins else None
    src: tuple[str, ...] = ()
    if ins is not None and lines:
        src = tuple(lines[ins.line - 1 : ins.end_line])
    elif (
        place is None
        and failure.span is not None
        and dockerfile is None
        and (source is None or excerpt_agrees(failure.excerpt, source))
    ):
        # No Dockerfile model at hand: BuildKit's excerpt says where, and shows the lines.
        line_no, end_line = failure.span
        src = _excerpt_lines(failure)
    instruction = "FROM" if failure.in_trigger and log.family == "buildkit" else step.instruction
    return (
        FailedStep(
            index=step.index,
            total=step.total,
            instruction=instruction,
            line=line_no,
            end_line=end_line,
            stage=_stage_name(step, place),
            command=command,
            exit_code=failure.exit_code,
            message=failure.message,
            output_tail=step.output_tail,
            instruction_model=ins,
            stage_model=place[1] if place and ins else None,
        ),
        src,
    )

"""PURE: join a parsed build log with the Dockerfile model: which line failed, in which stage.

It takes the parsed log, the parsed Dockerfile (or None) and its text, and builds the
Report, once: with the caller's notes and the diagnosis of the located failure (through
the caller's `diagnose`). It never guesses a line: each builder's steps are mapped by its
own numbering, only where the echoed text agrees (places.py: classic, Buildah per stage,
BuildKit by stage, place and text in vertices.py), and BuildKit's own `Dockerfile:LINE`
excerpt is taken when the Dockerfile has those lines (or there is no Dockerfile at hand). A
mapped step carries its Instruction and Stage for the stages after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dbugbuild.dockerfile import Dockerfile, buildkit_script
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
from dbugbuild.report.places import Place, places
from dbugbuild.report.vertices import excerpt_agrees, referenced_by, unresolved_source

# The diagnosis of the located failure, and its last good image (where a look can be had).
Diagnose = Callable[[FailedStep, str | None], Diagnosis]


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
    """The report for a parsed log; `parent_image` is the resolved base of an ONBUILD failure
    (or of a stage whose FROM the log gives no id for), `notes` follow locate's own,
    `diagnose` gives the failure its diagnosis, `service` is the Compose service built."""
    own: list[str] = []
    mapped = places(
        log,
        dockerfile,
        source=source,
        dockerfile_path=dockerfile_path,
        target=target,
        labels=labels,
        notes=own,
    )
    steps = tuple(_step_report(s, p) for s, p in zip(log.steps, mapped, strict=True))
    failure = log.failure
    failed: FailedStep | None = None
    source_lines: tuple[str, ...] = ()
    last_good = log.last_good_image
    container: str | None = None
    if failure is not None:
        fs, at = log.failed_step, log.failed_position
        place = mapped[at] if at is not None else None
        failed, source_lines = _failed_step(log, failure, place, dockerfile, source, builder)
        if failure.in_trigger or (place is not None and place.trigger):
            own.append("the failure happened in an ONBUILD trigger of the base image")
        if failure.in_trigger:
            last_good = parent_image
        elif last_good is None and parent_image is not None:
            # The log holds no id for the stage's base (Buildah prints none for a FROM).
            last_good = parent_image
        if fs is not None and fs.container is not None:
            # The builder keeps the failing step's container (no --force-rm), also one that
            # never started (a missing binary: state "created", no exit code).
            container = fs.container

    if failure is None:
        exit_code = 0
    elif failure.exit_code is not None and failure.exit_code > 0:
        exit_code = failure.exit_code
    else:
        exit_code = failure.status or 1  # podman: 125 for a failure that is no command's
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


def _stage_name(step: Step, place: Place | None) -> str | None:
    """The step's stage name: the Dockerfile's, else the builder's (never `stage-N`)."""
    if place is not None:
        return place.stage.name if place.stage is not None else None
    return step.stage_name.lower() if step.stage_name is not None else None


def _step_report(step: Step, place: Place | None) -> StepReport:
    ins = place.instruction if place else None
    return StepReport(
        index=step.index,
        instruction=step.instruction,
        line=ins.line if ins else None,
        end_line=ins.end_line if ins else None,
        stage=_stage_name(step, place),
        image=step.image,
        cached=step.cached,
        stage_model=place.stage if place and ins else None,
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
    ins = place.instruction if place else None
    if failure.in_trigger and failure.command is not None:
        command: str | None = failure.command
    elif ins is not None and ins.heredocs and builder == "buildkit":
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
            output_lines=step.output_lines,
            instruction_model=ins,
            stage_model=place.stage if place and ins else None,
        ),
        src,
    )

"""PURE: join a parsed build log with the Dockerfile model: which line failed, in which stage.

It takes the parsed log, the parsed Dockerfile (or None) and its text, and builds the
Report, once: with the caller's notes and the diagnosis of the located failure (through
the caller's `diagnose`). It never guesses a line: a step is mapped only when the text
the builder echoed matches the instruction at that step number; a mapped step carries
its Instruction and Stage for the stages after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from dbugbuild.dockerfile import Dockerfile, StepRef, buildkit_script, classic_steps, label_options
from dbugbuild.dockerfile import lines as source_lines
from dbugbuild.logs import BuildLog, Failure, Step
from dbugbuild.report.model import BUILDER, Diagnosis, FailedStep, Report, StepReport

# The diagnosis of the located failure, and its last good image (where a look can be had).
Diagnose = Callable[[FailedStep, str | None], Diagnosis]

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
) -> Report:
    """The report for a parsed log; `parent_image` is the resolved base of an ONBUILD failure,
    `notes` follow locate's own, `diagnose` gives the failure its diagnosis."""
    extra = tuple(notes)
    refs: dict[int, StepRef] = {}
    notes = []
    if dockerfile is not None:
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
            refs = {}

    steps = tuple(_step_report(s, refs.get(s.index)) for s in log.steps)
    failure = log.failure
    failed: FailedStep | None = None
    source_lines: tuple[str, ...] = ()
    last_good = log.last_good_image
    container: str | None = None
    if failure is not None:
        failed, source_lines = _failed_step(log, failure, refs, source, builder)
        fs = log.failed_step
        if failure.in_trigger:
            last_good = parent_image
            notes.append("the failure happened in an ONBUILD trigger of the base image")
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
        notes=(*notes, *extra),
        diagnosis=diagnose(failed, last_good) if failed is not None and diagnose else None,
        location=location,
        source_lines=source_lines,
        builder=builder,
    )


def _step_report(step: Step, ref: StepRef | None) -> StepReport:
    ins = ref.instruction if ref else None
    return StepReport(
        index=step.index,
        instruction=step.instruction,
        line=ins.line if ins else None,
        end_line=ins.end_line if ins else None,
        stage=ref.stage.name if ref and ref.stage else None,
        image=step.image,
        cached=step.cached,
        stage_model=ref.stage if ref and ins else None,
    )


def _failed_step(
    log: BuildLog, failure: Failure, refs: dict[int, StepRef], source: str | None, builder: str
) -> tuple[FailedStep, tuple[str, ...]]:
    lines = source_lines(source) if source is not None else []
    step = log.failed_step
    if step is None:
        # Nothing ran: a Dockerfile parse error (line known) or an error before step 1.
        line = failure.parse_error_line
        text = lines[line - 1].strip() if line is not None and 0 < line <= len(lines) else None
        keyword = text.split(None, 1)[0].upper() if text else None
        return (
            FailedStep(
                index=None,
                total=None,
                instruction=keyword,
                line=line,
                end_line=line,
                stage=None,
                command=text.split(None, 1)[1] if text and " " in text else None,
                exit_code=failure.exit_code,
                message=failure.message,
                output_tail=(),
            ),
            (lines[line - 1],) if text is not None and line is not None else (),
        )
    ref = refs.get(step.index)
    ins = ref.instruction if ref else None
    if failure.in_trigger and failure.command is not None:
        command: str | None = failure.command
    elif ins is not None and ins.heredocs and builder != BUILDER:
        # What BuildKit ran: a heredoc RUN's body (the classic builder ran the line alone).
        command = buildkit_script(ins) if ins.keyword == "RUN" else ins.command
    elif ins is not None:
        command = ins.command  # an exec form's array without the text after it
    else:
        command = step.text.split(None, 1)[1] if " " in step.text else None
    src: tuple[str, ...] = ()
    if ins is not None and lines:
        src = tuple(lines[ins.line - 1 : ins.end_line])
    return (
        FailedStep(
            index=step.index,
            total=step.total,
            instruction=step.instruction,
            line=ins.line if ins else None,
            end_line=ins.end_line if ins else None,
            stage=ref.stage.name if ref and ref.stage else None,
            command=command,
            exit_code=failure.exit_code,
            message=failure.message,
            output_tail=step.output_tail,
            instruction_model=ins,
            stage_model=ref.stage if ref and ins else None,
        ),
        src,
    )

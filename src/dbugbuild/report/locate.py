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

from dbugbuild.dockerfile import Dockerfile, StepRef, classic_steps, label_options
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
    return _normal(step.text) == _normal(ref.text)


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
    """The report for a parsed log; `parent_image` is the resolved base of an ONBUILD failure
    (or of a stage whose FROM the log gives no id for), `notes` follow locate's own,
    `diagnose` gives the failure its diagnosis."""
    extra = tuple(notes)
    refs: tuple[StepRef | None, ...] = (None,) * len(log.steps)
    notes = []
    if dockerfile is not None:
        per_stage = any(step.stage is not None for step in log.steps)
        mapped = (
            _stage_refs(log, dockerfile, target)
            if per_stage
            else _classic_refs(log, dockerfile, target, labels)
        )
        mismatch = next(
            (i for i, ref in enumerate(mapped) if ref is None or not _matches(log.steps[i], ref)),
            None,
        )
        if mismatch is None:
            refs = mapped
        else:
            step, ref = log.steps[mismatch], mapped[mismatch]
            has = f"'{ref.text}'" if ref else "no such step"
            notes.append(
                f"lines not mapped: step {_numbered(step)} of the build ran '{step.text}' "
                f"but {dockerfile_path} has {has} there (the Dockerfile changed, or other "
                "-f/--target/--label options were used)"
            )

    steps = tuple(_step_report(s, ref) for s, ref in zip(log.steps, refs, strict=True))
    failure = log.failure
    failed: FailedStep | None = None
    source_lines: tuple[str, ...] = ()
    last_good = log.last_good_image
    container: str | None = None
    if failure is not None:
        at = _failed_position(log)
        ref = refs[at] if at is not None else None
        failed, source_lines = _failed_step(log, failure, ref, source)
        fs = log.failed_step
        in_trigger = ref is not None and ref.synthetic and ref.instruction is not None
        if failure.in_trigger or in_trigger:
            notes.append("the failure happened in an ONBUILD trigger of the base image")
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
        notes=(*notes, *extra),
        diagnosis=diagnose(failed, last_good) if failed is not None and diagnose else None,
        location=location,
        source_lines=source_lines,
        builder=builder,
    )


def _classic_refs(
    log: BuildLog, dockerfile: Dockerfile, target: str | None, labels: tuple[str, ...]
) -> tuple[StepRef | None, ...]:
    """Each step's Dockerfile step by the classic numbering (`Step N/M`: the whole build)."""
    try:
        numbered = classic_steps(dockerfile, target=target, labels=label_options(labels))
    except KeyError:  # an unknown --target: the daemon says so in the log
        numbered = ()
    by_index = {r.index: r for r in numbered}
    return tuple(by_index.get(step.index) for step in log.steps)


def _stage_refs(
    log: BuildLog, dockerfile: Dockerfile, target: str | None
) -> tuple[StepRef | None, ...]:
    """Each step's Dockerfile step when the builder numbers per stage (Buildah's `[s/S] STEP
    i/n`): stage s of the Dockerfile, its instruction i (FROM is 1). A parent's ONBUILD
    triggers run as extra steps right after the FROM (n then exceeds the stage's
    instructions): they map to the FROM line."""
    stages = dockerfile.stages
    if target:
        cut = next((st.index for st in stages if st.name == target.lower()), None)
        stages = stages[: cut + 1] if cut is not None else ()
    refs: list[StepRef | None] = []
    for step in log.steps:
        position = step.stage if step.stage is not None else 1
        if not 0 < position <= len(stages) or step.index < 1:
            refs.append(None)
            continue
        stage = stages[position - 1]
        own = stage.instructions
        triggers = max(0, (step.total or len(own)) - len(own))
        at = 0 if step.index <= 1 + triggers else step.index - 1 - triggers
        ins = own[at] if at < len(own) else None
        if ins is None:
            refs.append(None)
            continue
        trigger = 1 < step.index <= 1 + triggers
        text = step.text if trigger else ins.text
        refs.append(StepRef(step.index, ins, stage, synthetic=trigger, text=text))
    return tuple(refs)


def _matches(step: Step, ref: StepRef) -> bool:
    if ref.synthetic and ref.instruction is not None and ref.instruction.keyword == "FROM":
        return True  # a parent's ONBUILD trigger, run in the FROM's place
    if step.stage is not None and step.instruction == "FROM" and ref.instruction is not None:
        # Buildah echoes a FROM of an earlier stage as `FROM <its image id> AS name`.
        return ref.instruction.keyword == "FROM"
    return step_matches(step, ref)


def _numbered(step: Step) -> str:
    if step.stage is not None:
        return f"{step.index} of stage {step.stage}"
    return str(step.index)


def _failed_position(log: BuildLog) -> int | None:
    if log.failed_step is None:
        return None
    return log.failed_at if log.failed_at is not None else len(log.steps) - 1


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
    log: BuildLog, failure: Failure, ref: StepRef | None, source: str | None
) -> tuple[FailedStep, tuple[str, ...]]:
    lines = source.splitlines() if source is not None else []
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
    ins = ref.instruction if ref else None
    if failure.in_trigger and failure.command is not None:
        command: str | None = failure.command
    elif ins is not None:
        command = ins.args
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

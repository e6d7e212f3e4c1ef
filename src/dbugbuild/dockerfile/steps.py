"""PURE: classic step numbering (`Step N/M`) and a RUN's command as written.

Must not do I/O, print, or read the environment or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbugbuild.dockerfile.heredoc import buildkit_script
from dbugbuild.dockerfile.lines import lines
from dbugbuild.dockerfile.model import (
    Dockerfile,
    DockerfileSyntaxError,
    Instruction,
    Stage,
    StepRef,
)
from dbugbuild.dockerfile.parse import parse


def classic_steps(
    df: Dockerfile,
    target: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
) -> tuple[StepRef, ...]:
    """The steps a classic build runs, numbered and echoed as it prints them ("Step N/M : ...")."""
    # moby builder/dockerfile/builder.go: build() cuts the stages after --target (matched by name,
    # case-insensitively, never by index) before dispatchDockerfileWithCancellation counts
    # total = len(metaArgs) + len(stages) + commands; so --target changes the total too.
    # buildLabelOptions() appends one LABEL command per --label, sorted by key, to the last stage.
    stages = df.stages
    if target:
        wanted = target.lower()
        cut = next((s.index for s in stages if s.name == wanted), None)
        if cut is None:
            raise KeyError(f"failed to reach build target {target} in Dockerfile")
        stages = stages[: cut + 1]
    pairs: list[tuple[Instruction, Stage | None]] = [(arg, None) for arg in df.meta_args]
    pairs += [(instruction, stage) for stage in stages for instruction in stage.instructions]
    steps = [
        StepRef(
            index=n, instruction=instruction, stage=stage, synthetic=False, text=instruction.text
        )
        for n, (instruction, stage) in enumerate(pairs, start=1)
    ]
    for key, value in sorted((labels or {}).items()):
        text = f"LABEL {key}={value}"
        steps.append(
            StepRef(
                index=len(steps) + 1, instruction=None, stage=stages[-1], synthetic=True, text=text
            )
        )
    return tuple(steps)


def command_as_written(instruction: Instruction, escape: str = "\\") -> str:
    """A RUN's shell-form command with its lines kept, ready to edit and to run in a shell.

    The keyword is dropped, and so are the comment and blank lines inside the
    continuation (the builder drops them before the shell sees the command).
    With the backtick escape (Windows) the lines are joined, as the builder does.
    Heredoc bodies and terminators follow as written (their comment and blank lines
    are the script's own). An exec form is its JSON array alone.
    """
    if instruction.is_exec_form:
        return instruction.command
    written = lines(instruction.original)
    logical = len(written)
    if instruction.heredocs:
        logical = instruction.heredocs[0].line - instruction.line
    if escape != "\\":
        head = instruction.args
    else:
        first = written[0].lstrip()
        first = (
            first[len(instruction.keyword) :].lstrip()
            if first[: len(instruction.keyword)].upper() == instruction.keyword
            else first
        )
        kept = [first] + [
            line
            for line in written[1:logical]
            if line.strip() and not line.lstrip().startswith("#")
        ]
        head = "\n".join(kept).rstrip()
    return "\n".join([head, *written[logical:]])


def label_options(labels: tuple[str, ...]) -> dict[str, str]:
    """--label K=V options as the builder reads them (a bare K is an empty label)."""
    return dict((k, v) for k, _, v in (label.partition("=") for label in labels))


def typed_run(command: str) -> Instruction | None:
    """`command` (typed, or the pre-typed text edited) read as a RUN line of its own; None when
    it is not one RUN (an unterminated heredoc, lines after its terminator, a bad JSON array)."""
    try:
        df = parse(f"FROM scratch\nRUN {command}\n")
    except DockerfileSyntaxError:
        return None
    return df.instructions[1] if len(df.instructions) == 2 else None


def typed_script(command: str) -> str:
    """What BuildKit's shell would run for `command` typed as a RUN's text: a heredoc written
    out (`<<EOT` + body + `EOT`, as pre-typed) runs its body, as in the build; anything else
    runs as typed."""
    ins = typed_run(command)
    if ins is None or not ins.heredocs:
        return command
    return buildkit_script(ins)

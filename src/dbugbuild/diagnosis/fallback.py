"""PURE: command-failed, the catch-all: the step's command ran and failed for its own reasons."""

from __future__ import annotations

import re
import shlex

from dbugbuild.diagnosis.case import Case, Found, code, said
from dbugbuild.diagnosis.tables import EXIT_MEANINGS

_SEGMENTS = re.compile(r"&&|\|\||;|\|")


def command_failed(case: Case) -> Found:
    step = case.step
    evidence = [f"exit code {step.exit_code}"] if step.exit_code is not None else []
    tail = [line for line in step.output_tail if line.strip()]
    if tail:
        evidence.append(said(tail[-1]))
    if step.exit_code is None:
        evidence.append(f'builder: "{step.message}"')
        return Found(
            f"The builder stopped at {step.instruction or 'the build'}: {step.message}",
            (
                "Read the builder's message above; `docker build --help` and the Dockerfile "
                "reference explain its options.",
            ),
            tuple(evidence),
        )
    segments = [seg for seg in _SEGMENTS.split(step.command or "") if seg.strip()]
    program = _first_word(segments[0]) if segments and case.runs_command else None
    last = _first_word(segments[-1]) if segments and case.runs_command else None
    if case.facts.in_trigger:
        summary = (
            f"An ONBUILD trigger of the base image ran a command that exited with code "
            f"{step.exit_code}."
        )
    elif step.instruction == "RUN" and program and program.startswith("<<"):
        summary = (
            f"The RUN's heredoc script ran, and a command in it exited with code {step.exit_code}."
        )
    elif step.instruction == "RUN" and program and len(segments) == 1:
        summary = f"The command ({code(program)} ...) ran and exited with code {step.exit_code}."
    elif step.instruction == "RUN":
        summary = f"The RUN's commands ran, and one exited with code {step.exit_code}."
    else:
        summary = f"The step's command exited with code {step.exit_code}."
    hints = [
        "Its own output above says why: the last lines are usually the error.",
        "Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the command "
        "(or `--retry` / `--exec` in CI).",
    ]
    meaning = EXIT_MEANINGS.get(step.exit_code)
    if meaning:
        hints.insert(1, f"Exit code {meaning}.")
    if case.facts.in_trigger:
        hints.insert(
            1,
            "The trigger comes with the FROM image (`docker image inspect -f "
            "'{{.Config.OnBuild}}' IMAGE` lists them): fix it where that image is built, or "
            "start FROM an image without it.",
        )
    if last in ("grep", "test", "[", "diff", "cmp") and step.exit_code == 1:
        hints.insert(
            0,
            f"The last command, {code(last)}, exits 1 when its condition is false or nothing "
            "matched: it may have reported a fact, not an error.",
        )
    return Found(summary, tuple(hints), tuple(evidence))


def _first_word(command: str | None) -> str | None:
    if not command:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return words[0] if words else None

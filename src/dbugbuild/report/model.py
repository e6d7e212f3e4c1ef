"""PURE: the build report as data: what failed, where, why, and what ran in its layer.

Rendered in one place (render.py); the JSON shape is documented in docs/report.md and
report.schema.json: fields are added, never renamed. No I/O, no clock, no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dbugbuild.dockerfile import Instruction, Stage

SCHEMA_VERSION = 1
BUILDER = "classic"

# A field of the model that is not part of the JSON report: what the stages after locate
# read (the failing instruction and its stage, as parsed), and what only the text shows.
# Not compared either: it is the same thing as the serialised fields, seen as the model.
_MODEL: dict[str, Any] = {"json": False}

Status = Literal["failed", "succeeded"]


@dataclass(frozen=True)
class StepReport:
    """One step of the build in the report: its instruction, Dockerfile lines and image."""

    index: int
    instruction: str
    line: int | None
    end_line: int | None
    stage: str | None
    image: str | None
    cached: bool
    # The stage of the step's instruction, when mapped (not serialised).
    stage_model: Stage | None = field(default=None, compare=False, repr=False, metadata=_MODEL)


@dataclass(frozen=True)
class FailedStep:
    """The step that failed, located: its instruction, lines, command, exit code, output."""

    index: int | None
    total: int | None
    instruction: str | None
    line: int | None
    end_line: int | None
    stage: str | None
    command: str | None
    exit_code: int | None
    message: str
    output_tail: tuple[str, ...]
    # The failing instruction and its stage as parsed, when mapped (not serialised): what
    # the diagnosis, the debug layer and write-back read, so none has to look them up again.
    instruction_model: Instruction | None = field(
        default=None, compare=False, repr=False, metadata=_MODEL
    )
    stage_model: Stage | None = field(default=None, compare=False, repr=False, metadata=_MODEL)
    # How many output lines the step printed (output_tail: their last); None when unknown.
    # Last: FailedStep is also built positionally.
    output_lines: int | None = field(default=None, compare=False, metadata={"omit_none": True})


@dataclass(frozen=True)
class ExecResult:
    """A command the session or a batch ran in the last good layer, and how it ended."""

    command: str
    exit_code: int
    output: str  # its last characters (debug.layer.OUTPUT_TAIL)
    # Characters cut from the front of `output` (None: nothing was cut, and JSON omits it).
    output_cut: int | None = field(default=None, metadata={"omit_none": True})


@dataclass(frozen=True)
class Diagnosis:
    """Why the build failed, for people: one of diagnosis.CLASSES, one sentence, concrete next
    steps, and the output lines and facts it rests on (docs/failure-classes.md)."""

    class_: str = field(metadata={"json_name": "class"})
    summary: str
    hints: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class BuilderChoice:
    """Why the report's builder ran the build: who chose it (`auto`, `--backend`,
    `DOCKER_BUILDKIT`, or `log`: the saved log's own), the reason, and the Dockerfile line
    that decided it (backends/choice.py)."""

    by: str
    reason: str
    line: int | None


@dataclass(frozen=True)
class Report:
    """What dbugbuild reports of a build (text, JSON, gcc): how it ended, where, and why."""

    status: Status
    dockerfile: str  # the path as the user gave it (or the default)
    image: str | None
    tags: tuple[str, ...]
    failed_step: FailedStep | None
    last_good_image: str | None
    failed_container: str | None
    steps: tuple[StepReport, ...]
    exit_code: int  # what dbugbuild exits with for this build: 0, the RUN's code, or 1
    notes: tuple[str, ...] = ()
    # Why it failed (diagnosis.py); None exactly when the build succeeded.
    diagnosis: Diagnosis | None = None
    # The Compose service this build is (`dbugbuild compose`); absent for a plain build.
    service: str | None = field(default=None, metadata={"omit_none": True})
    # Present only when --exec / --retry ran commands in the debug environment.
    exec: tuple[ExecResult, ...] | None = field(default=None, metadata={"omit_none": True})
    retry: ExecResult | None = field(default=None, metadata={"omit_none": True})
    # Not serialised: where an editor finds the Dockerfile (relative to the cwd), and the
    # failing instruction's source lines for the text rendering.
    location: str = field(default="", metadata={"json": False})
    source_lines: tuple[str, ...] = field(default=(), metadata={"json": False})
    builder: str = field(default=BUILDER, metadata={"json": False})  # the backend's name
    # Serialised after "builder" (render.to_dict); None where no choice was made (tests).
    builder_choice: BuilderChoice | None = field(default=None, metadata={"json": False})

    def with_commands(
        self,
        exec: tuple[ExecResult, ...] | None,
        retry: ExecResult | None,
        notes: tuple[str, ...],
    ) -> Report:
        """The report of a run that also ran commands in the failed step's environment
        (--exec, --retry, --apply): this one, their results and notes added."""
        return replace(self, exec=exec, retry=retry, notes=(*self.notes, *notes))

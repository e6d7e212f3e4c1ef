"""PURE: the build report as data: what failed, where, why, and what ran in its layer.

Rendered in one place (render.py); the JSON shape is documented in docs/report.md and
report.schema.json: fields are added, never renamed. No I/O, no clock, no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SCHEMA_VERSION = 1
BUILDER = "classic"

Status = Literal["failed", "succeeded"]


@dataclass(frozen=True)
class StepReport:
    index: int
    instruction: str
    line: int | None
    end_line: int | None
    stage: str | None
    image: str | None
    cached: bool


@dataclass(frozen=True)
class FailedStep:
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


@dataclass(frozen=True)
class ExecResult:
    command: str
    exit_code: int
    output: str


@dataclass(frozen=True)
class Diagnosis:
    """Why the build failed, for people: one of diagnosis.CLASSES, one sentence, concrete next
    steps, and the output lines and facts it rests on (docs/failure-classes.md)."""

    class_: str = field(metadata={"json_name": "class"})
    summary: str
    hints: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Report:
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
    # Present only when --exec / --retry ran commands in the debug environment.
    exec: tuple[ExecResult, ...] | None = field(default=None, metadata={"omit_none": True})
    retry: ExecResult | None = field(default=None, metadata={"omit_none": True})
    # Not serialised: where an editor finds the Dockerfile (relative to the cwd), and the
    # failing instruction's source lines for the text rendering.
    location: str = field(default="", metadata={"json": False})
    source_lines: tuple[str, ...] = field(default=(), metadata={"json": False})

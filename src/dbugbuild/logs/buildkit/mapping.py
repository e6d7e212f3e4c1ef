"""PURE: a BuildKitLog as the common logs.BuildLog, and the streaming parser that gives it.

What locate, the report and the diagnosis read of a BuildKit build: its Dockerfile steps
(i/n per stage, the stage by its place `stage-N` or its name), the failing one (which need
not be the last: stages run in parallel), and the failure with BuildKit's own
`Dockerfile:LINE` excerpt. Never does I/O, never prints, never reads the environment or
the clock.
"""

from __future__ import annotations

import re

from dbugbuild.logs.buildkit.lines import PARSE_ERROR_LINE
from dbugbuild.logs.buildkit.model import BuildKitLog
from dbugbuild.logs.buildkit.model import Failure as BuildKitFailure
from dbugbuild.logs.buildkit.model import Step as BuildKitStep
from dbugbuild.logs.buildkit.parser import BuildKitLogParser
from dbugbuild.logs.model import BuildLog, Failure, Step

FAMILY = "buildkit"

_SHA256 = re.compile(r"sha256:([0-9a-f]{12})[0-9a-f]{52}")
_FROM = re.compile(r"(?i)FROM(?:\s|$)")
_STAGE_N = re.compile(r"stage-(\d+)")


def _step(step: BuildKitStep) -> Step:
    return Step(
        index=step.index,
        total=step.total,
        text=step.text,
        instruction=step.instruction,
        image=None,  # BuildKit keeps no image per step
        cached=step.state == "cached",
        container=None,  # nor the failed step's container
        triggers=0,
        output_tail=tuple(line for line in step.output_tail if line.strip()),
        stage=_position(step),
        stage_name=step.named_stage,
        vertex=step.vertex,
        onbuild=step.onbuild,
        platform=step.platform,
        output_lines=step.output_lines,
    )


def _position(step: BuildKitStep) -> int | None:
    """The 1-based place of an unnamed stage, which BuildKit prints as `stage-N` (N from 0)."""
    unnamed = _STAGE_N.fullmatch(step.stage or "")
    return int(unnamed.group(1)) + 1 if unnamed else None


def _short(image: str | None) -> str | None:
    """An image id or digest as the report gives ids: 12 hex digits, no `sha256:`."""
    if image is None:
        return None
    found = _SHA256.fullmatch(image)
    return found.group(1) if found else image


def _in_trigger(failure: BuildKitFailure, step: BuildKitStep | None) -> bool:
    """A failing step that is a trigger of the base image's ONBUILD: BuildKit says so
    (`ONBUILD RUN ...`, newer versions), or its excerpt marks a FROM line for a step that
    is no FROM (0.13 prints the trigger as a plain `RUN` and points at the stage's FROM)."""
    if step is None:
        return False
    if step.onbuild:
        return True
    marked = [line for line in failure.excerpt if line.marked]
    return (
        step.instruction != "FROM"
        and bool(marked)
        and _FROM.match(marked[0].text.lstrip()) is not None
    )


def _failure(failure: BuildKitFailure, step: BuildKitStep | None) -> Failure:
    message = failure.message or failure.vertex_error or failure.vertex_name or "the build failed"
    parse_error = None
    for text in (failure.message, failure.vertex_error):
        found = PARSE_ERROR_LINE.search(text or "")
        if found:
            parse_error = int(found.group(1))
            break
    return Failure(
        message=message,
        exit_code=failure.exit_code,
        command=failure.command,
        parse_error_line=parse_error,
        in_trigger=_in_trigger(failure, step),
        step_error=failure.vertex_error,
        line=failure.line,
        span=failure.span,
        dockerfile=failure.dockerfile,
        excerpt=failure.excerpt,
    )


def to_build_log(log: BuildKitLog) -> BuildLog:
    """The common model of a BuildKit build: steps in the order their vertices first
    appeared (the failing one added when only the error block names it)."""
    steps = list(log.steps)
    failed = log.failed_step
    failed_at: int | None = None
    if failed is not None:
        if failed not in steps:
            steps.append(failed)
        failed_at = steps.index(failed)
    return BuildLog(
        steps=tuple(_step(s) for s in steps),
        failure=_failure(log.failure, failed) if log.failure is not None else None,
        image=_short(log.image) if log.failure is None else None,
        tags=log.names if log.failure is None else (),
        family=FAMILY,
        failed_at=failed_at,
        complete=log.succeeded,
        warnings=log.warnings,
    )


class BuildKitParser:
    """logs.LogParser of BuildKit's plain progress: feed() text, close() -> BuildLog."""

    def __init__(self, tail: int = 20) -> None:
        self._parser = BuildKitLogParser(tail=tail)

    def feed(self, chunk: str) -> None:
        self._parser.feed(chunk)

    def close(self) -> BuildLog:
        return to_build_log(self._parser.close())

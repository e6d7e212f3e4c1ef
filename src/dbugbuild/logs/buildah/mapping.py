"""PURE: a BuildahLog onto the common logs.model, so locate, the report, the diagnosis and the
debug phase read a Podman build as they read a classic one.

What differs is kept, not hidden: steps are numbered per stage (`[s/S] STEP i/n`, FROM = 1), so
each Step says its stage; the failing step is the one the error quotes (`failed_at`); ids stay
as Buildah printed them (11 hex digits in Podman 4.3); and a failure that is no command's says
podman's own exit status, 125. Never does I/O, never prints, never reads the environment.
"""

from __future__ import annotations

from dbugbuild.logs import model
from dbugbuild.logs.buildah.model import BuildahLog, Failure, Step
from dbugbuild.logs.buildah.parser import BuildahLogParser

# podman's exit status for every build failure that is not a RUN's own (cmd/podman/build.go
# exits with the RUN's status only for an ExitError of the runtime; anything else is 125).
PODMAN_ERROR_STATUS = 125
FAMILY = "buildah"
_HEX = frozenset("0123456789abcdef")


def to_build_log(log: BuildahLog) -> model.BuildLog:
    """The common model of a Buildah build."""
    printed = next((len(s.image) for s in log.steps if s.image is not None), 12)
    ids = [s.image for s in log.steps if s.image is not None]
    steps = tuple(_step(step, printed, ids) for step in log.steps)
    failed = log.failed_step
    failed_at = next((i for i, s in enumerate(log.steps) if s is failed), None)
    image = log.image
    if image is not None and len(image) == 64:
        image = _short(image, printed, ids)
    return model.BuildLog(
        steps=steps,
        failure=_failure(log.failure) if log.failure is not None else None,
        image=image,
        tags=log.tags,
        family=FAMILY,
        failed_at=failed_at,
    )


def _step(step: Step, printed: int, ids: list[str]) -> model.Step:
    per_stage = step.total is not None  # `STEP i/n`; Buildah 1.x's `STEP i:` counts the build
    image = step.image
    if image is None and step.instruction == "FROM":
        # A stage built on an earlier stage is echoed `FROM <64-hex id> AS name`: that id is
        # the stage's base, the last good layer of a failure right after the FROM.
        ref = step.text.split()[1:2]
        if ref and len(ref[0]) == 64 and set(ref[0]) <= _HEX:
            image = _short(ref[0], printed, ids)
    return model.Step(
        index=step.index,
        total=step.total,
        text=step.text,
        instruction=step.instruction,
        image=image,
        cached=step.cached,
        container=None,  # Podman removes the failed build container (docs/podman-notes.md)
        triggers=0,
        output_tail=step.output_tail,
        output_lines=step.output_lines,
        stage=(step.stage or 1) if per_stage else step.stage,
        stages=(step.stages or 1) if per_stage else step.stages,
    )


def _short(full: str, printed: int, ids: list[str]) -> str:
    """A 64-hex id as this log prints its ids: the printed one it starts with, else cut."""
    return next((i for i in ids if full.startswith(i)), full[:printed])


def _failure(failure: Failure) -> model.Failure:
    run = failure.kind == "run"
    return model.Failure(
        message=failure.message,
        exit_code=failure.exit_code if run else None,
        command=failure.step_text,
        parse_error_line=None,
        in_trigger=False,
        status=None if run else PODMAN_ERROR_STATUS,
    )


class BuildahParser:
    """logs.LogParser of the "buildah" family: Buildah's streaming parser, closed onto BuildLog."""

    def __init__(self, tail: int = 20) -> None:
        self._parser = BuildahLogParser(tail=tail)

    def feed(self, chunk: str) -> None:
        self._parser.feed(chunk)

    def close(self) -> model.BuildLog:
        return to_build_log(self._parser.close())

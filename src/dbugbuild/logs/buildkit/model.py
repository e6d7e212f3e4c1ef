"""PURE: what BuildKit's plain progress says, as data: steps, other vertices, the failure.

The result of logs.buildkit's parser, before it is mapped to the common logs.BuildLog
(mapping.py). Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dbugbuild.logs.model import ExcerptLine, LogFormatError

VertexState = Literal["running", "done", "cached", "error", "canceled"]


class BuildKitLogError(LogFormatError):
    """The input holds no recognisable BuildKit plain progress output."""


class TtyProgressError(BuildKitLogError):
    """The input is BuildKit's tty progress (redrawn screens), which cannot be read reliably."""


@dataclass(frozen=True)
class Step:
    """A vertex that is a Dockerfile instruction: `#N [stage i/n] INSTR ...`."""

    vertex: int | None  # N of `#N`; None when only the error block names the step
    name: str  # the vertex name as printed, e.g. '[stage-0 2/3] RUN echo hi'
    stage: str | None  # as printed: a stage name, `stage-0`, or None (one-stage Dockerfile)
    platform: str | None  # `linux/arm64` in multi-platform builds, else None
    index: int  # i of `i/n`: BuildKit counts per stage
    total: int  # n of `i/n`
    instruction: str  # upper-case keyword, e.g. 'RUN'
    text: str  # the instruction as echoed, e.g. 'RUN <<EOT (set -e...)'
    onbuild: bool  # `ONBUILD ` before the instruction (a trigger, newer BuildKit)
    state: VertexState
    error: str | None  # the text of `#N ERROR: ...`
    output_tail: tuple[str, ...]  # the last output lines, without `#N 1.234 `
    output_lines: int  # how many output lines the vertex printed
    clipped: bool  # BuildKit said `[output clipped, log limit ... reached]`

    @property
    def named_stage(self) -> str | None:
        """The stage's name, or None for an unnamed stage (BuildKit shows it as `stage-N`)."""
        if self.stage is None or re.fullmatch(r"stage-\d+", self.stage):
            return None
        return self.stage


@dataclass(frozen=True)
class Vertex:
    """A vertex that is not a Dockerfile step: `[internal] load ...`, `exporting to image`..."""

    vertex: int
    name: str
    state: VertexState
    error: str | None
    output_tail: tuple[str, ...]
    output_lines: int


@dataclass(frozen=True)
class Failure:
    """How the build failed, from the failing vertex, the error block, excerpt and last line."""

    message: (
        str | None
    )  # the final `ERROR: ...` line without `ERROR: `, e.g. 'failed to solve: ...'
    vertex: int | None  # N of the vertex that printed `#N ERROR:`
    vertex_name: str | None  # that vertex's name, or the error block's ` > name:`
    vertex_error: str | None  # the text of `#N ERROR: ...`
    exit_code: int | None  # from `exit code: N` (0.9+ and 0.8 wordings)
    command: str | None  # the process, unquoted: '/bin/sh -c apt-get install ...'
    dockerfile: str | None  # the file named in the excerpt's `Dockerfile:LINE`
    line: int | None  # LINE of `Dockerfile:LINE` (or of `dockerfile parse error on line N`)
    span: tuple[int, int] | None  # first and last line marked `>>>`
    excerpt: tuple[ExcerptLine, ...]
    block: tuple[str, ...]  # the error block's lines, without their `#N 1.234 ` prefixes


@dataclass(frozen=True)
class BuildKitLog:
    """What a BuildKit build did: its steps, its other vertices, and how it ended."""

    steps: tuple[Step, ...]  # in the order their vertices first appeared
    vertices: tuple[Vertex, ...]  # the others, in the same order
    failure: Failure | None
    image: str | None  # `writing image sha256:...`, else the exported manifest (list)
    names: tuple[str, ...]  # `naming to ...`
    warnings: tuple[str, ...]  # `WARNING: ...` lines, `#N WARN: ...` and build-check items
    builder: str | None  # from `#0 building with "NAME" instance using DRIVER driver`
    driver: str | None
    builds: int  # how many builds the log held; this result describes the last

    @property
    def succeeded(self) -> bool:
        """No failure, and the build got to its end (an image, a name, or every step ended)."""
        if self.failure is not None:
            return False
        if self.image is not None or self.names:
            return True
        return bool(self.steps) and all(step.state != "running" for step in self.steps)

    @property
    def failed_step(self) -> Step | None:
        """The Dockerfile step that failed, also when only the error block names it."""
        if self.failure is None:
            return None
        for step in self.steps:
            if self.failure.vertex is not None and step.vertex == self.failure.vertex:
                return step
        if self.failure.vertex_name is not None:
            named = [step for step in self.steps if step.name == self.failure.vertex_name]
            if named:
                return named[-1]
            return step_from_name(
                None, self.failure.vertex_name, "error", self.failure.vertex_error
            )
        return None


# Steps: `[stage-0 2/3] RUN ...`, `[ 1/10] FROM ...`, `[linux/arm64 builder 3/5] ONBUILD RUN`.
_BRACKET = re.compile(r"\[([^\]]*)\] (.*)")
_INDEX = re.compile(r"(\d+)/(\d+)")


def step_from_name(
    number: int | None, name: str, state: VertexState, error: str | None
) -> Step | None:
    """A Step for a vertex name of the shape dockerfile2llb gives instructions, else None."""
    bracket = _BRACKET.fullmatch(name)
    if bracket is None:
        return None
    tokens = bracket.group(1).split()
    if not tokens:
        return None
    index = _INDEX.fullmatch(tokens[-1])
    if index is None:
        return None
    rest = tokens[:-1]
    platform = rest.pop(0) if rest and "/" in rest[0] else None
    stage = " ".join(rest) or None
    text = bracket.group(2)
    onbuild = text.startswith("ONBUILD ")
    if onbuild:
        text = text[len("ONBUILD ") :]
    words = text.split(maxsplit=1)
    return Step(
        vertex=number,
        name=name,
        stage=stage,
        platform=platform,
        index=int(index.group(1)),
        total=int(index.group(2)),
        instruction=words[0].upper() if words else "",
        text=text,
        onbuild=onbuild,
        state=state,
        error=error,
        output_tail=(),
        output_lines=0,
        clipped=False,
    )

"""PURE: what a build did, as every log family maps it: its steps, its image, its failure.

The classic parser fills it; the BuildKit-plain parser (logs/buildkit/mapping.py) maps its
own output to the same model, so locate, the report and the diagnosis read one shape. The
fields BuildKit added (a step's stage as printed, its vertex, the failure's
`Dockerfile:LINE` excerpt...) have defaults that are what a classic log says.
Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass


class LogFormatError(ValueError):
    """The input holds no build output of the family asked for (garbage, empty, another's)."""


@dataclass(frozen=True)
class ExcerptLine:
    """One line of BuildKit's `Dockerfile:LINE` excerpt; `marked` is its `>>>` marker."""

    number: int
    text: str
    marked: bool


@dataclass(frozen=True)
class Step:
    """One step of the build (classic `Step N/M : ...`, BuildKit `#N [stage i/n] ...`), with
    what the builder said about it."""

    index: int  # 1-based, also for logs that count from `Step 0 :`; BuildKit: i of `i/n`
    total: int | None  # M of `Step N/M` (None in logs of Docker < 17.x); BuildKit: n of `i/n`
    text: str  # the instruction as echoed, e.g. 'RUN echo hello &&     ls /'
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last ` ---> <id>`; None when it printed none
    cached: bool  # ` ---> Using cache` seen
    container: str | None  # the step's last ` ---> Running in <id>`
    triggers: int  # N of `# Executing N build trigger(s)`, else 0
    output_tail: tuple[str, ...]  # last lines the step printed, without bookkeeping
    # What BuildKit says of a step (a classic log leaves these defaults). BuildKit counts
    # `i/n` per stage, so (stage, index) names a step, not index alone.
    stage: str | None = None  # the stage as printed: its name, `stage-N`, or None (one stage)
    stage_named: bool = False  # `stage` is the stage's own name, not BuildKit's `stage-N`
    vertex: int | None = None  # N of BuildKit's `#N`
    onbuild: bool = False  # an ONBUILD trigger of the base image (BuildKit's `ONBUILD RUN`)
    platform: str | None = None  # `linux/arm64` in a multi-platform build


@dataclass(frozen=True)
class Failure:
    """The builder's error, as the docker CLI prints it (without its prefixes)."""

    message: str  # BuildKit: the final `ERROR: ...` line, e.g. 'failed to solve: ...'
    exit_code: int | None  # the failing command's exit code, when the message says it
    command: str | None  # what the message quotes between '...' or [...] (or "...")
    parse_error_line: int | None  # N of `dockerfile parse error line N` (BuildKit: `on line N`)
    in_trigger: bool  # failed while running ONBUILD triggers inside a FROM step
    # BuildKit's own account of where it failed (a classic log has none of it):
    step_error: str | None = None  # the failing vertex's `#N ERROR: ...`
    line: int | None = None  # LINE of the `Dockerfile:LINE` excerpt
    span: tuple[int, int] | None = None  # the first and last excerpt lines marked `>>>`
    dockerfile: str | None = None  # the file the excerpt names (`Dockerfile`, `docker/app.df`)
    excerpt: tuple[ExcerptLine, ...] = ()  # the excerpt's lines, as printed


@dataclass(frozen=True)
class BuildLog:
    """What a build did: its steps, and how it ended."""

    steps: tuple[Step, ...]
    failure: Failure | None
    image: str | None  # `Successfully built <id>` (or the API's aux ID); BuildKit: short id
    tags: tuple[str, ...]  # `Successfully tagged <tag>`; BuildKit: `naming to <name>`
    family: str = "classic"  # the log family that read it (logs.FAMILIES)
    # Families whose failing step need not be the last one (BuildKit's stages run in
    # parallel) say which it is: its position in `steps`; None when it is no step.
    failed_at: int | None = None
    complete: bool = False  # the builder said every step ended, even without an image id
    warnings: tuple[str, ...] = ()  # the builder's warnings (BuildKit `WARNING:`, checks)

    @property
    def succeeded(self) -> bool:
        """True when the build printed its image id (or said it ended) and no error."""
        return self.failure is None and (self.image is not None or self.complete)

    @property
    def failed_step(self) -> Step | None:
        """The step during which the failure happened (None: no failure, or outside steps)."""
        if self.failure is None or not self.steps:
            return None
        if self.family != "classic":
            return self.steps[self.failed_at] if self.failed_at is not None else None
        if self.steps[-1].image is not None:
            return None
        return self.steps[-1]

    @property
    def last_good_image(self) -> str | None:
        """The image to debug from: the last id before the failing step, in its stage.

        None when the failing step is the stage's FROM (an ONBUILD trigger or a pull
        failed: the log holds no id for the parent), when the stage is FROM scratch,
        or when there is no failing step.
        """
        failed = self.failed_step
        if failed is None or failed.instruction == "FROM":
            return None
        for step in reversed(self.steps[:-1]):
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None

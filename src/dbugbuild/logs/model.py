"""PURE: what a build did, as every log family maps it: its steps, its image, its failure.

The classic parser fills it; the BuildKit-plain (logs/buildkit/mapping.py) and Buildah
(logs/buildah/mapping.py) parsers map their own output to the same model, so locate, the
report and the diagnosis read one shape. Fields a family needs beyond the classic ones (a
step's stage, BuildKit's vertex, the failure's `Dockerfile:LINE` excerpt, podman's exit
status...) have defaults that are what a classic log says.
Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """One step of the build (classic `Step N/M : ...`, BuildKit `#N [stage i/n] ...`,
    Buildah `[s/S] STEP i/n: ...`), with what the builder said about it."""

    index: int  # 1-based, also for logs that count from `Step 0 :`; per stage: i of `i/n`
    total: int | None  # M of `Step N/M` (None in logs of Docker < 17.x); per stage: n of `i/n`
    text: str  # the instruction as echoed, e.g. 'RUN echo hello &&     ls /'
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last ` ---> <id>`; None when it printed none
    cached: bool  # ` ---> Using cache` seen
    container: str | None  # the step's last ` ---> Running in <id>`
    triggers: int  # N of `# Executing N build trigger(s)`, else 0
    output_tail: tuple[str, ...]  # last lines the step printed, without bookkeeping
    # Where the step is, for builders that number steps per stage (BuildKit, Buildah: index
    # and total are then i/n of the stage), so the stage and the index together name a step.
    # `stage` is the stage's 1-based position in the Dockerfile when the log tells it
    # (Buildah's `[s/S]`, BuildKit's `stage-N` of an unnamed stage: N + 1); `stage_name` its
    # own name when the builder prints one (BuildKit's `[builder 2/5]`); both None: a classic
    # log (index counts the build), a one-stage BuildKit build or Buildah 1.x's `STEP i:`.
    stage: int | None = None
    stages: int | None = None  # how many stages the build runs, when the log says (Buildah)
    stage_name: str | None = None
    # What BuildKit says of a step (the other families leave these defaults).
    vertex: int | None = None  # N of BuildKit's `#N`
    onbuild: bool = False  # an ONBUILD trigger of the base image (BuildKit's `ONBUILD RUN`)
    platform: str | None = None  # `linux/arm64` in a multi-platform build
    # How many output lines the step printed (output_tail is their last ones); None when
    # the parser does not count them. Not compared: a count, not what the step said.
    output_lines: int | None = field(default=None, compare=False)

    @property
    def per_stage(self) -> bool:
        """Whether the log says the step's stage (its index then counts in that stage)."""
        return self.stage is not None or self.stage_name is not None


@dataclass(frozen=True)
class Failure:
    """The builder's error, as the docker CLI prints it (without its prefixes)."""

    message: str  # BuildKit: the final `ERROR: ...` line, e.g. 'failed to solve: ...'
    exit_code: int | None  # the failing command's exit code, when the message says it
    command: str | None  # what the message quotes between '...' or [...] (or "...")
    parse_error_line: int | None  # N of `dockerfile parse error line N` (BuildKit: `on line N`)
    in_trigger: bool  # failed while running ONBUILD triggers inside a FROM step
    # BuildKit's own account of where it failed (the other families have none of it):
    step_error: str | None = None  # the failing vertex's `#N ERROR: ...`
    line: int | None = None  # LINE of the `Dockerfile:LINE` excerpt
    span: tuple[int, int] | None = None  # the first and last excerpt lines marked `>>>`
    dockerfile: str | None = None  # the file the excerpt names (`Dockerfile`, `docker/app.df`)
    excerpt: tuple[ExcerptLine, ...] = ()  # the excerpt's lines, as printed
    # The build CLI's exit status for a failure that is no command's, when the family knows
    # it (podman exits 125 for a COPY, FROM or syntax failure); None: 1, as docker exits.
    status: int | None = None


@dataclass(frozen=True)
class BuildLog:
    """What a build did: its steps, and how it ended."""

    steps: tuple[Step, ...]
    failure: Failure | None
    image: str | None  # `Successfully built <id>` (or the API's aux ID); BuildKit: short id
    tags: tuple[str, ...]  # `Successfully tagged <tag>`; BuildKit: `naming to <name>`
    family: str = "classic"  # the log family that read it (logs.FAMILIES)
    # The position in `steps` of the step that failed, when the family tells it (BuildKit's
    # stages run in parallel, Buildah quotes the step in its error). A family other than
    # classic must set it: None then means the failure is no step's. Classic leaves it None:
    # the last step, if it made no image.
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
        if self.failed_at is not None:
            return self.steps[self.failed_at]
        if self.family != "classic" or self.steps[-1].image is not None:
            return None
        return self.steps[-1]

    @property
    def failed_position(self) -> int | None:
        """The failing step's position in `steps` (None: no failing step)."""
        if self.failed_step is None:
            return None
        return self.failed_at if self.failed_at is not None else len(self.steps) - 1

    @property
    def parent_unknown(self) -> bool:
        """Whether the failing step's parent image is one whose id the log never prints: an
        ONBUILD trigger's base, or a stage base Buildah printed no id for (its FROM)."""
        failed = self.failed_step
        if failed is None or self.failure is None:
            return False
        if self.failure.in_trigger:
            return True
        return (
            self.family == "buildah" and failed.instruction != "FROM" and not self.last_good_image
        )

    @property
    def last_good_image(self) -> str | None:
        """The image to debug from: the last id before the failing step, in its stage.

        None when the failing step is the stage's FROM (an ONBUILD trigger or a pull
        failed: the log holds no id for the parent), when the stage is FROM scratch,
        or when there is no failing step.
        """
        failed = self.failed_step
        at = self.failed_position
        if failed is None or at is None or failed.instruction == "FROM":
            return None
        for step in reversed(self.steps[:at]):
            if failed.per_stage and (step.stage, step.stage_name) != (
                failed.stage,
                failed.stage_name,
            ):
                continue  # stages built in parallel (BuildKit, `podman build --jobs`) interleave
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None

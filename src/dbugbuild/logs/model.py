"""PURE: what a build did, as every log family maps it: its steps, its image, its failure.

The classic parser fills it; the BuildKit-plain and Buildah parsers map their own output to
the same model, so locate, the report and the diagnosis read one shape. Fields a family
needs beyond the classic ones are added with defaults that mean "as classic": a builder
that numbers its steps per stage (Buildah's `[s/S] STEP i/n`) says which stage a step is in.
Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass


class LogFormatError(ValueError):
    """The input holds no recognisable build output of the family asked for (garbage, empty,
    another builder's)."""


@dataclass(frozen=True)
class Step:
    """One `Step N/M : ...` of the build, with what the builder said about it."""

    index: int  # 1-based, also for logs that count from `Step 0 :`
    total: int | None  # M of `Step N/M`; None in logs of Docker < 17.x
    text: str  # the instruction as echoed, e.g. 'RUN echo hello &&     ls /'
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last ` ---> <id>`; None when it printed none
    cached: bool  # ` ---> Using cache` seen
    container: str | None  # the step's last ` ---> Running in <id>`
    triggers: int  # N of `# Executing N build trigger(s)`, else 0
    output_tail: tuple[str, ...]  # last lines the step printed, without bookkeeping
    # Builders that number steps per stage (Buildah `[s/S] STEP i/n`; index/total are then i/n
    # of the stage, FROM being 1): the stage's 1-based position in the Dockerfile and how many
    # stages the build runs. None (classic, Buildah 1.x `STEP i:`): index counts the build.
    stage: int | None = None
    stages: int | None = None
    # The stage as the builder names it, when it prints a name (BuildKit's `[builder 2/5]`).
    stage_name: str | None = None


@dataclass(frozen=True)
class Failure:
    """The builder's error, as the docker CLI prints it (without its prefixes)."""

    message: str
    exit_code: int | None  # the failing command's exit code, when the message says it
    command: str | None  # what the message quotes between '...' or [...]
    parse_error_line: int | None  # N of `dockerfile parse error line N`
    in_trigger: bool  # failed while running ONBUILD triggers inside a FROM step
    # The build CLI's exit status for a failure that is no command's, when the family knows
    # it (podman exits 125 for a COPY, FROM or syntax failure); None: 1, as docker exits.
    status: int | None = None


@dataclass(frozen=True)
class BuildLog:
    """What a build did: its steps, and how it ended."""

    steps: tuple[Step, ...]
    failure: Failure | None
    image: str | None  # `Successfully built <id>` (or the API's aux ID)
    tags: tuple[str, ...]  # `Successfully tagged <tag>`
    # The position in `steps` of the step that failed, when the family tells it from the
    # error (Buildah quotes the step); None: the last step, if it made no image (classic).
    failed_at: int | None = None

    @property
    def succeeded(self) -> bool:
        """True when the build printed its image id and no error."""
        return self.failure is None and self.image is not None

    @property
    def failed_step(self) -> Step | None:
        """The step during which the failure happened (None: no failure, or outside steps)."""
        if self.failure is None or not self.steps:
            return None
        if self.failed_at is not None:
            return self.steps[self.failed_at]
        return None if self.steps[-1].image is not None else self.steps[-1]

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
        at = self.failed_at if self.failed_at is not None else len(self.steps) - 1
        for step in reversed(self.steps[:at]):
            if failed.stage is not None and step.stage != failed.stage:
                continue  # stages built in parallel (`podman build --jobs`) interleave
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None

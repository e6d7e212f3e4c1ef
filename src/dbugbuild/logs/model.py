"""PURE: what a build did, as every log family maps it: its steps, its image, its failure.

The classic parser fills it today; the BuildKit-plain and Buildah parsers map their own
output to the same model, so locate, the report and the diagnosis read one shape.
Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass


class LogFormatError(ValueError):
    """The input holds no recognisable classic build output (garbage, empty, BuildKit)."""


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


@dataclass(frozen=True)
class Failure:
    """The builder's error, as the docker CLI prints it (without its prefixes)."""

    message: str
    exit_code: int | None  # the failing command's exit code, when the message says it
    command: str | None  # what the message quotes between '...' or [...]
    parse_error_line: int | None  # N of `dockerfile parse error line N`
    in_trigger: bool  # failed while running ONBUILD triggers inside a FROM step


@dataclass(frozen=True)
class BuildLog:
    """What a classic build did: its steps, and how it ended."""

    steps: tuple[Step, ...]
    failure: Failure | None
    image: str | None  # `Successfully built <id>` (or the API's aux ID)
    tags: tuple[str, ...]  # `Successfully tagged <tag>`

    @property
    def succeeded(self) -> bool:
        """True when the build printed its image id and no error."""
        return self.failure is None and self.image is not None

    @property
    def failed_step(self) -> Step | None:
        """The step during which the failure happened (None: no failure, or outside steps)."""
        if self.failure is None or not self.steps or self.steps[-1].image is not None:
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

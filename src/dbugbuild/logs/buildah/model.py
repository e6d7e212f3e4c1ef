"""PURE: what a Buildah build did, as Buildah prints it: its steps (numbered per stage), its
commits, and how it ended. logs.buildah.mapping maps it onto the common logs.model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dbugbuild.logs.model import LogFormatError


class BuildahLogError(LogFormatError):
    """The input holds no recognisable Buildah (`podman build`, `buildah bud`) output."""


@dataclass(frozen=True)
class Step:
    """One `STEP ...:` line of the build and what Buildah said about it."""

    stage: int | None  # s of the `[s/S] ` prefix; None when the log prints none
    stages: int | None  # S of the prefix
    index: int  # i of `STEP i/n:` (counts per stage) or of `STEP i:` (counts the whole build)
    total: int | None  # n of `STEP i/n:`; None in the `STEP i:` format
    text: str  # the instruction as echoed (Buildah echoes the Containerfile's own text)
    instruction: str  # upper-case keyword, e.g. 'RUN'
    image: str | None  # the step's last `--> <id>` (as printed: 11, 12 or 64 hex digits)
    cached: bool  # `--> Using cache <id>` seen for this step
    output_tail: tuple[str, ...]  # last lines the step printed, without Buildah's bookkeeping
    # How many output lines it printed, blank ones too (not compared: a count, not content).
    output_lines: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Commit:
    """A `COMMIT [name]` line: Buildah writes the final image of the build (or of a stage)."""

    stage: int | None
    stages: int | None
    name: str | None  # the -t name as given, None for a bare `COMMIT`


@dataclass(frozen=True)
class Failure:
    """The error that ended the build, as Podman or Buildah printed it."""

    message: str  # the error line without `Error: ` or a logrus prefix
    exit_code: int | None  # N of a final `exit status N`: the failing command's (or runtime's)
    step_text: str | None  # what `building at STEP "..."` (or `Message:` of `{...}`) quotes
    kind: str  # 'run' | 'copy-source' | 'base-image' | 'syntax' | 'other'
    subject: str | None  # the missing COPY source, or the base image that could not be had


@dataclass(frozen=True)
class BuildahLog:
    """What a Buildah build did: its steps, commits, and how it ended."""

    steps: tuple[Step, ...]
    commits: tuple[Commit, ...]
    failure: Failure | None
    image: str | None  # the final id line (64 hex), else the `--> <id>` after the last COMMIT
    tags: tuple[str, ...]  # `Successfully tagged <name>`

    @property
    def succeeded(self) -> bool:
        """True when the build printed its final image and no error."""
        return self.failure is None and self.image is not None

    @property
    def failed_step(self) -> Step | None:
        """The step during which the build failed (None: no failure, or outside any step)."""
        if self.failure is None or not self.steps:
            return None
        if self.failure.step_text is not None:
            quoted = " ".join(self.failure.step_text.split())
            for step in reversed(self.steps):
                if step.image is None and " ".join(step.text.split()) == quoted:
                    return step
        last = self.steps[-1]
        return last if last.image is None else None

    @property
    def failed_stage_from(self) -> Step | None:
        """The FROM step of the failing step's stage (its base: the log prints no id for it)."""
        failed = self.failed_step
        if failed is None:
            return None
        for step in self._stage_before(failed, include=True):
            if step.instruction == "FROM":
                return step
        return None

    @property
    def last_good_image(self) -> str | None:
        """The image to debug from: the last `--> <id>` before the failing step, in its stage.

        None when the failing step is the stage's FROM (the base could not be had), or when it
        directly follows the FROM (the base itself is the last good layer: see
        `failed_stage_from`), or when there is no failing step.
        """
        failed = self.failed_step
        if failed is None or failed.instruction == "FROM":
            return None
        for step in self._stage_before(failed, include=False):
            if step.image is not None:
                return step.image
            if step.instruction == "FROM":
                return None
        return None

    def _stage_before(self, failed: Step, *, include: bool) -> Iterator[Step]:
        """The steps of `failed`'s stage before it, newest first (interleaved stages skipped)."""
        position = max(i for i, step in enumerate(self.steps) if step is failed)
        start = position if include else position - 1
        for step in reversed(self.steps[: start + 1]):
            if failed.stage is not None and step.stage != failed.stage:
                continue  # `--jobs` builds stages in parallel; their lines interleave
            yield step
            if step.instruction == "FROM":
                return

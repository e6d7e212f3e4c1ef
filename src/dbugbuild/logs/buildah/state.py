"""PURE: the Buildah parser's state while it reads: the steps so far, the failure, the commit.

Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbugbuild.logs.buildah.model import Commit, Failure, Step
from dbugbuild.logs.reading import StepBuilder


@dataclass(kw_only=True)
class StepState(StepBuilder):
    """A Buildah step as read so far, with its stage's place among the stages."""

    stage: int | None
    stages: int | None

    def freeze(self) -> Step:
        return Step(**self.fields(), stage=self.stage, stages=self.stages)


@dataclass
class BuildState:
    """A Buildah build as read so far."""

    steps: list[StepState] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    failure: Failure | None = None
    strong: bool = False
    weak_line: str = ""  # a weak failure's line: step output after all if output follows
    committed: bool = False  # a COMMIT was seen: what follows is commit progress
    commit_image: str | None = None
    final: str | None = None
    tags: list[str] = field(default_factory=list)
    open_struct: list[str] | None = None  # an error's `{...}` still open: its lines so far

    @property
    def finished(self) -> bool:
        return self.strong or self.final is not None


def last_step_done(step: StepState | None) -> bool:
    """The build's last step (`STEP n/n` of the last stage) has printed its image id."""
    return (
        step is not None
        and step.image is not None
        and step.total is not None
        and step.index == step.total
        and step.stage == step.stages
    )

"""PURE: the Buildah parser's state while it reads: the steps so far, the failure, the commit.

Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from dbugbuild.logs.buildah.model import Commit, Failure, Step


@dataclass
class StepState:
    stage: int | None
    stages: int | None
    index: int
    total: int | None
    text: str
    instruction: str
    tail: deque[str]
    image: str | None = None
    cached: bool = False
    lines: int = 0  # program output lines seen, blank ones too (the tail keeps the last)

    def freeze(self) -> Step:
        return Step(
            stage=self.stage,
            stages=self.stages,
            index=self.index,
            total=self.total,
            text=self.text,
            instruction=self.instruction,
            image=self.image,
            cached=self.cached,
            output_tail=tuple(self.tail),
            output_lines=self.lines,
        )


@dataclass
class BuildState:
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

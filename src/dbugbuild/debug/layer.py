"""PURE: what a debug session needs of its layer (the Layer protocol), and what it gets back.

debug.workspace.Workspace implements Layer on the daemon; tests implement it in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dbugbuild.debug.stepenv import StepEnv


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str
    seconds: float
    interrupted: bool = False
    timed_out: bool = False  # killed when its timeout expired (run(timeout=...))


@dataclass(frozen=True)
class Change:
    kind: str  # "A" added, "C" changed, "D" deleted (docker diff's letters)
    path: str


class Layer(Protocol):
    """A debug layer: commands run in it as RUN lines would, its files carried between them."""

    env: StepEnv

    def run(
        self, argv: Sequence[str], sink: Callable[[str], None] | None = None
    ) -> CommandResult: ...
    def reset(self) -> None: ...
    def changes(self) -> list[Change]: ...
    def interactive(
        self, argv: Sequence[str], pretype: str = "", image: str | None = None
    ) -> int: ...
    def snapshot(self, container_id: str) -> str: ...
    def container_changes(self, container_id: str) -> list[Change]: ...

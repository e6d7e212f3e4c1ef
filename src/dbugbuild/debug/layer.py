"""PURE: what a debug session needs of its layer (the Layer protocol), and what it gets back.

debug.workspace.Workspace implements Layer on the daemon; tests implement it in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dbugbuild.debug.stepenv import StepEnv

# What a command's result keeps of its output: its last characters. The output itself is
# streamed to the terminal (or stderr) as it comes; a report keeps this tail and says it cut.
OUTPUT_TAIL = 1 << 20


@dataclass(frozen=True)
class CommandResult:
    """How a command run in a debug layer ended: its exit code, output's tail and time."""

    exit_code: int
    output: str  # its last OUTPUT_TAIL characters
    seconds: float
    interrupted: bool = False
    timed_out: bool = False  # killed when its timeout expired (run(timeout=...))
    cut: int = 0  # characters of output cut from the front (0: `output` is all of it)


class OutputTail:
    """The last `limit` characters of a stream of text, in memory bounded by `limit` however
    much is added, and in pieces of any size (a container log's frames are often one line)."""

    def __init__(self, limit: int = OUTPUT_TAIL) -> None:
        self.limit = limit
        self._pieces: list[str] = []
        self._held = 0  # characters in _pieces
        self.total = 0  # characters added

    def add(self, text: str) -> None:
        self._pieces.append(text)
        self._held += len(text)
        self.total += len(text)
        if self._held > 2 * self.limit or len(self._pieces) > 4096:
            kept = "".join(self._pieces)[-self.limit :]
            self._pieces, self._held = [kept], len(kept)

    @property
    def text(self) -> str:
        return "".join(self._pieces)[-self.limit :] if self._pieces else ""

    @property
    def cut(self) -> int:
        """How many characters were dropped from the front."""
        return max(0, self.total - self.limit)


@dataclass(frozen=True)
class Change:
    """One path a command changed in the layer, as `docker diff` reports it."""

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

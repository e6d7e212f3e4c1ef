"""PURE: the Dockerfile model: instructions with their line spans, stages, classic steps.

What dockerfile.parse produces and every other stage reads (locate, diagnosis, the step
environment, write-back). Must not do I/O, print, or read the environment or the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The instructions the classic builder knows (buildkit `frontend/dockerfile/command`).
KEYWORDS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)


class DockerfileSyntaxError(ValueError):
    """A Dockerfile the classic builder would refuse before running any step."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        # The daemon's own wording: "dockerfile parse error line 3: unknown instruction: FOO".
        if self.line is None:
            return self.message
        return f"dockerfile parse error line {self.line}: {self.message}"


@dataclass(frozen=True)
class Instruction:
    """One instruction: its logical line as the builder sees it, and where it sits in the file."""

    keyword: str
    args: str
    flags: tuple[str, ...]
    line: int
    end_line: int
    stage: int | None
    original: str
    json_args: tuple[str, ...] | None
    code: str  # the logical line, trimmed: what the classic builder echoes after "Step N/M : "

    @property
    def is_exec_form(self) -> bool:
        """True when the arguments are a JSON array (exec form)."""
        return self.json_args is not None

    @property
    def text(self) -> str:
        """The step text the classic builder prints: the source, keyword case and spacing kept."""
        return self.code


@dataclass(frozen=True)
class Stage:
    """A build stage: a FROM and the instructions up to the next FROM."""

    index: int
    name: str | None
    base: str
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile."""

    escape: str
    meta_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    instructions: tuple[Instruction, ...]

    def stage(self, ref: str | int) -> Stage:
        """The stage named `ref` (case-insensitive) or at index `ref`; KeyError if absent."""
        if isinstance(ref, int):
            if 0 <= ref < len(self.stages):
                return self.stages[ref]
            raise KeyError(ref)
        wanted = ref.lower()
        for stage in self.stages:
            if stage.name == wanted:
                return stage
        raise KeyError(ref)

    def instruction_at(self, line: int) -> Instruction | None:
        """The instruction whose span line..end_line holds `line`, or None."""
        for instruction in self.instructions:
            if instruction.line <= line <= instruction.end_line:
                return instruction
        return None


@dataclass(frozen=True)
class StepRef:
    """One "Step N/M" of a classic build and what it runs."""

    index: int
    instruction: Instruction | None
    stage: Stage | None
    synthetic: bool
    text: str  # what the builder prints after "Step N/M : "


def parse_exec_form(text: str) -> tuple[str, ...] | None:
    """A JSON array of strings (RUN's exec form), or None for anything else.

    The rule for text typed in a session or written back (strict JSON); the parser's own
    reading of a Dockerfile line follows the builder's (parse._parse_json_array).
    """
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None

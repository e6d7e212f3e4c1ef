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
class Heredoc:
    """One heredoc of a RUN, COPY or ADD (`<<EOT` ... `EOT`), as the reference parser reads it."""

    name: str  # the terminator word, its quotes removed
    # The content as BuildKit hands it to the step: the body's lines joined with "\n", each
    # ending "\n" (a CRLF file's "\r" stays in its line, as BuildKit keeps it), leading tabs
    # stripped for `<<-`.
    body: str
    expand: bool  # the name was not quoted: variables in the body are expanded
    chomp: bool  # `<<-`
    line: int  # the first body line, 1-based (the terminator's line when the body is empty)
    end_line: int  # the terminator's line


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
    # Heredocs the line opens, in order; `end_line` is then the last terminator's line and
    # `original` runs through it.
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def is_exec_form(self) -> bool:
        """True when the arguments are a JSON array (exec form)."""
        return self.json_args is not None

    @property
    def command(self) -> str:
        """The arguments as the builder reads them: an exec form's JSON array alone (text after
        it is ignored, as Go's JSON decoder stops after the first value), else `args`."""
        if self.json_args is not None:
            start = self.args.find("[")
            decoded = leading_json_array(self.args[start:])
            if decoded is not None:
                return self.args[: start + decoded[1]]
        return self.args

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


def _finite_float(text: str) -> float:
    # Go decodes JSON numbers into float64: one out of its range is an error there, so the
    # line is shell form (recorded: parser-engine26/json_large_number, `RUN [1e999]`).
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _finite_int(text: str) -> float:
    return _finite_float(text)


def _no_constant(name: str) -> object:
    raise ValueError(name)  # Go's encoding/json knows no NaN or Infinity


_GO_JSON = json.JSONDecoder(
    parse_float=_finite_float, parse_int=_finite_int, parse_constant=_no_constant
)


def leading_json_array(text: str) -> tuple[list[object], int] | None:
    """The JSON array `text` starts with and the offset just past it, or None.

    As the builder's `json.NewDecoder(...).Decode(&[]interface{})`: the first value is read and
    whatever follows it is ignored (`RUN ["sh","-c","exit 3"] # note` runs `sh -c "exit 3"` on
    both of Engine 26's builders: parser-engine26/json_then_text).
    """
    if not text.startswith("["):
        return None
    try:
        value, end = _GO_JSON.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    return (value, end) if isinstance(value, list) else None


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

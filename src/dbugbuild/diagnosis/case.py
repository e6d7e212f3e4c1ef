"""PURE: a failed step read once for the rules, what a rule finds, and the wording they share."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from dbugbuild.diagnosis.facts import Facts, LayerFacts, Questions
from dbugbuild.dockerfile import Instruction
from dbugbuild.report import FailedStep

# The builder's "The command '...' returned a non-zero code" (BuildKit: `process "..." did not
# complete successfully: exit code: N`, before 0.9 `executor failed running [...]`; Buildah:
# `building at STEP "RUN ...": while running runtime: exit status N`) quotes the command, whose
# words must not pass for output; other messages (COPY, FROM, the runtime) are evidence.
_RUN_MESSAGE = re.compile(
    r"^(?:The command .* returned a non-zero code: \d+"
    r"|(?:failed to (?:build|solve)(?: with frontend \S+)?: )*(?:rpc error: .*desc = )?"
    r"(?:process \".*\" did not complete successfully|executor failed running \[.*\])"
    r": exit code: -?\d+"
    r'|(?:error )?building at STEP "RUN .*": (?:error )?while running runtime: exit status \d+)$',
    re.DOTALL,
)


LINE_END = 4096  # the characters of an output line the rules read: its last ones


@dataclass(frozen=True)
class Case:
    """The failed step as the rules read it: its output lines, then the builder's message."""

    step: FailedStep
    facts: Facts
    lines: tuple[str, ...]  # output tail, then the builder's message

    @classmethod
    def of(cls, step: FailedStep, facts: Facts) -> Case:
        message = () if _RUN_MESSAGE.match(step.message) else (step.message,)
        # Each line's end: what a rule looks for ends a line, and an unanchored pattern
        # searched in a line of a megabyte (a progress bar without newlines) takes time
        # quadratic in its length (300 KB: 10 minutes).
        lines = (*step.output_tail, *message)
        return cls(step, facts, tuple(line[-LINE_END:] for line in lines))

    def with_layer(self, layer: LayerFacts | None) -> Case:
        return replace(self, facts=replace(self.facts, layer=layer))

    @property
    def layer(self) -> LayerFacts | None:
        return self.facts.layer

    @property
    def instruction(self) -> Instruction | None:
        """The failing instruction, as located (None when the steps are not mapped)."""
        return self.step.instruction_model

    @property
    def runs_command(self) -> bool:
        """A RUN (also one the runtime could not start), or an ONBUILD trigger's RUN (a FROM
        step that failed with an exit code)."""
        return self.step.exit_code is not None or self.step.instruction == "RUN"

    def last(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
        for line in reversed(self.lines):
            found = pattern.search(line)
            if found:
                return found, line
        return None

    def first(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
        for line in self.lines:
            found = pattern.search(line)
            if found:
                return found, line
        return None

    def stage_before(self) -> tuple[Instruction, ...]:
        """The instructions of the failing step's stage before it (none when unmapped)."""
        ins, stage = self.instruction, self.step.stage_model
        if ins is None or stage is None:
            return ()
        return tuple(i for i in stage.instructions if i.line < ins.line)

    def user_line(self) -> tuple[int, str] | None:
        """The last USER instruction before the failing line, in its stage: (line, user)."""
        found = None
        for other in self.stage_before():
            if other.keyword == "USER":
                found = (other.line, other.args.strip())
        return found


@dataclass(frozen=True)
class Found:
    """What a rule found: one sentence, concrete next steps, the lines and facts it rests on."""

    summary: str
    hints: tuple[str, ...]
    evidence: tuple[str, ...]


Rule = Callable[[Case], "Found | None"]
Asker = Callable[[Case], Questions]  # what a family would look up in the layer for a case


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def said(line: str) -> str:
    """An output line as evidence (control bytes, e.g. of a binary run as a script, as `?`)."""
    line = _UNPRINTABLE.sub("?", line.strip())
    return f'output: "{line[:200]}"'


def code(text: str) -> str:
    return f"`{text}`"


def join(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]

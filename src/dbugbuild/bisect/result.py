"""PURE: what a bisection found: its probes, the culprit and the layer before it, its notes.

Never does I/O, prints, or reads the clock or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dbugbuild import report as build_report
from dbugbuild.bisect.layers import Layer, StageLayers, positions
from dbugbuild.bisect.search import Search, Verdict
from dbugbuild.dockerfile import lines as source_lines
from dbugbuild.errors import ExitCode

Outcome = Literal["pass", "fail", "timeout"]

# A probe's output is kept up to this many characters (its end), in the report and in memory.
OUTPUT_LIMIT = 16_000


@dataclass(frozen=True)
class Probe:
    """One run of the check in one layer."""

    layer: Layer
    outcome: Outcome  # a timeout counts as failing
    exit_code: int
    output: str  # its end, at most OUTPUT_LIMIT characters
    seconds: float

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


def clip(output: str) -> str:
    """A probe's output as kept: its last OUTPUT_LIMIT characters."""
    return output if len(output) <= OUTPUT_LIMIT else output[-OUTPUT_LIMIT:]


@dataclass(frozen=True)
class Result:
    """What `dbugbuild bisect` found, ready to render."""

    check: str
    until_pass: bool
    verdict: Verdict
    first_bad: Layer | None  # the culprit: the step from which on the final's behaviour shows
    last_good: Layer | None  # the layer just before it
    layers: tuple[Layer, ...]
    probes: tuple[Probe, ...]  # in the order they ran
    inconsistent: bool
    stage: StageLayers
    probe_timeout: float
    dockerfile: str | None = None  # the path as given, when a Dockerfile maps the layers
    location: str | None = None  # the Dockerfile relative to the working directory
    source_lines: tuple[str, ...] = ()  # the culprit's lines in the Dockerfile
    image: str | None = None  # --image: the image whose history was bisected
    build: build_report.Report | None = None  # the build's own report, when one ran
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 with a culprit; NOT_SHOWN or NO_TRANSITION when there is none to report."""
        if self.verdict == "found":
            return int(ExitCode.OK)
        if self.verdict == "not-shown":
            return int(ExitCode.NOT_SHOWN)
        return int(ExitCode.NO_TRANSITION)

    def probe_of(self, layer: Layer | None) -> Probe | None:
        """The probe that ran in `layer` (or in the layer it shares its key with)."""
        if layer is None:
            return None
        return next((p for p in self.probes if p.layer.key == layer.key), None)


def conclude(
    found: Search,
    stage: StageLayers,
    probes: Mapping[int, Probe],
    *,
    check: str,
    until_pass: bool,
    probe_timeout: float,
    source: str | None = None,
    dockerfile: str | None = None,
    location: str | None = None,
    image: str | None = None,
    build: build_report.Report | None = None,
    notes: Sequence[str] = (),
) -> Result:
    """The result of a search over `positions(stage.layers)`; `probes` by position."""
    layers = stage.layers
    points = positions(layers)
    first_bad = last_good = None
    lines: tuple[str, ...] = ()
    if found.first_bad is not None:
        culprit = points[found.first_bad]
        first_bad = layers[culprit]
        last_good = layers[culprit - 1]  # the same key as the last probed position below it
        if source is not None and first_bad.line is not None and first_bad.end_line is not None:
            lines = tuple(source_lines(source)[first_bad.line - 1 : first_bad.end_line])
    all_notes = list(stage.notes) + list(notes)
    if found.inconsistent:
        first = layers[points[0]]
        behaviour = "passes" if until_pass else "fails"
        all_notes.append(
            f"the check {behaviour} at the first layer (step {first.index}) too, as in the final "
            "one, but not in between: it is not monotonic over the layers. This is the latest "
            "transition the probes found; an earlier one may exist"
        )
    timeouts = [p for p in probes.values() if p.outcome == "timeout"]
    if timeouts:
        steps = ", ".join(str(p.layer.index) for p in timeouts)
        all_notes.append(
            f"the check timed out after {probe_timeout:g} s at step {steps}: counted as failing"
        )
    return Result(
        check=check,
        until_pass=until_pass,
        verdict=found.verdict,
        first_bad=first_bad,
        last_good=last_good,
        layers=layers,
        probes=tuple(probes[p] for p, _ in found.probes),
        inconsistent=found.inconsistent,
        stage=stage,
        probe_timeout=probe_timeout,
        dockerfile=dockerfile,
        location=location,
        source_lines=lines,
        image=image,
        build=build,
        notes=tuple(all_notes),
    )

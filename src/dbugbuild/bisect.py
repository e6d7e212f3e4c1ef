"""PURE: layer bisection: which build step changed what a check says about the image.

The search is a function of a probe callback (position -> does that layer show what the
final layer shows?); the layer model maps a build's steps, or an image's parent chain,
to Dockerfile lines; the result renders as text, json or gcc. Never does I/O, prints,
or reads the clock or the environment: probes come in through the callback.

Guarantees of `search(n, shows)`:
- it probes the final layer first, then the first layer, then gallops back from the
  final layer (1, 2, 4, ... layers) and binary-searches between the last two probes;
- it never probes a position twice, and makes at most `probe_budget(n)`
  (ceil(log2 n) + 2) probes beyond the final layer, wherever the transition is: the
  gallop is cut short when continuing could exceed that;
- a culprit it reports is a real transition: the layer before it was probed and does
  not show the final's behaviour, the culprit's layer was probed and does; and no
  layer probed after it says otherwise (the latest transition the probes saw);
- it reports `inconsistent` when the probes show the final's behaviour at an earlier
  layer than one that does not (the check is not monotonic over the layers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dbugbuild import report as build_report
from dbugbuild.dockerfile import Dockerfile, StepRef, classic_steps
from dbugbuild.errors import ExitCode
from dbugbuild.logs import BuildLog
from dbugbuild.report.style import Paint, excerpt, short_id
from dbugbuild.stepenv import args_in_effect

SCHEMA_VERSION = 1

Verdict = Literal["found", "not-shown", "no-transition"]
Outcome = Literal["pass", "fail", "timeout"]

# A probe's output is kept up to this many characters (its end), in the report and in memory.
OUTPUT_LIMIT = 16_000


# -- the search --------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """Where the final layer's behaviour begins, and the probes that showed it."""

    verdict: Verdict
    first_bad: int | None  # the position from which on the probed layers show the final's behaviour
    last_good: int | None  # first_bad - 1: probed, and does not show it
    probes: tuple[tuple[int, bool], ...]  # (position, shows the final's behaviour), in order
    inconsistent: bool


def probe_budget(n: int) -> int:
    """The most probes `search` makes beyond the final layer's: ceil(log2 n) + 2."""
    return (n - 1).bit_length() + 2


def search(n: int, shows: Callable[[int], bool]) -> Search:
    """Find the latest transition into the behaviour the final layer (n - 1) shows.

    `shows(i)` probes position i (0 = the first layer) and says whether it behaves as
    the final layer must: a failing check, or a passing one for --until-pass.
    """
    if n < 1:
        raise ValueError(f"nothing to search: {n} layers")
    log: list[tuple[int, bool]] = []

    def probe(position: int) -> bool:
        if any(p == position for p, _ in log):  # a bug, never the user's: say so loudly
            raise AssertionError(f"position {position} probed twice")
        result = bool(shows(position))
        log.append((position, result))
        return result

    final = n - 1
    if not probe(final):
        return _search("not-shown", None, None, log)
    if n == 1:
        return _search("no-transition", None, None, log)
    # The first layer: whether the other behaviour exists at the start. When it shows the
    # final's behaviour too, it is still taken as the lower bound: a layer found between
    # that does not show it makes a real (latest) transition; none found, there is none.
    probe(0)
    left = probe_budget(n) - 1
    lo, hi = 0, final  # hi shows the final's behaviour; lo does not (or is the first layer)
    galloping, offset = True, 1
    while hi - lo > 1 and left > 0:
        # Invariant: hi - lo <= 2 ** left. Whichever way this probe goes, what remains
        # between lo and hi must be at most half that, so the budget is never exceeded.
        half = 1 << (left - 1)
        target = final - offset if galloping else (lo + hi) // 2
        offset *= 2
        position = min(max(target, hi - half), lo + half)
        position = min(max(position, lo + 1), hi - 1)
        left -= 1
        if probe(position):
            hi = position
        else:
            lo, galloping = position, False
    if all(s for _, s in log):
        return _search("no-transition", None, None, log)
    assert hi == lo + 1, (lo, hi)
    return _search("found", hi, lo, log)


def _search(
    verdict: Verdict, first_bad: int | None, last_good: int | None, log: list[tuple[int, bool]]
) -> Search:
    showing = [p for p, s in log if s]
    other = [p for p, s in log if not s]
    inconsistent = bool(showing and other and min(showing) < max(other))
    return Search(verdict, first_bad, last_good, tuple(log), inconsistent)


# -- layers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One image of the bisected stage: the step that made it and where that step is written."""

    index: int  # the build's step number (Step N/M); for an unmapped image history, 1 = oldest
    image: str
    instruction: str | None  # the step's keyword (FROM, RUN, ENV...), None when unknown
    text: str  # the step as the builder echoed it, or the history's created-by text
    line: int | None = None
    end_line: int | None = None
    # The build ARGs in scope after this step: a probe sees them, as a RUN line would.
    args_env: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What a check can observe: the image (files, Env, User, WorkingDir) and the ARGs."""
        return (self.image, self.args_env)


def positions(layers: Sequence[Layer]) -> tuple[int, ...]:
    """Indexes of the layers a check can tell apart: each one whose key differs from the
    layer before it. A step whose image and ARGs equal the previous step's cannot change
    any check, so it is never probed nor blamed; one with the same image but other ARGs
    can change an env-dependent check, so it is a position of its own."""
    out: list[int] = []
    for i, layer in enumerate(layers):
        if i == 0 or layer.key != layers[i - 1].key:
            out.append(i)
    return tuple(out)


@dataclass(frozen=True)
class StageLayers:
    """The layers to bisect: one stage of a build, or an image's parent chain."""

    name: str | None  # the stage's name (FROM ... AS name), None when unnamed
    index: int  # the stage's 0-based number in the build (0 for an unmapped history)
    layers: tuple[Layer, ...]
    mapped: bool  # the layers carry Dockerfile lines
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str | None:
        """How to name the stage to people: its name, its number after the first; else None."""
        if not self.mapped:
            return None
        if self.name is not None:
            return self.name
        return str(self.index) if self.index > 0 else None


class StageError(ValueError):
    """--stage names no stage that the build ran (or that the Dockerfile has)."""

    def __init__(self, message: str, known: Sequence[str]) -> None:
        super().__init__(message)
        self.message = message
        self.known = tuple(known)


_AS = re.compile(r"\s+as\s+(\S+)\s*$", re.IGNORECASE)


def _stage_name(from_text: str) -> str | None:
    match = _AS.search(from_text)
    return match.group(1).lower() if match else None


def _pick(stages: Sequence[tuple[str | None, int]], wanted: str | None) -> int:
    """The list index of the stage named (or numbered) `wanted`; the last one when None."""
    if not stages:
        raise StageError("the build ran no stage", ())
    if wanted is None:
        return len(stages) - 1
    for i, (name, number) in enumerate(stages):
        if (name is not None and name == wanted.lower()) or str(number) == wanted:
            return i
    known = [name if name is not None else str(number) for name, number in stages]
    raise StageError(f"no stage {wanted} among the stages that ran", known)


def build_layers(
    log: BuildLog,
    steps: Sequence[build_report.StepReport],
    dockerfile: Dockerfile | None,
    build_args: Mapping[str, str],
    stage: str | None,
) -> StageLayers:
    """The layers of one stage of a build (the last one that ran, or `stage`), from its log.

    `steps` are the located steps (report.steps), in the log's order: they carry the lines.
    A failed build's failing step made no image: its stage's layers end before it.
    """
    groups: list[tuple[str | None, list[int]]] = []
    for i, step in enumerate(log.steps):
        if step.instruction == "FROM":
            groups.append((_stage_name(step.text), []))
        if groups:
            groups[-1][1].append(i)
    if not groups and stage is None:
        return StageLayers(None, 0, (), False)  # no stage ran (a parse error): nothing to bisect
    chosen = _pick([(name, n) for n, (name, _) in enumerate(groups)], stage)
    name, members = groups[chosen]
    model = None
    if dockerfile is not None:
        first = next((steps[i] for i in members if steps[i].line is not None), None)
        ins = dockerfile.instruction_at(first.line) if first and first.line else None
        if ins is not None and ins.stage is not None:
            model = dockerfile.stages[ins.stage]
    layers: list[Layer] = []
    for i in members:
        step, located = log.steps[i], steps[i]
        if step.image is None:
            continue
        args: tuple[str, ...] = ()
        if model is not None and dockerfile is not None:
            before = located.end_line + 1 if located.end_line is not None else 1 << 30
            args = args_in_effect(model, dockerfile.meta_args, before, build_args)
        layers.append(
            Layer(
                index=step.index,
                image=step.image,
                instruction=step.instruction or None,
                text=step.text,
                line=located.line,
                end_line=located.end_line,
                args_env=args,
            )
        )
    mapped = any(layer.line is not None for layer in layers)
    notes: list[str] = []
    if layers and not mapped:
        notes.append("the steps are not mapped to Dockerfile lines: probes run without build ARGs")
    return StageLayers(name, chosen, tuple(layers), mapped, tuple(notes))


@dataclass(frozen=True)
class HistoryEntry:
    """One image of a parent chain, with its history's created-by text."""

    image: str
    created_by: str


_NOP = re.compile(r"#\(nop\)\s*(.*)\Z", re.DOTALL)
_RUN_ARGS = re.compile(r"\|(\d+)\s")


def history_step(created_by: str) -> tuple[str | None, str]:
    """(keyword, text) of a history created-by: `/bin/sh -c #(nop)  ENV X=1` is `ENV X=1`;
    anything else ran a command (a RUN, its build ARGs' `|N K=V` prefix dropped)."""
    text = created_by.strip()
    if not text:
        return None, "(no history)"
    nop = _NOP.search(text)
    if nop:
        body = nop.group(1).strip()
        return (body.split(None, 1)[0].upper() if body else None), body
    args = _RUN_ARGS.match(text)
    if args:
        # moby dispatchRun prefixes the ARGs in effect: "|2 A=1 B=2 /bin/sh -c ..."
        words = text.split(" ")
        text = " ".join(words[1 + int(args.group(1)) :])
    return "RUN", f"RUN {text}"


def history_layers(
    chain: Sequence[HistoryEntry],
    dockerfile: Dockerfile | None,
    dockerfile_path: str | None,
    *,
    target: str | None,
    labels: Mapping[str, str],
    build_args: Mapping[str, str],
    stage: str | None,
) -> StageLayers:
    """The layers of an image's parent chain (oldest first), mapped to a Dockerfile's lines
    when one is given and its chosen stage matches the top of the chain; else all of the
    chain, shown by its history's created-by text."""
    notes: list[str] = []
    if dockerfile is not None:
        try:
            refs = classic_steps(dockerfile, target=target, labels=labels)
        except KeyError as exc:
            raise StageError(f"no stage {target} in {dockerfile_path}", ()) from exc
        stages: list[tuple[str | None, int]] = []
        for ref in refs:
            if ref.stage is not None and (ref.stage.name, ref.stage.index) not in stages:
                stages.append((ref.stage.name, ref.stage.index))
        chosen = stages[_pick(stages, stage)]
        own = [r for r in refs if r.stage is not None and r.stage.index == chosen[1]]
        mapped, why = _map_history(chain, own, dockerfile, build_args)
        if mapped is not None:
            return StageLayers(chosen[0], chosen[1], mapped, True)
        notes.append(f"lines not mapped: {why}; bisecting the image's whole history")
    layers = []
    for n, entry in enumerate(chain, start=1):
        keyword, text = history_step(entry.created_by)
        layers.append(Layer(index=n, image=entry.image, instruction=keyword, text=text))
    notes.append("probes run without build ARGs (an image keeps no ARG values)")
    return StageLayers(None, 0, tuple(layers), False, tuple(notes))


def _map_history(
    chain: Sequence[HistoryEntry],
    refs: Sequence[StepRef],
    dockerfile: Dockerfile,
    build_args: Mapping[str, str],
) -> tuple[tuple[Layer, ...] | None, str]:
    """The stage's steps laid on the top of the chain, or None and why they do not fit."""
    if len(chain) < len(refs):
        return None, f"the image has {len(chain)} layers, the stage {len(refs)} steps"
    top = chain[len(chain) - len(refs) :]
    layers = []
    for entry, ref in zip(top, refs, strict=True):
        keyword, _ = history_step(entry.created_by)
        want = ref.instruction.keyword if ref.instruction is not None else "LABEL"
        ins = ref.instruction
        misfit = f"step {ref.index} is '{ref.text}' but its layer ran '{entry.created_by.strip()}'"
        if want != "FROM" and keyword != want:
            return None, misfit
        run = ins is not None and want == "RUN" and not ins.is_exec_form
        if run and ins is not None and not entry.created_by.rstrip().endswith(ins.args):
            return None, misfit
        args: tuple[str, ...] = ()
        if ref.stage is not None:
            before = ins.end_line + 1 if ins is not None else 1 << 30
            args = args_in_effect(ref.stage, dockerfile.meta_args, before, build_args)
        layers.append(
            Layer(
                index=ref.index,
                image=entry.image,
                instruction=want,
                text=ref.text,
                line=ins.line if ins is not None else None,
                end_line=ins.end_line if ins is not None else None,
                args_env=args,
            )
        )
    return tuple(layers), ""


# -- the result ---------------------------------------------------------------------------


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
            lines = tuple(source.splitlines()[first_bad.line - 1 : first_bad.end_line])
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


# -- renderings ----------------------------------------------------------------------------


def _step_dict(layer: Layer | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {
        "index": layer.index,
        "line": layer.line,
        "end_line": layer.end_line,
        "instruction": layer.instruction,
        "text": layer.text,
        "image": layer.image,
    }


def to_dict(result: Result) -> dict[str, Any]:
    """The result as the JSON object `dbugbuild bisect --format json` prints."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "bisect",
        "check": result.check,
        "until_pass": result.until_pass,
        "verdict": result.verdict,
        "first_bad_step": _step_dict(result.first_bad),
        "last_good_step": _step_dict(result.last_good),
        "probes": len(result.probes),
        "probe_log": [
            {
                "index": p.layer.index,
                "image": p.layer.image,
                "exit_code": p.exit_code,
                "output": p.output,
                "outcome": p.outcome,
                "seconds": round(p.seconds, 3),
            }
            for p in result.probes
        ],
        "layers": len(result.layers),
        "inconsistent": result.inconsistent,
        "stage": result.stage.name,
        "stage_index": result.stage.index,
        "dockerfile": result.dockerfile,
        "image": result.image,
        "probe_timeout": result.probe_timeout,
        "notes": list(result.notes),
        "exit_code": result.exit_code,
        "build": build_report.to_dict(result.build) if result.build is not None else None,
    }


def render_json(result: Result) -> str:
    return json.dumps(to_dict(result), indent=2) + "\n"


def _code(p: Probe | None) -> str:
    if p is None:
        return "not probed"
    if p.outcome == "timeout":
        return f"timed out after {p.seconds:.0f} s"
    return f"exit {p.exit_code}"


def headline(result: Result) -> str:
    """One sentence: the culprit and what it did, or why there is none."""
    check = f"`{result.check}`"
    final = result.probes[0] if result.probes else None
    asked = "passes" if result.until_pass else "fails"
    other = "fails" if result.until_pass else "passes"
    if result.verdict == "found" and result.first_bad is not None:
        did = "made it pass" if result.until_pass else "broke it"
        return (
            f"step {result.first_bad.index} {did}: {check} {other} before it and {asked} from it on"
        )
    where = f"step {final.layer.index}" if final is not None else "the final layer"
    if result.verdict == "not-shown":
        return f"no culprit: {check} {other} in the final layer ({where}, {_code(final)})"
    return (
        f"no culprit: {check} {asked} in every layer probed ({len(result.probes)} of "
        f"{len(positions(result.layers))}), the first one included; none {other}"
    )


def _hint(result: Result) -> str | None:
    if result.verdict == "not-shown":
        return (
            "it does not fail in the final layer: use --until-pass to find the step that made "
            "it pass, or check the command"
            if not result.until_pass
            else "it does not pass in the final layer: drop --until-pass to find the step "
            "that broke it, or check the command"
        )
    if result.verdict == "no-transition":
        return "check the command: its output in the final layer is below"
    return None


def _where(result: Result) -> str:
    return result.location or result.dockerfile or result.image or "image"


def render_gcc(result: Result) -> str:
    """One problem-matcher line at the culprit's line (`PATH:LINE:1: error: ...`)."""
    culprit = result.first_bad
    severity = "warning" if result.until_pass and result.verdict == "found" else "error"
    message = f"bisect: {headline(result)}"
    if culprit is not None and culprit.line is not None and result.dockerfile is not None:
        return f"{_where(result)}:{culprit.line}:1: {severity}: {message}\n"
    return f"{_where(result)}: {severity}: {message}\n"


def _output_lines(output: str, limit: int = 20) -> list[str]:
    lines = output.rstrip("\n").splitlines()
    return lines[-limit:] if lines else []


_GOOD_BAD = ("last good", "first bad")


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render_text(result: Result, color: bool = False) -> str:
    """A few lines for people: the culprit and its lines, the two layers, the probes."""
    paint = Paint(color)
    found = result.verdict == "found"
    head = paint("1;31" if found else "1;33", "bisect")
    lines = [f"{head}: {paint('1', headline(result))}"]
    hint = _hint(result)
    if hint:
        lines.append(f"  {hint}")
    culprit = result.first_bad
    if culprit is not None:
        where = _where(result)
        loc = f"{where}:{culprit.line}" if culprit.line is not None else where
        stage = f"  (stage {result.stage.label})" if result.stage.label else ""
        lines.append(f"  --> {loc}{stage}")
        if result.source_lines and culprit.line is not None:
            lines += excerpt(result.source_lines, culprit.line, paint)
        else:
            lines.append(f"    {culprit.text}")
        good = result.last_good
        before, after = ("last failing", "first passing") if result.until_pass else _GOOD_BAD
        if good is not None:
            lines.append(
                f"  {before}: step {good.index}, image {good.image} "
                f"({_code(result.probe_of(good))})"
            )
        lines.append(
            f"  {after}: step {culprit.index}, image {culprit.image} "
            f"({_code(result.probe_of(culprit))})"
        )
    shown = result.probe_of(culprit) if culprit is not None else None
    if shown is None and result.probes:
        shown = result.probes[0]  # no culprit: the final layer's output tells why
    if shown is not None:
        out = _output_lines(shown.output)
        which = "final"
        if culprit is not None:
            which = "first passing" if result.until_pass else "first bad"
        if out:
            lines.append(f"  {paint('2', f'check output at the {which} layer')}:")
            lines += [f"    | {line}" for line in out]
        else:
            lines.append(f"  {paint('2', f'check output at the {which} layer')}: (none)")
    lines.append(
        f"  probes: {len(result.probes)} of {len(result.layers)} layers"
        + (f" (stage {result.stage.label})" if result.stage.label else "")
    )
    width = max((len(str(p.layer.index)) for p in result.probes), default=1)
    for n, p in enumerate(result.probes, start=1):
        verdict = {"pass": "passes", "fail": "fails", "timeout": "times out"}[p.outcome]
        lines.append(
            f"    {n}. step {str(p.layer.index).rjust(width)}  {short_id(p.layer.image)}  "
            f"{verdict} ({_code(p)})  {_short(p.layer.text)}"
        )
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"

"""PURE: the layers to bisect: one stage of a build (from its log, mapped to Dockerfile lines),
or an image's parent chain (its history, mapped when a Dockerfile's stage fits its top).

Each layer carries the build ARGs in scope after its step: a probe sees them, as a RUN
line would. Never does I/O, prints, or reads the clock or the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dbugbuild.debug.stepenv import args_in_effect
from dbugbuild.dockerfile import Dockerfile, StepRef, classic_steps
from dbugbuild.logs import BuildLog
from dbugbuild.report import StepReport


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
    steps: Sequence[StepReport],
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
    # The stage as parsed, from the first step of the group that locate mapped to it.
    model = next((steps[i].stage_model for i in members if steps[i].stage_model), None)
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


def prefix_layers(
    dockerfile: Dockerfile, stage: str | None, *, target: str | None, failed_line: int | None
) -> StageLayers:
    """The layers of one stage of a BuildKit build, which keeps no image per step: one per
    instruction of the stage, its image still to be made by a prefix build (`image` holds a
    placeholder, `prefix:LINE`, until the driver builds it). The stage is `stage`, else the
    failing one (`failed_line`), else --target's, else the last; a failed stage's layers end
    before its failing instruction. `index` is the instruction's place in the stage (1 = its
    FROM; metadata instructions count too, unlike BuildKit's own `i/n`).
    """
    stages = dockerfile.stages
    if failed_line is not None:
        failing = next(
            (s for s in stages if any(i.line <= failed_line <= i.end_line
                                      for i in s.instructions)), None,
        )  # fmt: skip
    else:
        failing = None
    default = failing
    if default is None and target:
        default = next((s for s in stages if s.name == target.lower()), None)
    pool = [(s.name, s.index) for s in stages]
    chosen = stages[_pick(pool, stage)] if stage is not None else (default or stages[-1])
    layers: list[Layer] = []
    for n, ins in enumerate(chosen.instructions, start=1):
        if chosen is failing and failed_line is not None and ins.end_line >= failed_line:
            break
        layers.append(
            Layer(
                index=n,
                image=f"prefix:{ins.line}",
                instruction=ins.keyword,
                text=ins.code,
                line=ins.line,
                end_line=ins.end_line,
            )
        )
    return StageLayers(chosen.name, chosen.index, tuple(layers), True)

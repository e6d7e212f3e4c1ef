"""PURE: the Dockerfile that builds the last good layer of a BuildKit failure (a prefix build).

BuildKit keeps no intermediate images, so dbugbuild builds the Dockerfile cut just before
the failing instruction, with the failing stage as the target. What is kept and why:
- every line above the cut, byte for byte: the parser directives (`# syntax`, `# escape`),
  the meta ARGs and every earlier stage (BuildKit prunes the ones the target does not need;
  keeping them all keeps `COPY --from=<index>` pointing at the same stage), and the
  failing stage up to the cut (heredoc bodies included, as they sit above the cut);
- no later stage: BuildKit refuses a stage that refers to one defined after it;
- the failing stage is given a name when it has none (`--target` takes names only);
- one `LABEL` is appended that echoes the ARGs in scope at the cut as BuildKit expands
  them, so their values (build args, defaults, meta ARGs redeclared, the automatic
  platform ARGs) come from BuildKit itself: a LABEL is metadata, it runs nothing and
  leaves every cached step as it was.
Must not do I/O, print, or read the environment or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile.model import Dockerfile, Instruction, Stage
from dbugbuild.dockerfile.variables import arg_declarations, expand

PREFIX_STAGE = "dbugbuild-prefix"
ARG_LABEL = "dbugbuild.arg."  # + the ARG's name; the value is "=" + its value when set
# Build args BuildKit passes to every RUN as a proxy environment, in both spellings
# (dockerfile2llb proxyEnvFromBuildArgs, llb.ProxyEnv), without an ARG declaration.
PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")


@dataclass(frozen=True)
class Prefix:
    """A Dockerfile that builds `target` up to the cut, and the ARGs it echoes."""

    text: str
    target: str  # the stage to build (--target)
    named: bool  # the stage had no name: dbugbuild gave it `target`
    stage: Stage
    args: tuple[str, ...]  # names of the ARGs in scope at the cut, echoed as labels


@dataclass(frozen=True)
class BaseImage:
    """The failing instruction is a FROM whose base is an image (its ONBUILD trigger failed):
    the last good layer is that image itself, as its triggers have not run."""

    ref: str  # the FROM's base, variables expanded


def _lines(text: str) -> list[str]:
    """Physical lines with their endings, numbered as the parser numbers them (on "\\n")."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def _free_name(dockerfile: Dockerfile) -> str:
    names = {s.name for s in dockerfile.stages}
    name, n = PREFIX_STAGE, 1
    while name in names:
        n += 1
        name = f"{PREFIX_STAGE}-{n}"
    return name


def _named_from(line: str, name: str) -> str:
    """A FROM's last physical line with ` AS name` added before its line ending."""
    body = line.rstrip("\r\n")
    return f"{body} AS {name}{line[len(body) :]}"


def args_in_scope(stage: Stage, before_line: int | None) -> tuple[str, ...]:
    """Names of the ARGs a step at `before_line` of `stage` sees (all of the stage's when None),
    in declaration order: BuildKit scopes an ARG from its declaration to the stage's end."""
    names: list[str] = []
    for ins in stage.instructions:
        if before_line is not None and ins.line >= before_line:
            break
        if ins.keyword == "ARG":
            for name, _ in arg_declarations(ins.args):
                if name in names:
                    names.remove(name)
                names.append(name)
    return tuple(names)


def echo_line(names: Iterable[str]) -> str:
    """The LABEL that echoes each ARG as BuildKit expands it: `=value` when set, empty when not."""
    pairs = [f'"{ARG_LABEL}{name}"="${{{name}+=}}${{{name}}}"' for name in names]
    return "LABEL " + " ".join(pairs) + "\n" if pairs else ""


def cut(text: str, dockerfile: Dockerfile, stage: Stage, before_line: int | None) -> Prefix:
    """The Dockerfile `text` (parsed as `dockerfile`) cut before line `before_line` of `stage`,
    or after the whole of `stage` when None; that stage the target."""
    head = stage.instructions[0]
    if before_line is not None and before_line <= head.end_line:
        raise ValueError(f"line {before_line} is not after the FROM of stage {stage.index}")
    lines = _lines(text)
    if before_line is None:
        later = [s for s in dockerfile.stages if s.index > stage.index]
        end = later[0].instructions[0].line - 1 if later else len(lines)
    else:
        end = before_line - 1
    kept = lines[:end]
    target, named = stage.name, False
    if target is None:
        target, named = _free_name(dockerfile), True
        kept[head.end_line - 1] = _named_from(kept[head.end_line - 1], target)
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    args = args_in_scope(stage, before_line)
    return Prefix("".join(kept) + echo_line(args), target, named, stage, args)


def last_good(
    text: str,
    dockerfile: Dockerfile,
    instruction: Instruction,
    build_args: Mapping[str, str],
    global_args: Mapping[str, str] | None = None,
) -> Prefix | BaseImage:
    """What builds the layer the failing `instruction` started from.

    A failing FROM (its base's ONBUILD trigger failed) started from its base: an earlier
    stage, built whole, or an image (BaseImage), named with the meta ARGs (`build_args`
    over their defaults; `global_args`: the automatic platform ARGs of the global scope).
    """
    if instruction.stage is None:
        raise ValueError("a meta ARG has no layer")
    stage = dockerfile.stages[instruction.stage]
    if instruction.line > stage.instructions[0].end_line:
        return cut(text, dockerfile, stage, instruction.line)
    values = dict(global_args or {})
    for ins in dockerfile.meta_args:
        for name, default in arg_declarations(ins.args):
            if name in build_args:
                values[name] = build_args[name]
            elif default is not None:
                values[name] = expand(default, values, dockerfile.escape)
    base = expand(stage.base, values, dockerfile.escape)
    for earlier in dockerfile.stages[: stage.index]:
        if earlier.name is not None and earlier.name == base.lower():
            return cut(text, dockerfile, earlier, None)
    return BaseImage(base)


def arg_values(names: Sequence[str], labels: Mapping[str, str]) -> tuple[str, ...]:
    """KEY=VALUE of the echoed ARGs that are set, from the prefix image's labels."""
    out = []
    for name in names:
        value = labels.get(ARG_LABEL + name, "")
        if value.startswith("="):
            out.append(f"{name}={value[1:]}")
    return tuple(out)


def proxy_env(build_args: Mapping[str, str]) -> tuple[str, ...]:
    """The proxy build args as BuildKit gives them to a RUN: each in both spellings."""
    out: list[str] = []
    for name in PROXY_ARGS:
        value = build_args.get(name, build_args.get(name.lower()))
        if value is not None:
            out += [f"{name}={value}", f"{name.lower()}={value}"]
    return tuple(out)

"""The environment a build step ran in: argv, SHELL, Env with build ARGs, User, WorkingDir, network.

PURE: built either from the failing step's kept container config (the truth,
when the builder kept it) or reconstructed from the Dockerfile, the build args
and the last good image's config, exactly as the classic builder composes them
(moby builder/dockerfile/dispatchers.go, dispatchRun).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dbugbuild.dockerfile import Instruction, Stage, parse_exec_form, typed_script

DEFAULT_SHELL = ("/bin/sh", "-c")
# Build args the builder accepts without an ARG declaration (moby builder/dockerfile/buildargs.go).
BUILTIN_ARGS = frozenset(
    name
    for n in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (n, n.lower())
)

# Where the environment comes from: the builder's kept container, the last good image's config,
# or the image of a prefix build (BuildKit keeps no intermediate images: dbugbuild makes one).
Source = Literal["failed container", "reconstructed", "prefix build"]


@dataclass(frozen=True)
class StepEnv:
    """The environment the failed step ran in, where session commands run as it did."""

    image: str  # where session commands start: the last good image
    command: str | None  # the failing command as written in the Dockerfile (pre-typed), if any
    argv: tuple[str, ...] | None  # what the builder ran for it (SHELL applied, or the exec array)
    exec_form: bool
    shell: tuple[str, ...]  # the step's SHELL, for commands typed in the session
    env: tuple[str, ...]  # KEY=VALUE, build ARGs included
    user: str
    workdir: str
    network: str | None
    source: Source
    # What the debug container emulates of the step (a RUN's --mount and --network flags), one
    # line each for the session's banner.
    emulated: tuple[str, ...] = ()
    # Typed heredocs run as BuildKit runs a heredoc RUN (its body), not as `sh -c '<<EOT...'`,
    # which runs nothing: the classic builder drops heredoc bodies, BuildKit runs them.
    heredocs: bool = False
    # Why the environment came from where it did, for the banner (Podman: it removes the
    # failed build container); empty when there is nothing to say.
    note: str = ""

    def argv_for(self, text: str) -> tuple[str, ...]:
        """The argv a typed command runs as, as a RUN line would: a JSON array in exec form, else
        through the step's shell (a heredoc as BuildKit runs it, where the step is BuildKit's)."""
        array = parse_exec_form(text)
        if array is not None:
            return array
        return (*self.shell, typed_script(text) if self.heredocs else text)

    @property
    def interactive_shell(self) -> tuple[str, ...]:
        """The step's shell without its command flag (`-c`), to start interactively."""
        shell = list(self.shell)
        if shell and shell[-1] in ("-c", "/c", "/C", "-Command"):
            shell.pop()
        return tuple(shell) or DEFAULT_SHELL[:1]


def from_failed_container(
    config: Mapping[str, Any],
    network: str | None,
    image: str,
    image_shell: Sequence[str] | None,
    command: str | None,
    exec_form: bool,
) -> StepEnv:
    """The environment as the builder ran it, from the kept container's Config."""
    cmd = tuple(config.get("Cmd") or ())
    if exec_form:
        shell = tuple(image_shell or DEFAULT_SHELL)
    else:
        shell = cmd[:-1] if len(cmd) > 1 else tuple(image_shell or DEFAULT_SHELL)
    if command is None and cmd:
        command = cmd[-1] if not exec_form else json.dumps(list(cmd))
    return StepEnv(
        image=image,
        command=command,
        argv=cmd or None,
        exec_form=exec_form,
        shell=shell,
        env=tuple(config.get("Env") or ()),
        user=str(config.get("User") or ""),
        workdir=str(config.get("WorkingDir") or "/"),
        network=_network(network),
        source="failed container",
    )


def resolve_build_args(args: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """--build-arg values as docker resolves them: K=V, or a bare K from `env` (the caller's
    environment, given: this module reads none)."""
    values: dict[str, str] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if eq:
            values[name] = value
        elif name in env:
            values[name] = env[name]
    return values


def args_in_effect(
    stage: Stage | None,
    meta_args: Sequence[Instruction],
    before_line: int,
    build_args: Mapping[str, str],
) -> tuple[str, ...]:
    """KEY=VALUE for the build ARGs a step at `before_line` sees, in declaration order.

    An ARG is in scope after its declaration in the stage; a meta ARG (before the
    first FROM) only when redeclared in the stage, taking the meta default. A value
    given with --build-arg wins over the default; an ARG with neither is unset.
    """
    meta_defaults: dict[str, str | None] = {}
    for ins in meta_args:
        name, default = _arg_decl(ins.args)
        meta_defaults[name] = build_args.get(name, default)
    values: dict[str, str] = {}
    for ins in stage.instructions if stage is not None else ():
        if ins.line >= before_line:
            break
        if ins.keyword != "ARG":
            continue
        name, default = _arg_decl(ins.args)
        value = build_args.get(name)
        if value is None:
            value = default if default is not None else meta_defaults.get(name)
        if value is not None:
            values.pop(name, None)
            values[name] = value
    for name in BUILTIN_ARGS:
        if name in build_args and name not in values:
            values[name] = build_args[name]
    return tuple(f"{k}={v}" for k, v in values.items())


def _arg_decl(args: str) -> tuple[str, str | None]:
    name, eq, default = args.strip().partition("=")
    return name.strip(), (_unquote(default.strip()) if eq else None)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


@dataclass(frozen=True)
class Trigger:
    """A parent image's ONBUILD RUN, as the builder ran it in the child's FROM step."""

    command: str  # as written after ONBUILD RUN
    argv: tuple[str, ...]
    exec_form: bool


def failed_trigger(quoted: str, image_config: Mapping[str, Any]) -> Trigger | None:
    """The parent's ONBUILD RUN trigger that the builder's failure message quotes, or None.

    The message joins the argv with spaces (moby builder/dockerfile/dispatchers.go,
    dispatchRun), which does not split back; so each RUN trigger of the image's OnBuild
    is composed as dispatchRun would compose it, and the one whose joined argv is the
    quote is it.
    """
    shell = tuple(image_config.get("Shell") or DEFAULT_SHELL)
    for trigger in image_config.get("OnBuild") or ():
        keyword, _, rest = str(trigger).strip().partition(" ")
        if keyword.upper() != "RUN" or not rest.strip():
            continue
        command = rest.strip()
        array = parse_exec_form(command)
        argv = array if array is not None else (*shell, command)
        if " ".join(argv) == quoted:
            return Trigger(command, argv, array is not None)
    prefix = " ".join(shell) + " "
    if quoted.startswith(prefix):  # no trigger text matched exactly: shell form, by its prefix
        return Trigger(quoted[len(prefix) :], (*shell, quoted[len(prefix) :]), False)
    return None


def reconstruct(
    image: str,
    image_config: Mapping[str, Any],
    instruction: Instruction | None,
    build_arg_env: Sequence[str],
    network: str | None,
    command: str | None = None,
    trigger: Trigger | None = None,
) -> StepEnv:
    """The environment rebuilt from the last good image's config, the step and its ARGs.

    As dispatchRun does: Env is the image's Env followed by the build args that no
    ENV of the image already defines; shell form runs through the image's Shell.
    What the builder ran is the RUN `instruction`, or a parent's ONBUILD `trigger`;
    `command` alone ran nothing (a COPY's destination to list): it is only pre-typed.
    """
    shell = tuple(image_config.get("Shell") or DEFAULT_SHELL)
    env = list(image_config.get("Env") or ())
    defined = {e.split("=", 1)[0] for e in env}
    env += [a for a in build_arg_env if a.split("=", 1)[0] not in defined]
    argv: tuple[str, ...] | None = None
    exec_form = False
    if instruction is not None and instruction.keyword == "RUN":
        exec_form = instruction.is_exec_form
        # The builder ran the joined arguments; `command` (its lines kept) is only pre-typed.
        command = instruction.command if command is None else command
        argv = (
            instruction.json_args
            if exec_form and instruction.json_args
            else (*shell, instruction.args)
        )
    elif trigger is not None:
        command, argv, exec_form = trigger.command, trigger.argv, trigger.exec_form
    return StepEnv(
        image=image,
        command=command,
        argv=argv,
        exec_form=exec_form,
        shell=shell,
        env=tuple(env),
        user=str(image_config.get("User") or ""),
        workdir=str(image_config.get("WorkingDir") or "/"),
        network=_network(network),
        source="reconstructed",
    )


def _network(mode: str | None) -> str | None:
    return None if mode in (None, "", "default") else mode

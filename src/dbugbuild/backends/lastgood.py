"""The last good layer of a BuildKit failure, made by a prefix build, and its step environment.

BuildKit keeps no intermediate images. So the Dockerfile cut before the failing
instruction (dockerfile.prefix) is built with the same context, build args, secrets, ssh,
build contexts, platform and builder as the failed build, loaded into the daemon with a
unique tag and the session's labels (the session's clean-up removes it), from a temporary
folder outside the build context. The cache makes it fast: every step of it ran in the
failed build. Its output is not shown as a second build: one status line, and its log
only when it fails. The step's environment is then that image's ENV, USER, WORKDIR and
SHELL, the ARGs BuildKit gave the line (echoed by the prefix), and the RUN's own flags
emulated (runmounts.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from dbugbuild.backends.base import BuildInputs, DebugLayer, FailureSite
from dbugbuild.backends.runmounts import Emulated, MountContext, emulate, pipes_script
from dbugbuild.debug import stepenv
from dbugbuild.dockerfile import Dockerfile, Instruction, buildkit_script, command_as_written
from dbugbuild.dockerfile.prefix import BaseImage, Prefix, arg_values, cut, last_good, proxy_env
from dbugbuild.dockerfile.runflags import RunFlagError, RunFlags, parse_run_flags, without_flags
from dbugbuild.dockerfile.variables import expand
from dbugbuild.engine import LABEL, BuildCommand, Engine
from dbugbuild.errors import BadInputError, EngineError
from dbugbuild.options import BuildOptions


class Builds(Protocol):
    """What a prefix build needs of its backend: the build command for the options."""

    def build_command(
        self, build: BuildOptions, cwd: str, dockerfile_stdin: bytes | None
    ) -> BuildCommand: ...


class PrefixBuilder:
    """Builds prefixes of one failed build as labelled, tagged images of one session."""

    def __init__(
        self, engine: Engine, backend: Builds, inputs: BuildInputs, labels: Mapping[str, str]
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.inputs = inputs
        self.labels = dict(labels)
        self.session = self.labels.get(LABEL, "nosession")
        self.built: dict[str, str] = {}  # prefix text -> image id, within the session
        self.platform = inputs.options.platform

    def build(self, prefix: Prefix, what: str = "the last good layer") -> str:
        """The image of `prefix`, built (once per session) like the failed build."""
        if prefix.text in self.built:
            return self.built[prefix.text]
        inputs = self.inputs
        tag = f"dbugbuild-prefix-{self.session}:{len(self.built) + 1}"
        folder = tempfile.mkdtemp(prefix="dbugbuild-prefix-", dir=_outside(inputs))
        try:
            name = os.path.basename(inputs.dockerfile_file or "Dockerfile")
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
                fh.write(prefix.text)
            if inputs.dockerfile_file is not None:
                # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the
                # context's .dockerignore: it must sit beside the temporary one too.
                ignore = inputs.dockerfile_file + ".dockerignore"
                if os.path.isfile(ignore):
                    shutil.copyfile(ignore, path + ".dockerignore")
            options = replace(
                inputs.options,
                file=path,
                target=prefix.target,
                tags=(tag,),
                labels=tuple(f"{k}={v}" for k, v in self.labels.items()),
                no_cache=False,
                pull=False,
                platform=self.platform,
            )
            command = self.backend.build_command(options, inputs.cwd, None)
            image = self._run(command, tag, what)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.built[prefix.text] = image
        return image

    def _run(self, command: BuildCommand, tag: str, what: str) -> str:
        output: list[str] = []
        self.inputs.say(f"dbugbuild: making {what} (prefix build, cached) ... ")
        started = time.monotonic()
        try:
            status = self.engine.build(command, lambda text, _err: output.append(text))
        except BaseException:
            self.inputs.say("interrupted\n")
            raise
        if status != 0:
            self.inputs.say(f"failed (exit {status})\n")
            self.inputs.show("".join(output))
            raise EngineError(
                f"the prefix build that makes {what} failed (exit {status}); its output is above",
                "The build may depend on something that changed since it failed; rebuild "
                "with dbugbuild",
            )
        image = self.engine.image_id(tag)
        if image is None:
            raise EngineError(
                f"the prefix build of {what} loaded no image {tag} into the daemon",
                "With --builder, use a builder that can --load into this daemon",
            )
        self.inputs.say(f"done ({time.monotonic() - started:.1f}s)\n")
        return image

    def stage(self, dockerfile: Dockerfile, text: str, ref: str) -> str | None:
        """The image of the stage named (or numbered) `ref`, built whole; None when the
        Dockerfile has no such stage."""
        try:
            stage = dockerfile.stage(int(ref) if ref.isdigit() else ref)
        except KeyError:
            return None
        return self.build(cut(text, dockerfile, stage, None), f"stage {ref} for a mount")


def _outside(inputs: BuildInputs) -> str | None:
    """Where the temporary Dockerfile goes: the system's temporary folder, unless the build
    context holds it (a context of /tmp would then send it, and miss the cache)."""
    context = os.path.realpath(os.path.join(inputs.cwd, inputs.options.context))
    temp = os.path.realpath(tempfile.gettempdir())
    if os.path.commonpath([temp, context]) == context:
        return os.path.dirname(context) if context != os.path.dirname(context) else None
    return None


def _required(site: FailureSite) -> tuple[BuildInputs, Dockerfile, str, Instruction]:
    inputs = site.inputs
    if inputs is None:
        raise EngineError("no build inputs reached the BuildKit backend", "Please report this")
    if not inputs.context_given:
        raise BadInputError(
            "BuildKit keeps no intermediate images, so dbugbuild builds the last good layer "
            "from the build context, and no context was given with --log",
            "Give the build's context after the log: dbugbuild --log FILE PATH",
        )
    ins = site.instruction
    df = site.dockerfile
    text = inputs.dockerfile_text
    where = site.report.dockerfile
    if df is None or text is None:
        raise BadInputError(
            f"no Dockerfile at {where} to build the last good layer from",
            "Give the Dockerfile the build used with -f",
        )
    if ins is None:
        raise BadInputError(
            f"the failing step is not mapped to a line of {where}, so there is no prefix of "
            "it to build",
            "Check that the Dockerfile is the one the build used (-f, --target)",
        )
    return inputs, df, text, ins


def prefix_layer(
    backend: Builds, engine: Engine, site: FailureSite, labels: Mapping[str, str]
) -> DebugLayer:
    """The debug layer of a BuildKit failure: a prefix build's image and the step's
    environment in it. What it makes carries `labels` (the session's)."""
    inputs, df, text, ins = _required(site)
    builder = PrefixBuilder(engine, backend, inputs, labels)
    platform_note = None
    platforms = [p for p in (inputs.options.platform or "").split(",") if p]
    if len(platforms) > 1:
        # `--load` takes one platform: the one whose step failed (BuildKit prints it).
        step = site.log.failed_step
        builder.platform = step.platform if step and step.platform else platforms[0]
        platform_note = f"platform: {builder.platform}, of the {len(platforms)} built"
    made = last_good(text, df, ins, site.build_args)
    if isinstance(made, BaseImage):
        image = engine.image_id(made.ref)
        if image is None or made.ref == "scratch":
            raise EngineError(
                f"there is no layer to debug in: the failing FROM's base {made.ref} is not in "
                "the Docker daemon",
                "Pull or build it, then run dbugbuild again",
            )
        names: tuple[str, ...] = ()
    else:
        image = builder.build(made)
        names = made.args
    config = engine.image_config(image) or {}
    args_env = (*arg_values(names, config.get("Labels") or {}), *proxy_env(site.build_args))
    env = _env(config, args_env)
    is_run = ins.keyword == "RUN"
    flags = RunFlags()
    workdir = str(config.get("WorkingDir") or "/")
    if is_run:
        values = dict(item.split("=", 1) for item in env)
        try:
            flags = parse_run_flags(ins.flags, workdir, lambda v: expand(v, values, df.escape))
        except RunFlagError as exc:
            raise BadInputError(f"the failing RUN's flags: {exc}", "Check its --mount") from exc
    mounting = MountContext(
        engine,
        inputs,
        image,
        dict(labels),
        builder.session,
        lambda ref: builder.stage(df, text, ref),
    )
    emulated = emulate(flags.mounts, mounting)
    script = buildkit_script(ins) if is_run and not ins.is_exec_form else ""
    if script.startswith("/dev/pipes/") and ins.heredocs:
        pipes_script(ins.heredocs[0].name, ins.heredocs[0].body, mounting, emulated)
    if platform_note is not None:
        emulated.notes.insert(0, platform_note)
    return DebugLayer(
        _step_env(image, config, ins, df, env, flags, emulated, site),
        mounts=tuple(emulated.mounts),
        secret_env=tuple(emulated.secret_env),
        cleanup=emulated.cleanup,
    )


def _env(config: Mapping[str, Any], args_env: tuple[str, ...]) -> tuple[str, ...]:
    """The image's Env, then the ARGs no ENV of it defines (an ENV wins over an ARG)."""
    env = [str(e) for e in config.get("Env") or ()]
    defined = {e.split("=", 1)[0] for e in env}
    return (*env, *(a for a in args_env if a.split("=", 1)[0] not in defined))


def _step_env(
    image: str,
    config: Mapping[str, Any],
    ins: Instruction,
    df: Dockerfile,
    env: tuple[str, ...],
    flags: RunFlags,
    emulated: Emulated,
    site: FailureSite,
) -> stepenv.StepEnv:
    shell = tuple(str(s) for s in config.get("Shell") or stepenv.DEFAULT_SHELL)
    argv: tuple[str, ...] | None = None
    command: str | None = None
    exec_form = False
    if ins.keyword == "RUN":
        exec_form = ins.is_exec_form
        # What BuildKit ran: a heredoc RUN's body (or its #! script, mounted at /dev/pipes).
        argv = ins.json_args if exec_form and ins.json_args else (*shell, buildkit_script(ins))
        command = without_flags(command_as_written(ins, df.escape), len(ins.flags), df.escape)
    elif ins.keyword in ("COPY", "ADD"):
        dest = (ins.json_args[-1] if ins.json_args else ins.args.split()[-1]) if ins.args else "."
        command = f"ls -la {dest}"
    elif ins.keyword == "FROM":
        failure = site.log.failure
        quoted = failure.command if failure is not None else None
        trigger = stepenv.failed_trigger(quoted, config) if quoted else None
        if trigger is not None:
            command, argv, exec_form = trigger.command, trigger.argv, trigger.exec_form
    notes = list(emulated.notes)
    network = site.network
    if flags.network is not None:
        notes.append(f"network: {flags.network} (the RUN's --network)")
        network = site.network if flags.network == "default" else flags.network
    if flags.security == "insecure":
        notes.append("security: insecure NOT emulated (the debug container is not privileged)")
    return stepenv.StepEnv(
        image=image,
        command=command,
        argv=argv,
        exec_form=exec_form,
        shell=shell,
        env=(*env, *emulated.env),
        user=str(config.get("User") or ""),
        workdir=str(config.get("WorkingDir") or "/"),
        network=None if network in (None, "", "default") else network,
        source="prefix build",
        emulated=tuple(notes),
        heredocs=True,
    )

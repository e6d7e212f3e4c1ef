"""After a failed build: the step's environment, a labelled workspace, the session or
--exec/--retry, and the clean-up that must happen however the process ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import FrameType

from dbugbuild import logs, report, stepenv
from dbugbuild.console import Console
from dbugbuild.diagnosis import banner_text
from dbugbuild.dockerfile import Dockerfile, Instruction, command_as_written
from dbugbuild.engine import Engine, NoShellError, Workspace
from dbugbuild.errors import BadInputError, EngineError, Terminated, UsageError
from dbugbuild.options import Options
from dbugbuild.session import Facts, Session, make_history
from dbugbuild.writeback import DockerfileFile, WriteBack


@dataclass(frozen=True)
class Failed:
    report: report.Report
    log: logs.BuildLog
    dockerfile: Dockerfile | None
    dockerfile_path: str
    source_text: str | None = None  # the Dockerfile as read when the build started
    source_file: str | None = None  # its absolute path; None for a Dockerfile from stdin


Rebuild = Callable[[], Failed]  # runs the build again (same options); its outcome


def resolve_build_args(args: tuple[str, ...], env: Mapping[str, str]) -> dict[str, str]:
    """--build-arg values as docker resolves them: K=V, or a bare K from the environment."""
    values: dict[str, str] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if eq:
            values[name] = value
        elif name in env:
            values[name] = env[name]
    return values


def _instruction(failed: Failed) -> Instruction | None:
    step = failed.report.failed_step
    if failed.dockerfile is None or step is None or step.line is None:
        return None
    return failed.dockerfile.instruction_at(step.line)


def _written(ins: Instruction | None, failed: Failed) -> str | None:
    """The failing RUN as written, its lines kept, to pre-type in the session."""
    if ins is None:
        return None
    escape = failed.dockerfile.escape if failed.dockerfile is not None else "\\"
    return command_as_written(ins, escape)


def step_environment(
    engine: Engine, failed: Failed, options: Options, env: Mapping[str, str]
) -> stepenv.StepEnv:
    """The failing step's environment: from its kept container if it exists, else rebuilt."""
    rep = failed.report
    ins = _instruction(failed)
    is_run = ins is not None and ins.keyword == "RUN"
    failure = failed.log.failure
    quoted = failure.command if failure is not None and failure.in_trigger else None
    cid = rep.failed_container
    kept = engine.container_config(cid) if cid else None
    if kept is not None:
        config, network, image = kept
        image_config = engine.image_config(image) or {}
        trigger = stepenv.failed_trigger(quoted, image_config) if quoted else None
        command: str | None = _written(ins, failed) if is_run else None
        exec_form = bool(is_run and ins is not None and ins.is_exec_form)
        if trigger is not None:
            command, exec_form = trigger.command, trigger.exec_form
        return stepenv.from_failed_container(
            config,
            network,
            image,
            image_config.get("Shell"),
            command=command,
            exec_form=exec_form,
        )
    if not rep.last_good_image:
        raise EngineError(
            "there is no layer to debug in: the failing step has no last good image",
            "The base image itself failed, or the stage is FROM scratch",
        )
    found = engine.image_id(rep.last_good_image)
    if found is None:
        raise BadInputError(
            f"the build's last good layer {rep.last_good_image} is not in the Docker daemon",
            "Rebuild with dbugbuild (the log's images were removed, or it came from elsewhere)",
        )
    base: str = found
    image_config = engine.image_config(base) or {}
    args_env: tuple[str, ...] = ()
    command = _written(ins, failed) if is_run else None
    if ins is not None and failed.dockerfile is not None:
        stage = failed.dockerfile.stages[ins.stage] if ins.stage is not None else None
        args_env = stepenv.args_in_effect(
            stage,
            failed.dockerfile.meta_args,
            ins.line,
            resolve_build_args(options.build.build_args, env),
        )
        if ins.keyword in ("COPY", "ADD"):
            # Nothing to retry in a shell; show where the files should have gone.
            dest = (
                (ins.json_args[-1] if ins.json_args else ins.args.split()[-1]) if ins.args else "."
            )
            command = f"ls -la {dest}"
    return stepenv.reconstruct(
        base,
        image_config,
        ins if is_run else None,
        args_env,
        options.build.network,
        command=command,
        # The builder ran a parent's ONBUILD trigger, found among the parent's triggers.
        trigger=stepenv.failed_trigger(quoted, image_config) if quoted else None,
    )


@contextmanager
def ending_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) end the session like Ctrl-C: clean-up runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_debug(
    engine: Engine,
    failed: Failed,
    options: Options,
    console: Console,
    *,
    interactive: bool,
    emit: Callable[[report.Report], None],
    rebuild: Rebuild | None = None,
) -> int:
    """Open the debug environment of a failed step; returns the exit status to end with."""
    if interactive:
        with ending_signals():
            return _sessions(engine, failed, options, console, emit, rebuild)
    rep = failed.report
    with ending_signals():
        if rep.failed_step is None or rep.failed_step.index is None:
            emit(rep)
            console.warn("nothing to debug: the build failed before any step ran")
            return rep.exit_code
        env = step_environment(engine, failed, options, console.env)
        workspace = Workspace(engine, env, uuid.uuid4().hex[:12])
        try:
            return _batch(workspace, failed, options, console, emit)
        finally:
            _close(engine, workspace, rep, options, console)


def _close(
    engine: Engine, workspace: Workspace, rep: report.Report, options: Options, console: Console
) -> None:
    workspace.close()
    if rep.failed_container:
        if options.keep:
            _quiet_write(console, f"dbugbuild: kept failed container {rep.failed_container}\n")
        else:
            engine.remove_container(rep.failed_container)


def _state_home(console: Console) -> str:
    return console.env.get("XDG_STATE_HOME") or os.path.join(
        console.env.get("HOME", os.path.expanduser("~")), ".local", "state"
    )


def _sessions(
    engine: Engine,
    failed: Failed,
    options: Options,
    console: Console,
    emit: Callable[[report.Report], None],
    rebuild: Rebuild | None,
) -> int:
    """Session after session: `:continue` rebuilds, and a new failure opens a new session."""
    while True:
        rep = failed.report
        emit(rep)
        if rep.failed_step is None:  # the rebuild succeeded
            return rep.exit_code
        if rep.failed_step.index is None:
            console.warn("nothing to debug: the build failed before any step ran")
            return rep.exit_code
        env = step_environment(engine, failed, options, console.env)
        workspace = Workspace(engine, env, uuid.uuid4().hex[:12])
        try:
            leave = _interactive(workspace, failed, console)
        finally:
            _close(engine, workspace, rep, options, console)
        if leave != "continue":
            return rep.exit_code
        if rebuild is None:
            console.warn(":continue needs a build; with --log, run dbugbuild on the folder")
            return rep.exit_code
        failed = rebuild()


def _quiet_write(console: Console, text: str) -> None:
    # The terminal may be gone (SIGHUP): clean-up matters more than the message.
    with contextlib.suppress(OSError):
        console.write(text, err=True)


def _writeback(
    failed: Failed,
    line: int | None,
    shell: tuple[str, ...],
    console: Console,
    confirm: Callable[[str], bool],
    say: Callable[[str], None],
) -> WriteBack | None:
    if line is None or failed.source_file is None:
        return None
    try:
        file = DockerfileFile.open(
            failed.source_file, failed.dockerfile_path, failed.source_text, _state_home(console)
        )
    except UsageError:
        return None
    return WriteBack(file, line, shell, confirm, say)


def _interactive(workspace: Workspace, failed: Failed, console: Console) -> str:
    rep = failed.report
    step = rep.failed_step
    assert step is not None
    where = rep.location or rep.dockerfile
    if step.line is not None:
        where = f"{where}:{step.line}"
    facts = Facts(
        where=where,
        message=report.headline(step),
        last_good_image=workspace.env.image,
        failed_container=rep.failed_container,
        diagnosis=banner_text(rep.diagnosis) if rep.diagnosis is not None else None,
    )
    state = _state_home(console)
    session = Session(
        workspace,
        facts,
        write=console.write,
        history=make_history(state, os.path.join(console.cwd, rep.dockerfile)),
        input=console.prompt_input,
        output=console.prompt_output,
    )
    session.writeback = _writeback(
        failed, step.line, workspace.env.shell, console, session.ask, console.write
    )
    return session.loop()


def _batch(
    workspace: Workspace,
    failed: Failed,
    options: Options,
    console: Console,
    emit: Callable[[report.Report], None],
) -> int:
    """--retry and --exec: run, print (live, or into the json report), exit with the last."""
    live = options.format == "text"
    env = workspace.env
    status = failed.report.exit_code

    def run(text: str, argv: tuple[str, ...]) -> report.ExecResult:
        nonlocal status
        if live:
            console.write(f"$ {text}\n")
        else:
            console.write(f"$ {text}\n", err=True)
        try:
            result = workspace.run(argv, lambda t: console.write(t, err=not live))
        except NoShellError as exc:
            console.warn(str(exc))
            status = 127
            return report.ExecResult(text, 127, "")
        console.write(f"-- exit code {result.exit_code} ({result.seconds:.1f}s)\n", err=not live)
        status = result.exit_code
        return report.ExecResult(text, result.exit_code, result.output)

    if live:
        emit(failed.report)
    retry = None
    if options.retry:
        if env.argv is None:
            console.warn("--retry: the failed step ran no command (not a RUN); nothing to retry")
        else:
            retry = run(env.command or " ".join(env.argv), env.argv)
    execs = tuple(run(cmd, env.argv_for(cmd)) for cmd in options.exec)
    notes = failed.report.notes
    if options.apply is not None:
        applied = run(options.apply, env.argv_for(options.apply))
        execs = (*execs, applied)
        notes = (*notes, _apply(failed, applied, env.shell, options, console))
    if failed.report.failed_container and not options.keep:
        notes = (
            *notes,
            "the failed container is removed when the commands are done (--keep keeps it)",
        )
    rep = replace(
        failed.report,
        exec=execs if options.exec or options.apply is not None else None,
        retry=retry,
        notes=notes,
    )
    if not live:
        emit(rep)
    return status


def _apply(
    failed: Failed,
    applied: report.ExecResult,
    shell: tuple[str, ...],
    options: Options,
    console: Console,
) -> str:
    """--apply: write the command back when it worked; returns the note saying what happened."""
    if applied.exit_code != 0:
        return f"--apply: not written: the command exited {applied.exit_code}"
    step = failed.report.failed_step

    def confirm(question: str) -> bool:
        if options.yes:
            return True
        console.write(f"{question} [y/N] ", err=True)
        return console.stdin.readline().strip().lower().startswith("y")

    out = options.format == "text"
    writeback = _writeback(
        failed,
        step.line if step else None,
        shell,
        console,
        confirm,
        lambda text: console.write(text, err=not out),
    )
    if writeback is None:
        return "--apply: not written: no Dockerfile line to write to"
    if writeback.apply(applied.command):
        return f"--apply: wrote {writeback.file.shown}"
    return "--apply: not written"

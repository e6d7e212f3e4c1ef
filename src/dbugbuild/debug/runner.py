"""After a failed build: the step's environment, a labelled workspace, the session(s) or
--exec/--retry, and the clean-up that must happen however the process ends.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import replace

from dbugbuild import report
from dbugbuild.backends import Backend, BuildInputs, DebugLayer, FailureSite
from dbugbuild.console import Console
from dbugbuild.debug import signals, stepenv
from dbugbuild.debug.batch import run_batch
from dbugbuild.debug.commands import Commands, Leave, Subject
from dbugbuild.debug.failed import Failed, Rebuild, state_home, writeback_for
from dbugbuild.debug.signals import ending_signals
from dbugbuild.debug.workspace import Workspace
from dbugbuild.diagnosis import banner_text
from dbugbuild.engine import LABEL, Engine
from dbugbuild.options import Options


def run_debug(
    engine: Engine,
    backend: Backend,
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
            return _sessions(engine, backend, failed, options, console, emit, rebuild)
    rep = failed.report
    with ending_signals():
        if rep.failed_step is None or rep.failed_step.index is None:
            emit(rep)
            console.warn("nothing to debug: the build failed before any step ran")
            return rep.exit_code
        workspace, layer = _open(engine, backend, failed, options, console)
        try:
            workspace.prepare()  # the session's container starts; close() removes it
            return run_batch(workspace, _looked_again(failed, layer), options, console, emit)
        finally:
            _close(engine, workspace, layer, options, console)


def _open(
    engine: Engine, backend: Backend, failed: Failed, options: Options, console: Console
) -> tuple[Workspace, DebugLayer]:
    """The backend's debug layer of the failure, and a new session's workspace in it.

    What the backend made for it (a BuildKit prefix image, volumes) carries the session's
    label: if making it fails or is interrupted, whatever it left is removed here.
    """
    session = uuid.uuid4().hex[:12]
    site = FailureSite(
        report=failed.report,
        log=failed.log,
        dockerfile=failed.dockerfile,
        build_args=stepenv.resolve_build_args(options.build.build_args, console.env),
        network=options.build.network,
        inputs=BuildInputs(
            options=options.build,
            cwd=console.cwd,
            env=console.env,
            dockerfile_text=failed.source_text,
            dockerfile_file=failed.source_file,
            context_given=options.context_given,
            say=lambda text: _quiet_write(console, text),
            show=lambda text: _quiet_write(console, text),
        ),
    )
    try:
        layer = backend.debug_layer(engine, site, engine.labels(session))
    except BaseException:
        with signals.deferred():
            engine.sweep(f"{LABEL}={session}")
            engine.sweep_volumes(f"{LABEL}={session}")
        raise
    workspace = Workspace(
        engine,
        layer.env,
        session,
        console.write,
        mounts=layer.mounts,
        secret_env=layer.secret_env,
    )
    return workspace, layer


def _looked_again(failed: Failed, layer: DebugLayer) -> Failed:
    """The failure with its diagnosis made again, looking inside the layer the backend built
    (a BuildKit prefix image): the build itself left no layer for the first look."""
    step = failed.report.failed_step
    if layer.env.source != "prefix build" or failed.diagnose is None or step is None:
        return failed
    diagnosis = failed.diagnose(step, layer.env.image)
    return replace(failed, report=replace(failed.report, diagnosis=diagnosis))


def _close(
    engine: Engine, workspace: Workspace, layer: DebugLayer, options: Options, console: Console
) -> None:
    """The session's clean-up, which no signal cuts short (a second one is ignored, and one
    that comes during it is raised when it is done)."""
    with signals.deferred():
        try:
            workspace.close()
        finally:
            if layer.cleanup is not None:
                layer.cleanup()
        for container in layer.leftovers:
            if options.keep:
                _quiet_write(console, f"dbugbuild: kept failed container {container}\n")
            else:
                engine.remove_container(container)


def _sessions(
    engine: Engine,
    backend: Backend,
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
        workspace, layer = _open(engine, backend, failed, options, console)
        try:
            workspace.prepare()  # started while the banner and prompt come up; close() removes it
            leave = _interactive(workspace, _looked_again(failed, layer), console)
        finally:
            _close(engine, workspace, layer, options, console)
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


def _interactive(workspace: Workspace, failed: Failed, console: Console) -> Leave:
    # Imported here: only an interactive session needs prompt-toolkit (benchmarks/: ~0.17 s
    # of start-up), not --exec/--retry in CI.
    from dbugbuild.debug.session import Session, make_history

    rep = failed.report
    step = rep.failed_step
    assert step is not None
    where = rep.location or rep.dockerfile
    if step.line is not None:
        where = f"{where}:{step.line}"
    subject = Subject(
        where=where,
        message=report.headline(step),
        last_good_image=workspace.env.image,
        failed_container=rep.failed_container,
        diagnosis=banner_text(rep.diagnosis) if rep.diagnosis is not None else None,
        built_with=report.built_with(rep),
        builder=rep.builder,
        service=rep.service,
    )
    commands = Commands(workspace, subject, console.write)
    session = Session(
        commands,
        history=make_history(state_home(console), os.path.join(console.cwd, rep.dockerfile)),
        input=console.prompt_input,
        output=console.prompt_output,
    )
    commands.ask = session.ask
    commands.writeback = writeback_for(
        failed, step.line, workspace.env.shell, console, session.ask, console.write
    )
    return session.loop()

"""--exec, --retry and --apply: commands run in the failed step's environment without a terminal,
their output live (text) or in the JSON report, the exit status the last command's."""

from __future__ import annotations

from collections.abc import Callable

from dbugbuild import report
from dbugbuild.console import Console
from dbugbuild.debug.failed import Failed, writeback_for
from dbugbuild.debug.workspace import Workspace
from dbugbuild.errors import ExitCode, NoShellError, WriteRefusedError
from dbugbuild.options import Options


class _Interrupted(Exception):
    """Ctrl-C stopped a command of the batch: the rest must not run (a cancelled CI job)."""


def run_batch(
    workspace: Workspace,
    failed: Failed,
    options: Options,
    console: Console,
    emit: Callable[[report.Report], None],
) -> int:
    """--retry and --exec: run, print (live, or into the json report), exit with the last;
    Ctrl-C stops the batch (exit 130), the commands run so far reported."""
    live = options.format == "text"
    env = workspace.env
    status = failed.report.exit_code
    retried: list[report.ExecResult] = []
    execs: list[report.ExecResult] = []

    def run(text: str, argv: tuple[str, ...], into: list[report.ExecResult]) -> report.ExecResult:
        nonlocal status
        console.write(f"$ {text}\n", err=not live)
        try:
            result = workspace.run(argv, lambda t: console.write(t, err=not live))
        except NoShellError as exc:
            console.warn(str(exc))
            status = 127
            into.append(report.ExecResult(text, 127, ""))
            return into[-1]
        note = " (interrupted)" if result.interrupted else ""
        console.write(
            f"-- exit code {result.exit_code}{note} ({result.seconds:.1f}s)\n", err=not live
        )
        status = result.exit_code
        into.append(report.ExecResult(text, result.exit_code, result.output, result.cut or None))
        if result.interrupted:
            raise _Interrupted
        return into[-1]

    if live:
        emit(failed.report)
    for line in env.emulated:  # what the debug container emulates of the step (its mounts)
        console.write(f"dbugbuild: {line}\n", err=True)
    notes: tuple[str, ...] = ()
    refused: WriteRefusedError | None = None  # raised once the report is out
    try:
        if options.retry:
            if env.argv is None:
                console.warn(
                    "--retry: the failed step ran no command (not a RUN); nothing to retry"
                )
            else:
                run(env.command or " ".join(env.argv), env.argv, retried)
        for cmd in options.exec:
            run(cmd, env.argv_for(cmd), execs)
        if options.apply is not None:
            applied = run(options.apply, env.argv_for(options.apply), execs)
            try:
                notes = (*notes, _apply(failed, applied, env.shell, options, console))
            except WriteRefusedError as exc:
                refused = exc
                notes = (*notes, f"--apply: not written: {exc.message}")
    except _Interrupted:
        status = int(ExitCode.INTERRUPTED)
        notes = (*notes, "interrupted (Ctrl-C): the commands after it did not run")
        console.write("dbugbuild: interrupted; the commands after it did not run\n", err=True)
    if failed.report.failed_container and not options.keep:
        notes = (
            *notes,
            "the failed container is removed when the commands are done (--keep keeps it)",
        )
    if not live:
        emit(
            failed.report.with_commands(
                exec=tuple(execs) if options.exec or options.apply is not None else None,
                retry=retried[0] if retried else None,
                notes=notes,
            )
        )
    if refused is not None:
        raise refused  # the error boundary's one line, and its exit code
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
    writeback = writeback_for(
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
    if failed.write_refusal is not None:
        return f"--apply: not written: {failed.write_refusal}"
    return "--apply: not written"

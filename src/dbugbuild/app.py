"""Orchestration only: choose a backend, build (or read a saved log), locate the failure, then
report it, debug it or bisect the build.

Owns the order of things and where output goes. The parsing, mapping, diagnosis and
rendering it calls are pure; the inputs' files are read by inputs.py; only the engine
talks to Docker. The debug phase and the bisect driver are imported when needed: a
report-only run (CI, an IDE task) pays for neither.

The reports' two sources (a build, a saved log) are outcome.py's; a build starts before
the rest of dbugbuild loads (see there).
"""

from __future__ import annotations

import os
from dataclasses import replace

from dbugbuild import inputs
from dbugbuild.debug.signals import ending_signals
from dbugbuild.errors import UsageError
from dbugbuild.options import Options
from dbugbuild.outcome import Outcome, connect, from_build, from_log

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Callable

    from dbugbuild import report
    from dbugbuild.command_options import BisectOptions
    from dbugbuild.console import Console
    from dbugbuild.debug.failed import Failed

    Emit = Callable[[report.Report], None]  # shows a report (stdout in options.format)


def run(options: Options, console: Console, emit: Emit | None = None) -> int:
    """Run dbugbuild for parsed options; returns the exit status (the build's own on failure);
    `emit` shows each report (default: in options.format on stdout).

    SIGTERM and SIGHUP unwind like Ctrl-C for the whole run: a build is cancelled and a
    Podman service dbugbuild started is stopped, whatever phase the signal arrives in."""
    show = emit or (lambda r: _emit(r, options, console))
    if options.apply is not None and not options.yes and not console.stdin_isatty:
        raise UsageError(
            "--apply cannot ask before writing: stdin is not a terminal",
            "Add --yes to write without asking",
        )
    with ending_signals():
        return _run(options, console, show)


def _run(options: Options, console: Console, show: Emit) -> int:
    # --exec, --retry and --apply run their batch, in a terminal too (README: no session).
    batch = bool(options.exec or options.retry or options.apply is not None)
    interactive = (
        not batch
        and not options.no_shell
        and options.format == "text"
        and console.stdin_isatty
        and console.stdout_isatty
    )
    wants_debug = batch or interactive
    if options.log is not None:
        outcome = from_log(options, console)
    else:
        outcome = from_build(
            options,
            console,
            lambda: connect(console, options.build.backend),
            debug_follows=wants_debug,
            session_follows=interactive,
        )
    backend = outcome.backend
    try:
        result = outcome.report
        if result.failed_step is None or not wants_debug:
            show(_removal_noted(result, options))
            return result.exit_code
        if outcome.engine is None:
            outcome.engine = connect(console, backend.name)[0]
        from dbugbuild.debug.runner import run_debug  # see the module's docstring

        engine, choice = outcome.engine, outcome.choice

        def rebuild() -> Failed:
            # Never --no-cache: the first build refreshed its layers; the rebuild reuses them.
            again_options = replace(options, build=replace(options.build, no_cache=False))
            again = from_build(again_options, console, lambda: (engine, None), choice=choice)
            return _failed(again, console, options)

        return run_debug(
            engine,
            backend,
            _failed(outcome, console, options),
            options,
            console,
            interactive=interactive,
            emit=show,
            rebuild=rebuild if options.log is None else None,
        )
    finally:
        if outcome.engine is not None:
            outcome.engine.close()


def _removal_noted(result: report.Report, options: Options) -> report.Report:
    """A report-only run's report, saying that the build's failed container goes (engine.close
    removes it: the classic builder was dbugbuild's choice, and a user's own build never left
    it behind, since BuildKit keeps nothing), unless --keep keeps it."""
    if options.log is not None or options.keep or not result.failed_container:
        return result
    note = f"the failed container {result.failed_container} is removed (--keep keeps it)"
    return replace(result, notes=(*result.notes, note))


def _failed(outcome: Outcome, console: Console, options: Options) -> Failed:
    """The outcome as the debug phase takes it."""
    from dbugbuild.debug.failed import Failed

    source = outcome.source
    return Failed(
        report=outcome.report,
        log=outcome.log,
        dockerfile=source.model,
        dockerfile_path=source.shown,
        source_text=source.text,
        source_file=None if source.stdin else os.path.join(console.cwd, source.shown),
        diagnose=outcome.diagnose,
        compose=options.compose,
    )


def run_bisect(options: BisectOptions, console: Console) -> int:
    """`dbugbuild bisect`: which step of the build (or of --image's history) changed the check.

    The build runs as for a report (its output shown as docker shows it); bisect.driver
    picks the layers and probes them. Exit status: docs/bisect.md.
    """
    from dbugbuild.bisect import driver  # see the module's docstring

    if options.image is not None:
        source = None
        if options.dockerfile_given:
            source = inputs.dockerfile_source(options.build, console, required=True)
        engine = connect(console, options.build.backend)[0]
        try:
            return driver.run_image(engine, options, source, console)
        finally:
            engine.close()
    as_report = Options(
        build=options.build, no_shell=True, format=options.format, color=options.color
    )
    with ending_signals():
        outcome = from_build(as_report, console, lambda: connect(console, options.build.backend))
    built = outcome.engine
    assert built is not None  # a build always connects
    try:
        status = driver.run_build(
            built, outcome.report, outcome.log, outcome.source, options, console, outcome.backend
        )
        if status is None:  # the build made no layer in the stage: report it as dbugbuild does
            _emit(outcome.report, as_report, console)
            failed = outcome.report.failed_step
            at = f" at step {failed.index}" if failed is not None and failed.index else ""
            console.warn(
                f"nothing to bisect: the build failed{at} before the stage made a layer; "
                "fix the build first, or give --stage a stage that ran"
            )
            return outcome.report.exit_code
        return status
    finally:
        built.close()


# -- output -------------------------------------------------------------------


def _emit(result: report.Report, options: Options, console: Console) -> None:
    from dbugbuild import report

    console.emit(
        options.format,
        options.color,
        text=lambda color: report.render_text(result, color=color),
        json=lambda: report.render_json(result),
        gcc=lambda: report.render_gcc(result),
        notes=result.notes,
    )

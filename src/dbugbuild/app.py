"""Orchestration only: choose a backend, build (or read a saved log), locate the failure, then
report it, debug it or bisect the build.

Owns the order of things and where output goes. The parsing, mapping, diagnosis and
rendering it calls are pure; the inputs' files are read by inputs.py; only the engine
talks to Docker. The debug phase and the bisect driver are imported when needed: a
report-only run (CI, an IDE task) pays for neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dbugbuild import backends, diagnosis, inputs, logs, report
from dbugbuild.backends import Backend
from dbugbuild.console import Console
from dbugbuild.debug import signals
from dbugbuild.debug.signals import ending_signals
from dbugbuild.engine import Engine, look, reach
from dbugbuild.errors import BadInputError, DbugbuildError, UsageError
from dbugbuild.inputs import DockerfileSource
from dbugbuild.options import BisectOptions, BuildOptions, Options
from dbugbuild.report import Diagnose

if TYPE_CHECKING:
    from dbugbuild.debug.failed import Failed


# Reach the engine: it, and why Podman is the builder there (engine/reach.py; None: it is not).
Connect = Callable[[], tuple[Engine, str | None]]


def _connect(console: Console, backend: str) -> tuple[Engine, str | None]:
    """The engine for --backend `backend` (or the backend chosen), as engine/reach.py finds it."""
    engine, podman = reach.reach(console.env, backend, console.warn)
    engine.deferred = signals.deferred  # what it creates and removes, no signal cuts in two
    return engine, podman


def _choose(
    build: BuildOptions, source: DockerfileSource, console: Console, podman: str | None
) -> backends.Choice:
    """The backend for a build: backends/choice.py's decision, refused when it cannot be."""
    env = console.env.get("DOCKER_BUILDKIT")
    return backends.choose_for(build, source.model, source.text, env, podman)


_UNRECOGNISED = "dbugbuild did not recognise this error: please report it"
Emit = Callable[[report.Report], None]  # shows a report (stdout in options.format)


@dataclass
class _Outcome:
    report: report.Report
    log: logs.BuildLog
    source: DockerfileSource
    engine: Engine | None
    backend: Backend
    choice: backends.Choice
    diagnose: Diagnose | None = None  # again, in a layer the debug phase made


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
    if options.log is not None:
        outcome = _report_from_log(options, console)
    else:
        outcome = _report_from_build(
            options, console, lambda: _connect(console, options.build.backend)
        )
    backend = outcome.backend
    try:
        result = outcome.report
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
        if result.failed_step is None or not wants_debug:
            show(_removal_noted(result, options))
            return result.exit_code
        if outcome.engine is None:
            outcome.engine = _connect(console, backend.name)[0]
        from dbugbuild.debug.runner import run_debug  # see the module's docstring

        engine, choice = outcome.engine, outcome.choice

        def rebuild() -> Failed:
            # Never --no-cache: the first build refreshed its layers; the rebuild reuses them.
            again_options = replace(options, build=replace(options.build, no_cache=False))
            again = _report_from_build(
                again_options, console, lambda: (engine, None), choice=choice
            )
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


def _failed(outcome: _Outcome, console: Console, options: Options) -> Failed:
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
        engine = _connect(console, options.build.backend)[0]
        try:
            return driver.run_image(engine, options, source, console)
        finally:
            engine.close()
    as_report = Options(
        build=options.build, no_shell=True, format=options.format, color=options.color
    )
    with ending_signals():
        outcome = _report_from_build(
            as_report, console, lambda: _connect(console, options.build.backend)
        )
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


# -- the two sources of a report ----------------------------------------------


def _report_from_build(
    options: Options,
    console: Console,
    connect: Connect,
    choice: backends.Choice | None = None,
) -> _Outcome:
    """Build with the chosen backend (`choice`, else chosen here), its output relayed; the
    engine is connected once the inputs are there (and closed here if the build fails to
    report). A backend forced by --backend is chosen (and refused) before connecting; auto
    is chosen once the engine says whether it is Podman's."""
    opts = options.build
    inputs.context_dir(opts.context, console)
    source = inputs.dockerfile_source(opts, console, required=True)
    if choice is None and opts.backend != "auto":
        choice = _choose(opts, source, console, None)
    engine, podman = connect()
    try:
        choice = choice or _choose(opts, source, console, podman)
        backend = backends.backend(choice.backend)
        parser = backend.log_parser()
        machine = options.format != "text"

        errors: list[str] = []  # the builder's stderr, kept to name an error the parser misses

        def sink(text: str, from_stderr: bool) -> None:
            # The stdout/stderr split is kept for people; a machine format owns stdout.
            console.write(text, err=from_stderr or machine)
            parser.feed(text)
            if from_stderr:
                errors.append(text)

        piped = source.text.encode() if source.stdin and source.text is not None else None
        command = backend.build_command(opts, console.cwd, piped)
        status = engine.build(command, sink, keep=options.keep)
        cli = command.program
        said = [ln.strip() for ln in "".join(errors).splitlines() if ln.strip()]
        last = logs.strip_ansi(said[-1]) if said else None  # the builder's last error line
        try:
            log = parser.close()
        except logs.LogFormatError as exc:
            raise UsageError(
                f"{cli} build failed before the build started (exit {status})"
                + (f": {last}" if last else ""),
                f"See {cli}'s message above",
            ) from exc
        again = inputs.dockerfile_source(opts, console, required=False)
        if not source.stdin and again.digest != source.digest:
            console.warn(f"{source.shown} changed during the build; its lines may not match")
        unrecognised = status != 0 and log.failure is None
        if unrecognised:
            # The builder failed with an error the parser does not know: report a failure with
            # its last error line rather than a success (the exit status is the truth).
            message = (last or f"{cli} build exited {status}").removeprefix(
                "Error response from daemon: "
            )
            log = replace(log, failure=logs.Failure(message, None, None, None, False))
        notes = [_UNRECOGNISED] if unrecognised else []
        if choice.conflict:
            notes.append(choice.conflict)
        notes += options.compose.notes if options.compose is not None else ()
        diagnose = _diagnosis(log, source, opts, console, lambda: engine, known_secrets=True)
        result = _locate(
            log,
            source,
            opts,
            backend,
            backend.parent_image(log, engine),
            notes=notes,
            diagnose=diagnose,
            choice=choice,
            service=options.compose.name if options.compose is not None else None,
        )
        if log.succeeded == (status != 0):
            raise DbugbuildError(
                f"{cli} build exited {status} but its output says the build "
                + ("succeeded" if log.succeeded else "failed"),
                "Please report this with the build output",
            )
        return _Outcome(result, log, source, engine, backend, choice, diagnose)
    except BaseException:
        engine.close()
        raise


def _report_from_log(options: Options, console: Console) -> _Outcome:
    opts = options.build
    log = inputs.saved_log(options.log, console)
    backend = backends.for_family(log.family)  # read as its builder's
    choice = backends.Choice(backend.name, "log", f"the log is the {log.family} builder's output")
    if not log.succeeded and log.failure is None:
        raise BadInputError(
            f"{inputs.log_name(options.log)} ends before the build did (no image "
            "and no error): it was cut off",
            "Save the whole output of the build",
        )
    source = inputs.dockerfile_source(opts, console, required=False)
    reached: list[Engine | None] = []

    def lazy_engine() -> Engine | None:
        # A log needs no daemon; one that is there (with the log's images) sharpens the report.
        if not reached:
            try:
                reached.append(_connect(console, backend.name)[0])
            except DbugbuildError:
                reached.append(None)
        return reached[0]

    notes = [f"no Dockerfile at {source.shown}: lines not mapped"] if source.text is None else []
    if source.text is None and log.failure is not None and log.failure.span is not None:
        named = log.failure.dockerfile or "Dockerfile"
        notes = [f"no Dockerfile at {source.shown}: its lines are from the log's excerpt ({named})"]
    try:
        parent = None
        if log.parent_unknown:  # only the daemon knows it: the log never prints its id
            engine = lazy_engine()
            parent = backend.parent_image(log, engine) if engine is not None else None
        diagnose = _diagnosis(log, source, opts, console, lazy_engine, bool(opts.secrets))
        result = _locate(
            log, source, opts, backend, parent, notes=notes, diagnose=diagnose, choice=choice
        )
    except BaseException:
        if reached and reached[0] is not None:
            reached[0].close()
        raise
    return _Outcome(result, log, source, reached[0] if reached else None, backend, choice, diagnose)


def _locate(
    log: logs.BuildLog,
    source: DockerfileSource,
    opts: BuildOptions,
    backend: Backend,
    parent: str | None,
    *,
    notes: list[str],
    diagnose: report.Diagnose,
    choice: backends.Choice,
    service: str | None = None,
) -> report.Report:
    """The report, built once: located, noted, diagnosed."""
    return report.locate(
        log,
        dockerfile=source.model,
        source=source.text,
        dockerfile_path=source.shown,
        location=source.location,
        target=opts.target,
        labels=opts.labels,
        parent_image=parent,
        notes=notes,
        diagnose=diagnose,
        builder=backend.name,
        builder_choice=report.BuilderChoice(choice.by, choice.reason, choice.line),
        service=service,
    )


def _diagnosis(
    log: logs.BuildLog,
    source: DockerfileSource,
    opts: BuildOptions,
    console: Console,
    engine: Callable[[], Engine | None],
    known_secrets: bool,
) -> report.Diagnose:
    """The located failure's diagnosis (engine/look.py); `known_secrets`: the build's --secret
    options are `opts.secrets` (a saved log's build may have had others)."""
    context_dir = os.path.join(console.cwd, opts.context)
    return look.diagnoser(
        log,
        dockerfile_text=source.text,
        context=opts.context,
        read_context=(
            (lambda: inputs.context_listing(context_dir)) if os.path.isdir(context_dir) else None
        ),
        secrets=diagnosis.secret_ids(opts.secrets) if known_secrets else None,
        engine=engine,
    )


# -- output -------------------------------------------------------------------


def _emit(result: report.Report, options: Options, console: Console) -> None:
    console.emit(
        options.format,
        options.color,
        text=lambda color: report.render_text(result, color=color),
        json=lambda: report.render_json(result),
        gcc=lambda: report.render_gcc(result),
        notes=result.notes,
    )

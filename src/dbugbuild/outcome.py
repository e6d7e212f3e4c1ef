"""The two sources of a report: a build (its CLI run, its output relayed and parsed as it
comes) or a saved log; either located and diagnosed once, as app.py's phases take it.

A build's CLI is started before anything it does not need is loaded: only the inputs, the
backend's choice and its command come before it (no docker-py, no parser tables); the log
parser, the report, the diagnosis and the API client load while it runs (_Preload, and
Engine.connect_soon's thread).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from dbugbuild import backends, inputs
from dbugbuild.errors import BadInputError, DbugbuildError, UsageError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Callable

    from dbugbuild import logs, report
    from dbugbuild.backends import Backend
    from dbugbuild.console import Console
    from dbugbuild.engine import Engine
    from dbugbuild.inputs import DockerfileSource
    from dbugbuild.options import BuildOptions, Options
    from dbugbuild.report import Diagnose

    # Reach the engine: it, and why Podman is the builder there (engine/reach.py; None: it
    # is not).
    Connect = Callable[[], tuple[Engine, str | None]]


def connect(console: Console, backend: str) -> tuple[Engine, str | None]:
    """The engine for --backend `backend` (or the backend chosen), as engine/reach.py finds it."""
    from dbugbuild.debug import signals
    from dbugbuild.engine import reach

    engine, podman = reach.reach(console.env, backend, console.warn)
    engine.deferred = signals.deferred  # what it creates and removes, no signal cuts in two
    return engine, podman


def _choose(
    build: BuildOptions, source: DockerfileSource, console: Console, podman: str | None
) -> backends.Choice:
    """The backend for a build: backends/choice.py's decision, refused when it cannot be."""
    env = console.env.get("DOCKER_BUILDKIT")
    if not backends.reads_dockerfile(build.backend, env, podman):  # noted() after the start
        return backends.choose_for(build, None, None, env, podman)
    return backends.choose_for(build, source.model, source.text, env, podman)


_UNRECOGNISED = "dbugbuild did not recognise this error: please report it"


@dataclass
class Outcome:
    """A report with what it was made from, and the engine it was made with (if any)."""

    report: report.Report
    log: logs.BuildLog
    source: DockerfileSource
    engine: Engine | None
    backend: Backend
    choice: backends.Choice
    diagnose: Diagnose | None = None  # again, in a layer the debug phase made


def from_build(
    options: Options,
    console: Console,
    connect: Connect,
    choice: backends.Choice | None = None,
    *,
    debug_follows: bool = True,
    session_follows: bool = False,
) -> Outcome:
    """Build with the chosen backend (`choice`, else chosen here), its output relayed; the
    engine is connected once the inputs are there (and closed here if the build fails to
    report). A backend forced by --backend is chosen (and refused) before connecting; auto
    is chosen once the engine says whether it is Podman's. The API is reached while the
    build runs when the report or the debug phase (`debug_follows`) will use it; a BuildKit
    build's report alone never does (docker-py is then not even imported). The debug
    phase's modules load while it runs too, and the session's (prompt-toolkit) when one
    follows (`session_follows`)."""
    opts = options.build
    inputs.context_dir(opts.context, console)
    source = inputs.dockerfile_source(opts, console, required=True)
    if choice is None and opts.backend != "auto":
        choice = _choose(opts, source, console, None)
    engine, podman = connect()
    preload = _Preload(debug_follows, session_follows)
    try:
        choice = choice or _choose(opts, source, console, podman)
        backend = backends.backend(choice.backend)
        machine = options.format != "text"
        parsers: list[logs.LogParser] = []  # made once the build runs (its modules load then)

        errors: list[str] = []  # the builder's stderr, kept to name an error the parser misses

        def started() -> None:
            preload.start()
            parsers.append(backend.log_parser())

        def sink(text: str, from_stderr: bool) -> None:
            # The stdout/stderr split is kept for people; a machine format owns stdout.
            console.write(text, err=from_stderr or machine)
            parsers[0].feed(text)
            if from_stderr:
                errors.append(text)

        piped = source.text.encode() if source.stdin and source.text is not None else None
        command = backend.build_command(opts, console.cwd, piped)
        # docker-py is made in a thread while the build runs only for a debug phase: what a
        # report asks (classic's last good image, its failed container's removal) is plain
        # requests on a local socket (engine/plainapi.py), Podman's report looks through its
        # CLI, BuildKit's asks nothing; docker-py's import would take the build's CPU.
        status = engine.build(command, sink, started, keep=options.keep, api_soon=debug_follows)
        if not debug_follows and not options.keep:
            engine.let_go_soon()  # the failed container goes while the report is made
        preload.join()
        from dbugbuild import logs

        parser = parsers[0] if parsers else backend.log_parser()
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
        if not source.stdin and again.text != source.text:  # (no digest: hashlib is 4 ms)
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
        choice = backends.noted(choice, source.model, source.text, opts)
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
        return Outcome(result, log, source, engine, backend, choice, diagnose)
    except BaseException:
        preload.join(everything=True)
        engine.close()
        raise


class _Preload:
    """What a build's report needs (the report, the diagnosis, the layer's look), imported in
    a thread while the build runs: the main thread only relays the build's output then.
    Then what follows the report: the debug phase (`debug`), its session (`session`:
    prompt-toolkit, ~150 ms of a failure's way to the prompt when it loaded only then)."""

    def __init__(self, debug: bool, session: bool) -> None:
        import threading

        self._debug, self._session = debug, session
        self._report = threading.Event()  # the report's modules are in
        self._thread = threading.Thread(target=self._imports, name="dbugbuild-preload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, everything: bool = False) -> None:
        """Wait for the report's modules (`everything`: for the rest too; the debug phase
        otherwise takes its modules as they come, an import in progress waits for itself)."""
        if self._thread.ident is not None:
            if everything:
                self._thread.join()
            else:
                self._report.wait()

    def _imports(self) -> None:
        try:
            import dbugbuild.engine.look
            import dbugbuild.report
        finally:
            self._report.set()
        if not self._debug:
            return
        try:
            import dbugbuild.debug.runner

            if self._session:
                import dbugbuild.debug.session  # noqa: F401
        except Exception:  # the debug phase's own import says what is wrong
            pass


def from_log(options: Options, console: Console) -> Outcome:
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
                reached.append(connect(console, backend.name)[0])
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
    return Outcome(result, log, source, reached[0] if reached else None, backend, choice, diagnose)


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
    from dbugbuild import report

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
    from dbugbuild import diagnosis
    from dbugbuild.engine import look

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

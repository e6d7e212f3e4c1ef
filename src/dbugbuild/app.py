"""Orchestration: build (or read a saved log) -> locate the failure -> report.

Owns the order of things and where output goes; the parsing, mapping and
rendering it calls are pure, and only engine.py talks to Docker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from dbugbuild import dockerfile, facts, logs, report, writeback
from dbugbuild.console import Console
from dbugbuild.engine import BuildCommand, Engine, build_argv
from dbugbuild.errors import BadInputError, DbugbuildError, NoInputError, UsageError
from dbugbuild.options import BisectOptions, BuildOptions, CleanOptions, Options
from dbugbuild.report import locate
from dbugbuild.report.style import short_id

Connect = Callable[[Console], Engine]

if TYPE_CHECKING:
    from dbugbuild import debug


def connect_engine(console: Console) -> Engine:
    return Engine.connect(console.env)


@dataclass(frozen=True)
class _DockerfileSource:
    shown: str  # the path as the user gave it (or the default)
    location: str  # relative to the working directory, for editors
    text: str | None  # None when there is no such file (only allowed with --log)
    stdin: bool = False

    @property
    def digest(self) -> str | None:
        return writeback.digest(self.text) if self.text is not None else None

    @cached_property
    def model(self) -> dockerfile.Dockerfile | None:
        """The parsed Dockerfile, once per read (None when absent or not parsable)."""
        return _parse_dockerfile(self.text)


@dataclass
class _Outcome:
    report: report.Report
    log: logs.BuildLog
    source: _DockerfileSource
    engine: Engine | None


def run(options: Options, console: Console, connect: Connect = connect_engine) -> int:
    """Run dbugbuild for parsed options; returns the exit status (the build's own on failure)."""
    if options.apply is not None and not options.yes and not console.stdin_isatty:
        raise UsageError(
            "--apply cannot ask before writing: stdin is not a terminal",
            "Add --yes to write without asking",
        )
    if options.log is not None:
        outcome = _report_from_log(options, console, connect)
    else:
        outcome = _report_from_build(options, console, connect)
    try:
        result = outcome.report
        interactive = (
            not options.no_shell
            and options.format == "text"
            and console.stdin_isatty
            and console.stdout_isatty
        )
        wants_debug = bool(options.exec or options.retry or options.apply) or interactive
        if result.failed_step is None or not wants_debug:
            _emit(result, options, console)
            return result.exit_code
        if outcome.engine is None:
            outcome.engine = connect(console)
        # Imported here: the session pulls in prompt-toolkit, which a report-only run
        # (CI, IDE tasks) does not need to pay for at start-up (benchmarks/: ~0.17 s).
        from dbugbuild import debug

        engine = outcome.engine

        def rebuild() -> debug.Failed:
            again = _report_from_build(rebuild_options(options), console, lambda _: engine)
            return _failed(again, console)

        return debug.run_debug(
            engine,
            _failed(outcome, console),
            options,
            console,
            interactive=interactive,
            emit=lambda r: _emit(r, options, console),
            rebuild=rebuild if options.log is None else None,
        )
    finally:
        if outcome.engine is not None:
            outcome.engine.close()


def rebuild_options(options: Options) -> Options:
    """The options `:continue` rebuilds with: the same, but never --no-cache. The first build
    already refreshed every layer it made; the rebuild after a fix reuses them."""
    return replace(options, build=replace(options.build, no_cache=False))


def _failed(outcome: _Outcome, console: Console) -> debug.Failed:
    """The outcome as the debug phase takes it (debug is imported late: see run)."""
    from dbugbuild import debug

    source = outcome.source
    return debug.Failed(
        report=outcome.report,
        log=outcome.log,
        dockerfile=source.model,
        dockerfile_path=source.shown,
        source_text=source.text,
        source_file=None if source.stdin else os.path.join(console.cwd, source.shown),
    )


def clean(options: CleanOptions, console: Console, connect: Connect = connect_engine) -> int:
    """`dbugbuild clean`: remove the containers and images dbugbuild runs left (by label): all
    of them, or only those that also carry --label and DBUGBUILD_LABELS' labels."""
    engine = connect(console)
    try:
        scope = [f"{k}={v}" for k, v in engine.run_labels.items()]
        containers, images = engine.sweep(*scope, *options.labels)
    finally:
        engine.close()
    for cid in containers:
        console.write(f"removed container {short_id(cid)}\n")
    for iid in images:
        console.write(f"removed image {short_id(iid)}\n")
    console.write(
        f"dbugbuild clean: removed {len(containers)} container(s), {len(images)} image(s)\n"
    )
    return 0


def bisect(options: BisectOptions, console: Console, connect: Connect = connect_engine) -> int:
    """`dbugbuild bisect`: which step of the build (or of --image's history) changed the check.

    The build runs as for a report (its output shown as docker shows it); bisecting.py
    picks the layers and probes them. Exit status: docs/bisect.md.
    """
    # Imported here, as debug is in run(): plain runs need not load the probes' modules.
    from dbugbuild import bisecting

    if options.image is not None:
        source = None
        if options.dockerfile_given:
            given = _dockerfile_source(options.build, console, required=True)
            source = bisecting.Source(given.shown, given.location, given.text)
        engine = connect(console)
        try:
            model = _parse_dockerfile(source.text if source is not None else None)
            return bisecting.run_image(engine, options, model, source, console)
        finally:
            engine.close()
    as_report = Options(
        build=options.build, no_shell=True, format=options.format, color=options.color
    )
    outcome = _report_from_build(as_report, console, connect)
    built = outcome.engine
    assert built is not None  # a build always connects
    try:
        src = outcome.source
        status = bisecting.run_build(
            built,
            outcome.report,
            outcome.log,
            src.model,
            bisecting.Source(src.shown, src.location, src.text),
            options,
            console,
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


def _report_from_build(options: Options, console: Console, connect: Connect) -> _Outcome:
    opts = options.build
    _context_dir(opts.context, console)
    source = _dockerfile_source(opts, console, required=True)
    engine = connect(console)
    try:
        parser = logs.parser()
        machine = options.format != "text"

        errors: list[str] = []  # docker's stderr, kept to name an error the parser misses

        def sink(text: str, from_stderr: bool) -> None:
            # Docker's stdout/stderr split is kept for people; a machine format owns stdout.
            console.write(text, err=from_stderr or machine)
            parser.feed(text)
            if from_stderr:
                errors.append(text)

        command = BuildCommand(
            argv=build_argv(
                dockerfile=opts.file,
                tags=opts.tags,
                build_args=opts.build_args,
                target=opts.target,
                no_cache=opts.no_cache,
                pull=opts.pull,
                network=opts.network,
                platform=opts.platform,
                labels=opts.labels,
                context=opts.context,
            ),
            cwd=console.cwd,
            stdin_data=source.text.encode() if source.stdin and source.text is not None else None,
        )
        status = engine.build(command, sink)
        try:
            log = parser.close()
        except logs.LogFormatError as exc:
            raise UsageError(
                f"docker build failed before the build started (exit {status})",
                "See docker's message above",
            ) from exc
        if not source.stdin and _dockerfile_source(opts, console, required=False).digest != (
            source.digest
        ):
            console.warn(f"{source.shown} changed during the build; its lines may not match")
        unrecognised = status != 0 and log.failure is None
        if unrecognised:
            # Docker failed with an error the parser does not know: report a failure with
            # docker's last error line rather than a success (the exit status is the truth).
            lines = [ln.strip() for ln in "".join(errors).splitlines() if ln.strip()]
            message = logs.strip_ansi(lines[-1]) if lines else f"docker build exited {status}"
            log = replace(
                log,
                failure=logs.Failure(message.removeprefix("Error response from daemon: "),
                                         None, None, None, False),
            )  # fmt: skip
        parent = _trigger_parent(log, engine)
        result = _locate(log, source, opts, parent)
        if unrecognised:
            result = _with_note(result, "dbugbuild did not recognise this error: please report it")
        result = _explain(result, log, source, opts, console, lambda: engine)
        if log.succeeded == (status != 0):
            raise DbugbuildError(
                f"docker build exited {status} but its output says the build "
                + ("succeeded" if log.succeeded else "failed"),
                "Please report this with the build output",
            )
        return _Outcome(result, log, source, engine)
    except BaseException:
        engine.close()
        raise


def _report_from_log(options: Options, console: Console, connect: Connect) -> _Outcome:
    opts = options.build
    text = _read_log(options.log or "-", console)
    try:
        log = logs.read(text)
    except logs.LogFormatError as exc:
        raise BadInputError(
            f"{_log_name(options.log)} is not a classic docker build log: {exc}",
            "Save the output of 'DOCKER_BUILDKIT=0 docker build ... 2>&1' and pass that file",
        ) from exc
    if log.failure is None and log.image is None:
        raise BadInputError(
            f"{_log_name(options.log)} ends before the build did (no 'Successfully built' "
            "and no error): it was cut off",
            "Save the whole output of the build",
        )
    source = _dockerfile_source(opts, console, required=False)
    parent = None
    engine: Engine | None = None
    if log.failure is not None and log.failure.in_trigger:
        # Only the daemon knows the parent image's id; the log never prints it.
        try:
            engine = connect(console)
        except DbugbuildError:
            engine = None
        if engine is not None:
            parent = _trigger_parent(log, engine)
    result = _locate(log, source, opts, parent)
    if source.text is None:
        result = _with_note(result, f"no Dockerfile at {source.shown}: lines not mapped")
    reached: list[Engine | None] = [engine]

    def lazy_engine() -> Engine | None:
        # A log needs no daemon; one that is there (with the log's images) sharpens the diagnosis.
        if reached[0] is None:
            try:
                reached[0] = connect(console)
            except DbugbuildError:
                return None
        return reached[0]

    result = _explain(result, log, source, opts, console, lazy_engine)
    return _Outcome(result, log, source, reached[0])


def _locate(
    log: logs.BuildLog,
    source: _DockerfileSource,
    opts: BuildOptions,
    parent: str | None,
) -> report.Report:
    return locate(
        log,
        dockerfile=source.model,
        source=source.text,
        dockerfile_path=source.shown,
        location=source.location,
        target=opts.target,
        labels=opts.labels,
        parent_image=parent,
    )


def _explain(
    result: report.Report,
    log: logs.BuildLog,
    source: _DockerfileSource,
    opts: BuildOptions,
    console: Console,
    engine: Callable[[], Engine | None],
) -> report.Report:
    """The report with its diagnosis: facts.py looks in the build context and, through the
    engine, read-only in the last good layer; diagnosis.py's rules decide."""
    context_dir = os.path.join(console.cwd, opts.context)
    return facts.explain(
        result,
        dockerfile=source.model,
        dockerfile_text=source.text,
        in_trigger=log.failure is not None and log.failure.in_trigger,
        context=opts.context,
        context_dir=context_dir if os.path.isdir(context_dir) else None,
        engine=engine,
    )


def _trigger_parent(log: logs.BuildLog, engine: Engine) -> str | None:
    """The image whose ONBUILD trigger failed: the failing FROM step's base, by the daemon."""
    step = log.failed_step
    if log.failure is None or not log.failure.in_trigger or step is None:
        return None
    ref = step.text.split(None, 1)[1] if " " in step.text else ""
    words = [w for w in ref.split() if not w.startswith("--")]
    if not words:
        return None
    image = engine.image_id(words[0])
    return short_id(image) if image and image.startswith("sha256:") else image


def _parse_dockerfile(text: str | None) -> dockerfile.Dockerfile | None:
    if text is None:
        return None
    try:
        return dockerfile.parse(text)
    except dockerfile.DockerfileSyntaxError:
        # The daemon is the judge of syntax: its error is in the log and becomes the report.
        return None


def _with_note(result: report.Report, note: str) -> report.Report:
    return replace(result, notes=(*result.notes, note))


# -- inputs -------------------------------------------------------------------


def _is_remote(context: str) -> bool:
    return context.startswith(("http://", "https://", "git://", "git@", "github.com/"))


def _context_dir(context: str, console: Console) -> str:
    if context == "-":
        raise UsageError(
            "a build context on stdin is not supported",
            "Give the folder that holds your Dockerfile and context",
        )
    if _is_remote(context):
        raise UsageError(
            f"remote build context {context} is not supported",
            "Clone it and give the local folder",
        )
    path = os.path.join(console.cwd, context)
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist"
        raise NoInputError(
            f"build context {context} {what}", "Give the folder docker build should use as PATH"
        )
    return path


def _dockerfile_source(opts: BuildOptions, console: Console, required: bool) -> _DockerfileSource:
    if opts.file == "-":
        if not required:
            raise UsageError(
                "-f - (a Dockerfile on stdin) cannot be combined with --log",
                "Give the Dockerfile's path with -f",
            )
        piped = console.stdin.read()
        return _DockerfileSource(shown="-", location="-", text=piped, stdin=True)
    if opts.file is not None:
        shown = opts.file
    else:
        shown = os.path.normpath(os.path.join(opts.context, "Dockerfile"))
        lower = os.path.normpath(os.path.join(opts.context, "dockerfile"))
        # The daemon falls back to a lower-case `dockerfile` when `Dockerfile` is absent.
        if not os.path.exists(os.path.join(console.cwd, shown)) and os.path.exists(
            os.path.join(console.cwd, lower)
        ):
            shown = lower
    path = os.path.join(console.cwd, shown)
    location = os.path.relpath(path, console.cwd)
    text: str | None
    try:
        text = writeback.read_text(path)  # the one reader: digests compare like with like
    except FileNotFoundError:
        if required:
            raise NoInputError(
                f"no Dockerfile at {shown}", "Give its path with -f, or run in its folder"
            ) from None
        text = None
    except IsADirectoryError:
        raise NoInputError(
            f"{shown} is a folder, not a Dockerfile", "Give the file with -f"
        ) from None
    except OSError as exc:
        raise NoInputError(f"cannot read {shown}: {exc.strerror}", "Check its permissions") from exc
    return _DockerfileSource(shown=shown, location=location, text=text)


def _log_name(name: str | None) -> str:
    return "standard input" if name in (None, "-") else str(name)


def _read_log(name: str, console: Console) -> str:
    if name == "-":
        return console.stdin.read()
    path = os.path.join(console.cwd, name)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise NoInputError(f"no log file at {name}", "Give the path of a saved build log") from None
    except IsADirectoryError:
        raise NoInputError(f"{name} is a folder, not a log file", "Give a file") from None
    except OSError as exc:
        raise NoInputError(f"cannot read {name}: {exc.strerror}", "Check its permissions") from exc
    return data.decode("utf-8", errors="replace")


# -- output -------------------------------------------------------------------


def _emit(result: report.Report, options: Options, console: Console) -> None:
    if options.format == "json":
        console.write(report.render_json(result))
    elif options.format == "gcc":
        console.write(report.render_gcc(result))
        for note in result.notes:
            console.warn(note)
    else:
        # A blank line parts the report from docker's output, whose last line may lack a newline.
        console.write("\n" + report.render_text(result, color=console.color(options.color)))

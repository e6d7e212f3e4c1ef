"""Command line: argv -> frozen Options, the real adapters, and the one error boundary.

Every DbugbuildError ends here as one `dbugbuild: error: ...` line on stderr with
its exit code; Ctrl-C is 130; anything else is a bug (exit 3, traceback only with
--traceback).

Start-up is part of every run: this module imports only the error vocabulary, and each
command's modules when that command runs. `--version`, `--help` and a mistyped option
load argparse and arguments.py, never docker-py, requests or prompt-toolkit
(tests/test_startup.py; benchmarks/: within 3x a bare interpreter's start).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dbugbuild.console import Console


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Entry point: run dbugbuild, return the exit status. The one error boundary.

    SIGTERM and SIGHUP unwind like Ctrl-C from here on (debug/signals.py), whatever the
    phase: a build is stopped and what it left removed, a session cleaned up."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # argparse's version action (sys.stdout), without argparse
        from dbugbuild import __version__

        sys.stdout.write(f"dbugbuild {__version__}\n")
        sys.stdout.flush()
        return 0
    from dbugbuild.debug import signals

    with signals.ending_signals():
        return _main(args, console)


def process_main() -> int:
    """The process's entry (the `dbugbuild` script, `python -m dbugbuild`): main(), then
    everything the run made is moved out of the garbage collector's reach (gc.freeze), so
    that the interpreter's exit does not walk docker-py's, requests' and our own objects
    once more: 45-65 ms of a build run on these machines (benchmarks/README.md). Then the
    process ends without the interpreter's teardown of every module (_exit_now), once what
    that exit does first is done. In-process callers (tests, bisect's benchmark) call
    main(), which leaves gc and the process alone. `inspect` loads only if used (deferred.py:
    dataclasses imports it on a build's way to its start, ~4 ms, and needs it for nothing)."""
    from dbugbuild.deferred import defer

    defer("inspect")
    code = main()
    import gc

    gc.freeze()
    _exit_now(code)
    return code  # a thread to wait for, or a stream that cannot be flushed: the usual exit


def _exit_now(code: int) -> None:
    """End the process with `code` at once (os._exit), doing first what the interpreter's
    exit does before it tears down its modules: no other thread left that it would wait
    for, stdout and stderr flushed, the atexit callbacks run (logging's, certifi's). The
    teardown it skips is 2-6 ms of a build run (more with docker-py loaded). Returns, for
    the usual exit, when a thread must be waited for or a flush fails (the interpreter's
    own flush then says so, and exits 120)."""
    import atexit
    import os
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        return
    run_callbacks = getattr(atexit, "_run_exitfuncs", None)  # CPython's own exit runs it
    if run_callbacks is None or not _flushed():
        return
    run_callbacks()  # (they run once: the list is cleared, as the usual exit would)
    if _flushed():  # what a callback wrote
        os._exit(code)


def _flushed() -> bool:
    import sys

    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or terminal; a closed stream
        return False
    return True


def _main(args: list[str], console: Console | None) -> int:
    import signal

    from dbugbuild.debug import signals
    from dbugbuild.errors import DbugbuildError, ExitCode, Terminated

    if console is not None and console.hang_up is None:
        console.hang_up = signals.hang_up  # a terminal answering EIO has hung up

    show_traceback = "--traceback" in args
    given = console
    try:
        return _dispatch(args, given)
    except SystemExit as exc:  # argparse's --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except DbugbuildError as exc:
        _stderr(given, f"dbugbuild: error: {exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _quiet(given, "\ndbugbuild: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except Terminated as exc:
        _quiet(given, f"\ndbugbuild: ended by signal {exc.signum}; cleaned up\n")
        if exc.signum == signal.SIGHUP and console is None:
            _detach()
        return 128 + exc.signum
    except Exception as exc:
        if show_traceback:
            import traceback

            _quiet(given, traceback.format_exc())
        _quiet(  # (no terminal any more: the exit status still says it)
            given,
            f"dbugbuild: error: internal error: {type(exc).__name__}: {exc}. This is a bug in "
            "dbugbuild; please report it with the output of --traceback\n",
        )
        return int(ExitCode.INTERNAL)


def _dispatch(args: list[str], given: Console | None) -> int:
    """Parse argv and run its command; each command's modules are imported here, when used."""
    from dbugbuild import arguments

    if args[:1] == ["clean"]:
        options = arguments.parse_clean_args(args[1:])
        from dbugbuild import clean

        return clean.run_clean(options, _console(given))
    if args[:1] == ["samples"]:
        from dbugbuild import samples

        return samples.run(args[1:], _console(given))
    if arguments.is_compose(args):  # `compose ...`, `bisect --service NAME ...`
        from dbugbuild import compose_cli

        return compose_cli.run(args, _console(given))
    if args[:1] == ["bisect"]:
        bisect_options = arguments.parse_bisect_args(args[1:])
        from dbugbuild import app

        return app.run_bisect(bisect_options, _console(given))
    run_options = arguments.parse_args(args)
    from dbugbuild import app

    return app.run(run_options, _console(given))


def _console(given: Console | None) -> Console:
    """The console given (tests), else the process's own, made when first needed (after the
    arguments parsed); DBUGBUILD_LABELS checked with it, before anything runs."""
    from dbugbuild.options import run_labels

    con = given
    if con is None:
        from dbugbuild.console import Console
        from dbugbuild.debug import signals

        con = Console.real()
        con.hang_up = signals.hang_up  # a terminal answering EIO has hung up
    run_labels(con.env)  # a malformed one: our line (exit 2), not a run that fails later
    return con


def _stderr(given: Console | None, text: str) -> None:
    """Text on the console's stderr; without one, on the process's (a mistyped option then
    costs no Console: its dataclass and options.py are start-up time)."""
    if given is not None:
        given.write(text, err=True)
        return
    import sys

    sys.stderr.write(text)
    sys.stderr.flush()


def _detach() -> None:
    """The terminal hung up: the process's last flush of its streams must not fail on it
    (Python would exit 120 instead of 129), so they go to /dev/null."""
    import contextlib
    import os

    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)


def _quiet(given: Console | None, text: str) -> None:
    import contextlib  # (a Ctrl-C's or signal's message: start-up need not pay for it)

    with contextlib.suppress(OSError):  # no terminal any more (SIGHUP)
        _stderr(given, text)

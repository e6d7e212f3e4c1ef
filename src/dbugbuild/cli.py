"""Command line: argv -> frozen Options, the real adapters, and the one error boundary.

Every DbugbuildError ends here as one `dbugbuild: error: ...` line on stderr with
its exit code; Ctrl-C is 130; anything else is a bug (exit 3, traceback only with
--traceback).
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
from collections.abc import Sequence

from dbugbuild import app, compose_cli, samples
from dbugbuild.arguments import parse_args, parse_bisect_args, parse_clean_args
from dbugbuild.console import Console
from dbugbuild.debug import signals
from dbugbuild.errors import DbugbuildError, ExitCode, Terminated


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Entry point: run dbugbuild, return the exit status. The one error boundary.

    SIGTERM and SIGHUP unwind like Ctrl-C from here on (debug/signals.py), whatever the
    phase: a build is stopped and what it left removed, a session cleaned up."""
    with signals.ending_signals():
        return _main(argv, console)


def _main(argv: Sequence[str] | None, console: Console | None) -> int:
    import sys

    con = console or Console.real()
    if con.hang_up is None:
        con.hang_up = signals.hang_up  # a terminal answering EIO has hung up
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    try:
        if args[:1] == ["clean"]:
            from dbugbuild import clean

            return clean.run_clean(parse_clean_args(args[1:]), con)
        if args[:1] == ["samples"]:
            return samples.run(args[1:], con)
        if compose_cli.handles(args):  # `compose ...`, `bisect --service NAME ...`
            return compose_cli.run(args, con)
        if args[:1] == ["bisect"]:
            return app.run_bisect(parse_bisect_args(args[1:]), con)
        options = parse_args(args)
        return app.run(options, con)
    except SystemExit as exc:  # argparse's --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except DbugbuildError as exc:
        con.error(str(exc))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _quiet(con, "\ndbugbuild: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except Terminated as exc:
        _quiet(con, f"\ndbugbuild: ended by signal {exc.signum}; cleaned up\n")
        if exc.signum == signal.SIGHUP and console is None:
            _detach()
        return 128 + exc.signum
    except Exception as exc:
        if show_traceback:
            con.write(traceback.format_exc(), err=True)
        con.error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in dbugbuild; "
            "please report it with the output of --traceback"
        )
        return int(ExitCode.INTERNAL)


def _detach() -> None:
    """The terminal hung up: the process's last flush of its streams must not fail on it
    (Python would exit 120 instead of 129), so they go to /dev/null."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)


def _quiet(con: Console, text: str) -> None:
    with contextlib.suppress(OSError):  # no terminal any more (SIGHUP)
        con.write(text, err=True)

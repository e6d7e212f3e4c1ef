"""Command line: argv -> frozen Options, the real adapters, and the one error boundary.

Every DbugbuildError ends here as one `dbugbuild: error: ...` line on stderr with
its exit code; Ctrl-C is 130; anything else is a bug (exit 3, traceback only with
--traceback).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Sequence

from dbugbuild import app, compose_cli, samples
from dbugbuild.arguments import parse_args, parse_bisect_args, parse_clean_args
from dbugbuild.console import Console
from dbugbuild.errors import DbugbuildError, ExitCode, Terminated


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    """Entry point: run dbugbuild, return the exit status. The one error boundary."""
    import sys

    con = console or Console.real()
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
        return 128 + exc.signum
    except Exception as exc:
        if show_traceback:
            con.write(traceback.format_exc(), err=True)
        con.error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in dbugbuild; "
            "please report it with the output of --traceback"
        )
        return int(ExitCode.INTERNAL)


def _quiet(con: Console, text: str) -> None:
    with contextlib.suppress(OSError):  # no terminal any more (SIGHUP)
        con.write(text, err=True)

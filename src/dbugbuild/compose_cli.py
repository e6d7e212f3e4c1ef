"""Command line of `dbugbuild compose` and `dbugbuild bisect --service`: argv -> frozen options.

Compose's own options (-f, --profile, --env-file, --project-directory, -p) mean what they
mean to `docker compose`; the build's options come from the compose file, so docker build's
are refused here; dbugbuild's own (--format, --exec, --apply, ...) mean what they mean to
`dbugbuild PATH`. Errors go to cli.py's one boundary.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dbugbuild.arguments import (
    Parser,
    bisect_options,
    is_compose,
    positive_seconds,
    run_options,
)
from dbugbuild.command_options import ComposeBisectOptions, ComposeOptions, ComposeProject
from dbugbuild.errors import UsageError
from dbugbuild.options import BACKEND_CHOICES, BuildOptions

if TYPE_CHECKING:
    from dbugbuild.console import Console

_BACKENDS = BACKEND_CHOICES


handles = is_compose  # whether argv is this module's (cli.py asks arguments.py, cheaper)


def run(args: Sequence[str], console: Console) -> int:
    """Parse and run `compose ...` or `bisect --service ...` (argv with its command word)."""
    if args[0] == "compose":
        options = parse_compose_args(args[1:])
        from dbugbuild import compose_project  # after parsing: `--help` needs none of it

        return compose_project.run(options, console)
    bisect = parse_bisect_args(args[1:])
    from dbugbuild import compose_project

    return compose_project.run_bisect(bisect, console)


def _project_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("compose options (docker compose's meaning)")
    g.add_argument(
        "-f", "--file", action="append", default=[], metavar="FILE", help="a compose file "
        "(repeatable: later files override; default: compose.yaml... in the folder)"
    )  # fmt: skip
    g.add_argument("--profile", action="append", default=[], metavar="PROFILE")
    g.add_argument("--env-file", action="append", default=[], metavar="FILE")
    g.add_argument("--project-directory", metavar="DIR")
    g.add_argument("-p", "--project-name", metavar="NAME")


def _project(ns: argparse.Namespace) -> ComposeProject:
    return ComposeProject(
        files=tuple(ns.file),
        profiles=tuple(ns.profile),
        env_files=tuple(ns.env_file),
        project_directory=ns.project_directory,
        name=ns.project_name,
    )


def _build_options(p: argparse.ArgumentParser) -> None:
    b = p.add_argument_group("build options (for every service; the rest is the compose file's)")
    b.add_argument("--no-cache", action="store_true")
    b.add_argument("--pull", action="store_true")
    b.add_argument(
        "--backend",
        choices=_BACKENDS,
        default="auto",
        help="the builder, chosen per service as for 'dbugbuild PATH' (default auto)",
    )


def _output_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--format", choices=("text", "json", "gcc"), default="text")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    g.add_argument("--traceback", action="store_true", help="show a traceback on internal errors")


def _refuse(rest: Sequence[str], prog: str) -> None:
    for word in rest:
        if word.startswith("-"):
            raise UsageError(
                f"unknown option {word.split('=', 1)[0]} for {prog}",
                f"The build's options come from the compose file; see 'dbugbuild {prog} --help'",
            )
        raise UsageError(f"unexpected argument '{word}'", f"See 'dbugbuild {prog} --help'")


def _compose_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dbugbuild compose",
        description=(
            "Build the services of a Compose project as 'docker compose build' does, one "
            "after another, each as 'dbugbuild PATH' builds a folder: the first failure is "
            "reported and debugged, and the services after it are not built."
        ),
        allow_abbrev=False,
        epilog=(
            "exit status: 0 when every service builds; else the failing service's, as for "
            "'dbugbuild PATH'; 2 bad arguments (or an unknown service, or one without a build "
            "section); 65 a compose error (its message); 66 no compose file; 69 no Docker "
            "Compose v2 CLI, or no daemon. With --format json: one report per line, a service "
            "each (docs/report.md)."
        ),
    )
    p.add_argument("services", nargs="*", metavar="SERVICE", help="default: all with build:")
    _project_options(p)
    _build_options(p)
    o = p.add_argument_group("dbugbuild options")
    o.add_argument("--no-shell", action="store_true", help="report only")
    o.add_argument(
        "--exec", action="append", default=[], metavar="CMD",
        help="run CMD in the failed step's environment (repeatable)",
    )  # fmt: skip
    o.add_argument("--retry", action="store_true", help="re-run the failed command")
    o.add_argument("--keep", action="store_true", help="keep the failed step's container")
    o.add_argument(
        "--apply", metavar="CMD",
        help="run CMD in the failed step's environment; if it exits 0, write it into the "
        "service's Dockerfile in place of the failing RUN (asks unless --yes)",
    )  # fmt: skip
    o.add_argument("--yes", action="store_true", help="write back without asking")
    _output_options(o)
    return p


def parse_compose_args(argv: Sequence[str]) -> ComposeOptions:
    """`dbugbuild compose` argv (after `compose`) -> ComposeOptions."""
    ns, rest = _compose_parser().parse_known_args(list(argv))
    _refuse(rest, "compose")
    build = BuildOptions(no_cache=ns.no_cache, pull=ns.pull, backend=ns.backend)
    return ComposeOptions(
        project=_project(ns),
        services=tuple(dict.fromkeys(ns.services)),
        run=run_options(ns, build),
    )


def _bisect_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dbugbuild bisect --service",
        description=(
            "Build a Compose service as 'dbugbuild compose' does, then find the Dockerfile "
            "step that made CMD fail (or, with --until-pass, pass), as 'dbugbuild bisect' does."
        ),
        allow_abbrev=False,
        epilog="exit status: as 'dbugbuild bisect' (docs/bisect.md); 65, 66, 69 as compose's.",
    )
    p.add_argument("--service", required=True, metavar="NAME", help="the service to bisect")
    p.add_argument("--check", required=True, metavar="CMD", help="the command to probe with")
    p.add_argument("--stage", metavar="NAME", help="the stage to bisect")
    p.add_argument("--until-pass", action="store_true", help="find the step that made CMD pass")
    p.add_argument(
        "--probe-timeout", type=positive_seconds, default=60.0, metavar="SECONDS",
        help="kill a probe after this long; it counts as failing (default: 60)",
    )  # fmt: skip
    _project_options(p)
    _build_options(p)
    _output_options(p.add_argument_group("output"))
    return p


def parse_bisect_args(argv: Sequence[str]) -> ComposeBisectOptions:
    """`dbugbuild bisect --service NAME` argv (after `bisect`) -> ComposeBisectOptions."""
    ns, rest = _bisect_parser().parse_known_args(list(argv))
    _refuse(rest, "bisect --service")
    build = BuildOptions(no_cache=ns.no_cache, pull=ns.pull, backend=ns.backend)
    return ComposeBisectOptions(
        project=_project(ns), service=ns.service, bisect=bisect_options(ns, build)
    )

"""The command line's words: argv -> frozen Options for `dbugbuild`, `bisect` and `clean`.

Only parsing and validation of what the user typed; cli.py runs the result. A word
dbugbuild does not take is a UsageError naming it (exit 2), never docker's usage text.
"""

from __future__ import annotations

import argparse

from dbugbuild import __version__
from dbugbuild.choices import BACKEND_CHOICES, UNSUPPORTED_DOCKER_OPTIONS
from dbugbuild.errors import UsageError

# Not `typing.TYPE_CHECKING`: importing typing is start-up time (cli.py's docstring).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

    from dbugbuild.command_options import BisectOptions, CleanOptions
    from dbugbuild.options import BuildOptions, Options


class Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are our UsageError (one line, exit 2), for every
    command line (compose_cli's too)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"See '{self.prog} --help'")


def is_compose(args: Sequence[str]) -> bool:
    """Whether argv is compose_cli's: `compose ...`, or `bisect` of a `--service`."""
    if args[:1] == ["compose"]:
        return True
    return args[:1] == ["bisect"] and any(
        a == "--service" or a.startswith("--service=") for a in args
    )


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dbugbuild",
        description=(
            "Run a docker build (the classic builder, or BuildKit when the build needs it), or a "
            "podman build (--backend); when it fails, report the failing Dockerfile line and "
            "open a debug session in the last good layer."
        ),
        allow_abbrev=False,
        epilog=(
            "exit status: 0 when the build succeeds; the failing RUN's exit code when a RUN "
            "fails; 1 for a build failure without a code (125 on Podman); 2 bad arguments; "
            "3 internal error; "
            "65 unusable input (a garbage log); 66 a missing path, Dockerfile or log; "
            "69 no Docker daemon or docker CLI (or no buildx plugin for a BuildKit build); "
            "130 interrupted. "
            "Other commands: 'dbugbuild bisect --help' (which step broke a check), "
            "'dbugbuild compose --help' (debug the build of Compose services), "
            "'dbugbuild samples' (a gallery of failing builds), 'dbugbuild clean' (remove "
            "what a crashed run left)."
        ),
    )
    p.add_argument(
        "path", nargs="?", default=None, metavar="PATH", help="build context (default: .)"
    )
    _add_build_options(p)
    o = p.add_argument_group("dbugbuild options")
    o.add_argument(
        "--log",
        metavar="FILE",
        help="no build: read a saved build log: docker's classic, BuildKit plain progress or "
        "podman's ('-' for stdin)",
    )
    o.add_argument(
        "--no-shell",
        action="store_true",
        help="report only (always so when stdin is not a terminal)",
    )
    o.add_argument(
        "--exec",
        action="append",
        default=[],
        metavar="CMD",
        help="run CMD in the failed step's environment and print its output (repeatable)",
    )
    o.add_argument(
        "--retry", action="store_true", help="re-run the failed command as the builder ran it"
    )
    o.add_argument(
        "--keep", action="store_true", help="keep the failed step's container (its id is printed)"
    )
    o.add_argument(
        "--apply",
        metavar="CMD",
        help="run CMD in the failed step's environment; if it exits 0, write it into the "
        "Dockerfile in place of the failing RUN (shows the diff; asks unless --yes)",
    )
    o.add_argument("--yes", action="store_true", help="write back without asking")
    o.add_argument("--format", choices=("text", "json", "gcc"), default="text")
    o.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    o.add_argument("--traceback", action="store_true", help="show a traceback on internal errors")
    o.add_argument("--version", action="version", version=f"dbugbuild {__version__}")
    return p


def _add_build_options(p: argparse.ArgumentParser) -> None:
    """The docker build options dbugbuild passes on, as `docker build` spells them."""
    b = p.add_argument_group("docker build options (docker's meaning)")
    b.add_argument("-f", "--file", metavar="FILE", help="the Dockerfile (default: PATH/Dockerfile)")
    b.add_argument("-t", "--tag", action="append", default=[], metavar="NAME:TAG")
    b.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="K=V",
        help="a build-time variable; a bare K takes its value from the environment",
    )
    b.add_argument("--target", metavar="STAGE")
    b.add_argument("--no-cache", action="store_true")
    b.add_argument("--pull", action="store_true")
    b.add_argument("--network", metavar="MODE")
    for flag, metavar, text in (
        ("--platform", "PLATFORM", "repeatable (several: BuildKit)"),
        ("--label", "K=V", None),
        (
            "--secret",
            "id=ID,src=PATH",
            "for RUN --mount=type=secret (BuildKit, Podman; or env=VAR)",
        ),
        ("--ssh", "default|ID=PATH", "(BuildKit)"),
        ("--build-context", "NAME=VALUE", "(BuildKit)"),
        ("--add-host", "HOST:IP", "an /etc/hosts entry for the RUN steps (repeatable)"),
        ("--cache-from", "IMAGE", "an image (BuildKit: or type=...) to take the cache from"),
    ):
        b.add_argument(flag, action="append", default=[], metavar=metavar, help=text)
    b.add_argument("--shm-size", metavar="BYTES", help="the size of /dev/shm for RUN steps")
    b.add_argument("--builder", metavar="NAME", help="the buildx builder instance (BuildKit)")
    b.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="auto",
        help="dbugbuild's: the builder (default auto: podman when the endpoint is a Podman "
        "service or there is no docker CLI but a podman one; else classic unless the build "
        "needs BuildKit; DOCKER_BUILDKIT=0/1 chooses as for docker)",
    )


def _build_options(ns: argparse.Namespace, context: str) -> BuildOptions:
    from dbugbuild.options import BuildOptions, check_build_flags  # after parsing (--help)

    build = BuildOptions(
        context=context,
        file=ns.file,
        tags=tuple(ns.tag),
        build_args=tuple(ns.build_arg),
        target=ns.target,
        no_cache=ns.no_cache,
        pull=ns.pull,
        network=ns.network,
        platform=",".join(ns.platform) or None,
        labels=tuple(ns.label),
        secrets=tuple(ns.secret),
        ssh=tuple(ns.ssh),
        build_contexts=tuple(ns.build_context),
        builder=ns.builder,
        backend=ns.backend,
        add_hosts=tuple(ns.add_host),
        shm_size=ns.shm_size,
        cache_from=tuple(ns.cache_from),
    )
    check_build_flags(build)  # before anything runs: our line, not the builder's usage text
    return build


def _refuse(rest: Sequence[str], prog: str) -> None:
    """UsageError for what argparse left over: refused docker options by name, then the rest."""
    for word in rest:
        name = word.split("=", 1)[0]
        if name in UNSUPPORTED_DOCKER_OPTIONS:
            raise UsageError(
                f"docker build option {name} is not supported by dbugbuild",
                "Drop it, or run 'docker build' directly for that build",
            )
        if word.startswith("-") and word != "-":
            raise UsageError(f"unknown option {name}", f"See '{prog} --help'")
        raise UsageError(f"unexpected argument '{word}'", "Give at most one build context PATH")


def parse_args(argv: Sequence[str]) -> Options:
    """argv (without the program name) -> Options; UsageError on anything we do not support."""
    parser = _parser()
    ns, rest = parser.parse_known_args(list(argv))
    _refuse(rest, "dbugbuild")
    build = _build_options(ns, ns.path if ns.path is not None else ".")
    return run_options(ns, build, log=ns.log, context_given=ns.path is not None or ns.log is None)


def run_options(
    ns: argparse.Namespace,
    build: BuildOptions,
    *,
    log: str | None = None,
    context_given: bool = True,
) -> Options:
    """The run options of a parsed command line (`dbugbuild`'s, or `compose`'s)."""
    from dbugbuild.options import Options

    return Options(
        build=build,
        log=log,
        no_shell=ns.no_shell,
        exec=tuple(ns.exec),
        retry=ns.retry,
        keep=ns.keep,
        apply=ns.apply,
        yes=ns.yes,
        format=ns.format,
        color=ns.color,
        traceback=ns.traceback,
        context_given=context_given,
    )


def positive_seconds(text: str) -> float:
    """argparse's type for a number of seconds above 0 (a probe's timeout)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got '{text}'")
    return value


def _bisect_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dbugbuild bisect",
        description=(
            "Build as dbugbuild does (or take --image), then find the Dockerfile step that made "
            "CMD fail (or, with --until-pass, pass) by running it in the build's layers."
        ),
        allow_abbrev=False,
        epilog=(
            "exit status: 0 when the step is found; 4 when the final layer does not show the "
            "asked-for outcome; 5 when no layer probed shows the other one; the build's own "
            "code when it made no layer to bisect; 2, 3, 65, 66, 69 and 130 as for dbugbuild. "
            "See docs/bisect.md."
        ),
    )
    p.add_argument(
        "path", nargs="?", default=None, metavar="PATH", help="build context (default: .)"
    )
    _add_build_options(p)
    o = p.add_argument_group("bisect options")
    o.add_argument(
        "--check",
        required=True,
        metavar="CMD",
        help="the command to probe each layer with, run as a RUN line would (exit 0 = passes)",
    )
    o.add_argument(
        "--image",
        metavar="IMAGE",
        help="no build: bisect this classic-built image's history (-f/PATH map its lines)",
    )
    o.add_argument(
        "--stage", metavar="NAME", help="the stage to bisect (default: the last one that ran)"
    )
    o.add_argument(
        "--until-pass",
        action="store_true",
        help="find the step that made CMD pass (the final layer must pass)",
    )
    o.add_argument(
        "--probe-timeout",
        type=positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="kill a probe after this long; it counts as failing (default: 60)",
    )
    o.add_argument("--format", choices=("text", "json", "gcc"), default="text")
    o.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    o.add_argument("--traceback", action="store_true", help="show a traceback on internal errors")
    return p


# Build options that mean nothing without a build (`bisect --image`).
_BUILD_ONLY = (("tag", "-t/--tag"), ("no_cache", "--no-cache"), ("pull", "--pull"))


def parse_bisect_args(argv: Sequence[str]) -> BisectOptions:
    """`dbugbuild bisect` argv (after `bisect`) -> BisectOptions; UsageError as parse_args."""
    ns, rest = _bisect_parser().parse_known_args(list(argv))
    _refuse(rest, "dbugbuild bisect")
    if ns.image is not None:
        for attr, name in (*_BUILD_ONLY, ("platform", "--platform")):
            if getattr(ns, attr):
                raise UsageError(
                    f"{name} has no meaning with --image (no build runs)",
                    "Drop it, or bisect a build: 'dbugbuild bisect PATH --check CMD'",
                )
    return bisect_options(
        ns,
        _build_options(ns, ns.path if ns.path is not None else "."),
        image=ns.image,
        dockerfile_given=ns.path is not None or ns.file is not None,
    )


def bisect_options(
    ns: argparse.Namespace,
    build: BuildOptions,
    *,
    image: str | None = None,
    dockerfile_given: bool = False,
) -> BisectOptions:
    """The bisect options of a parsed command line (`bisect`'s, or `bisect --service`'s)."""
    if not ns.check.strip():
        raise UsageError("--check is empty", "Give the command to run in each layer")
    from dbugbuild.command_options import BisectOptions

    return BisectOptions(
        build=build,
        check=ns.check,
        image=image,
        dockerfile_given=dockerfile_given,
        stage=ns.stage,
        until_pass=ns.until_pass,
        probe_timeout=ns.probe_timeout,
        format=ns.format,
        color=ns.color,
        traceback=ns.traceback,
    )


def _clean_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dbugbuild clean",
        description=(
            "Remove the containers and images that dbugbuild runs left (a crash, a kill -9): "
            "everything labelled dbugbuild.session, or only what also has the given labels. "
            "DBUGBUILD_LABELS=K=V[,K=V...] labels all a run creates and scopes clean the same way."
        ),
        allow_abbrev=False,
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="K=V",
        help="remove only what also carries this label (repeatable; all must match)",
    )
    return p


def parse_clean_args(argv: Sequence[str]) -> CleanOptions:
    """`dbugbuild clean` argv (after `clean`) -> CleanOptions."""
    ns, rest = _clean_parser().parse_known_args(list(argv))
    if rest:
        raise UsageError(
            f"clean takes no arguments, got {' '.join(rest)}", "Run 'dbugbuild clean --help'"
        )
    from dbugbuild.command_options import CleanOptions

    return CleanOptions(labels=tuple(ns.label))

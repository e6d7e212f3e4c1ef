"""PURE: the parsed command lines of bisect, compose and clean as frozen data (a build's are
options.py's: these stay out of every build's start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from dbugbuild.options import BuildOptions, Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dbugbuild.options import ColorChoice, Format


@dataclass(frozen=True)
class ComposeService:
    """The Compose service a build is (`dbugbuild compose`): its name goes into the report
    and the session banner; `notes` (the keys dbugbuild cannot honour) into the report."""

    name: str
    notes: tuple[str, ...] = ()
    # The Dockerfile is the service's `dockerfile_inline`, written to a temporary file for
    # the build: a fix is printed, never written there (the text lives in the compose file).
    inline: bool = False


@dataclass(frozen=True)
class BisectOptions:
    """`dbugbuild bisect`: build (or take --image), then find the step that changed --check."""

    build: BuildOptions
    check: str
    image: str | None = None  # bisect this image's parent chain instead of building
    dockerfile_given: bool = False  # -f or PATH was given (with --image: map lines to it)
    stage: str | None = None  # the stage to bisect (default: the last one that ran)
    until_pass: bool = False  # find the step that made the check pass
    probe_timeout: float = 60.0  # seconds; a probe that runs longer is killed and counts as failing
    format: Format = "text"
    color: ColorChoice = "auto"
    traceback: bool = False


@dataclass(frozen=True)
class ComposeProject:
    """How to find a Compose project, with `docker compose`'s own options (compose reads
    them, and COMPOSE_FILE, COMPOSE_PROFILES... from the environment, itself)."""

    files: tuple[str, ...] = ()  # -f/--file, in order (later ones override)
    profiles: tuple[str, ...] = ()  # --profile
    env_files: tuple[str, ...] = ()  # --env-file
    project_directory: str | None = None  # --project-directory
    name: str | None = None  # -p/--project-name

    def argv(self) -> tuple[str, ...]:
        """These options as `docker compose` takes them, before its command."""
        out: list[str] = []
        for flag, values in (
            ("--file", self.files),
            ("--profile", self.profiles),
            ("--env-file", self.env_files),
        ):
            for value in values:
                out += [flag, value]
        if self.project_directory is not None:
            out += ["--project-directory", self.project_directory]
        if self.name is not None:
            out += ["--project-name", self.name]
        return tuple(out)


@dataclass(frozen=True)
class ComposeOptions:
    """`dbugbuild compose`: build these services (none: every one with a build section) of
    the project, each as `dbugbuild` builds a folder with `run`'s options."""

    project: ComposeProject
    services: tuple[str, ...]
    run: Options  # its build holds the command line's --no-cache, --pull and --backend


@dataclass(frozen=True)
class ComposeBisectOptions:
    """`dbugbuild bisect --service NAME`: bisect that service's build."""

    project: ComposeProject
    service: str
    bisect: BisectOptions  # its build holds the command line's --no-cache, --pull, --backend


@dataclass(frozen=True)
class CleanOptions:
    """`dbugbuild clean`: remove what dbugbuild runs left, only those with these labels too."""

    labels: tuple[str, ...] = ()  # KEY=VALUE (or KEY): each must match, with dbugbuild's own

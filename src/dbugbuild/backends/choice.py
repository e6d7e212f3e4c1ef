"""PURE: which builder runs a build, why, and the Dockerfile line that decided it.

`choose` is a function of the inputs alone (--backend, DOCKER_BUILDKIT's value, the
Dockerfile, the build options, and whether Podman was found: engine/reach.py looks): no
I/O, no environment, no clock. `auto` picks podman when the endpoint is a Podman service or
there is no docker CLI but a podman one; else it keeps the classic builder for a Dockerfile
that builds the same under both, because it keeps every step's layer and the failed
container; it picks BuildKit when the classic builder would refuse the build or build
something else (issue 11 lists the triggers; triggers.py finds them, the first in the file
deciding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dbugbuild.choices import BACKEND_CHOICES
from dbugbuild.errors import UsageError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # a forced BuildKit or Podman build starts before the Dockerfile is parsed
    from dbugbuild.backends.triggers import Trigger
    from dbugbuild.dockerfile import Dockerfile
    from dbugbuild.options import BuildOptions

REQUESTS = BACKEND_CHOICES  # --backend: a backend's name, or "auto"


@dataclass(frozen=True)
class Choice:
    """The builder for a build, who chose it, and why."""

    backend: str  # "classic", "buildkit" or "podman"
    by: str  # "auto", "--backend", "DOCKER_BUILDKIT" (or "log": the saved log's family)
    reason: str  # one phrase for people: what decided it
    line: int | None = None  # the Dockerfile line that decided it, when one did
    # The build asks for what the chosen builder refuses or changes (a forced classic
    # build of a Dockerfile with RUN --mount): said in the report's notes.
    conflict: str | None = None


def docker_buildkit(value: str | None) -> bool | None:
    """DOCKER_BUILDKIT as the docker CLI reads it (Go's strconv.ParseBool); None when unset
    or empty; UsageError for anything else, as docker refuses it."""
    if value is None or value == "":
        return None
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise UsageError(
        f"DOCKER_BUILDKIT={value} is not a boolean (docker refuses it too)",
        "Set it to 1 (BuildKit) or 0 (the classic builder), or unset it",
    )


def choose(
    requested: str,
    buildkit_env: str | None,
    dockerfile: Dockerfile | None,
    text: str | None,
    build: BuildOptions,
    podman: str | None = None,
) -> Choice:
    """The backend for a build: `requested` (--backend) unless "auto", then Podman when it
    was found (`podman`: why, e.g. the endpoint is a Podman service), then DOCKER_BUILDKIT's
    value `buildkit_env`, then the Dockerfile (`dockerfile`, or its `text` when it does not
    parse) and the options."""
    if requested not in REQUESTS:
        raise ValueError(f"no backend {requested!r}")
    if requested != "auto":
        return _forced(requested, "--backend", f"--backend {requested}", dockerfile, text, build)
    if podman is not None:
        # Before DOCKER_BUILDKIT: with Docker's endpoint a Podman service, or no docker CLI,
        # neither of docker's builders can run the build; Podman's can.
        return Choice("podman", "auto", podman)
    env = docker_buildkit(buildkit_env)
    if env is not None:
        name = "buildkit" if env else "classic"
        reason = f"DOCKER_BUILDKIT={buildkit_env}"
        return _forced(name, "DOCKER_BUILDKIT", reason, dockerfile, text, build)
    trigger = _trigger(dockerfile, text, build)
    if trigger is not None:
        return Choice("buildkit", "auto", trigger.reason, trigger.line)
    return Choice(
        "classic",
        "auto",
        "the Dockerfile builds the same with both builders, and the classic one keeps "
        "each step's layer and the failed container",
    )


def reads_dockerfile(requested: str, buildkit_env: str | None, podman: str | None) -> bool:
    """Whether choose() needs the Dockerfile to decide with these inputs (auto, when neither
    Podman nor DOCKER_BUILDKIT decides). A build's CLI starts before the Dockerfile is parsed
    otherwise; noted() adds a forced classic build's note while it runs."""
    return requested == "auto" and podman is None and docker_buildkit(buildkit_env) is None


def noted(
    choice: Choice, dockerfile: Dockerfile | None, text: str | None, build: BuildOptions
) -> Choice:
    """`choice` as choose() makes it given the Dockerfile: a forced classic build with the
    note of what the Dockerfile (or an option) wants BuildKit for."""
    if choice.backend != "classic" or choice.by not in ("--backend", "DOCKER_BUILDKIT"):
        return choice
    return replace(choice, conflict=_conflict(choice.reason, _trigger(dockerfile, text, build)))


def _forced(
    name: str,
    by: str,
    reason: str,
    dockerfile: Dockerfile | None,
    text: str | None,
    build: BuildOptions,
) -> Choice:
    """The builder asked for; a classic one with what the Dockerfile would lose there."""
    trigger = _trigger(dockerfile, text, build) if name == "classic" else None
    return Choice(name, by, reason, None, _conflict(reason, trigger))


def _conflict(reason: str, trigger: Trigger | None) -> str | None:
    if trigger is None:
        return None
    return (
        f"the classic builder was asked for ({reason}), but {trigger.reason}: "
        "it may refuse this build or build it differently"
    )


def _trigger(
    dockerfile: Dockerfile | None, text: str | None, build: BuildOptions
) -> Trigger | None:
    from dbugbuild.backends.triggers import buildkit_trigger  # when asked: see reads_dockerfile

    return buildkit_trigger(dockerfile, text, build)

"""The builders dbugbuild drives, each behind the small Backend protocol (base.py).

classic (the legacy builder, DOCKER_BUILDKIT=0) and buildkit (`docker buildx build`) are
here; Podman joins them. Each says how to build and how to read its output, and opens the
debug layer of its failures; the engine runs the commands. Which one runs a build is
choice.py's pure decision, which app.py asks.
"""

from dbugbuild.backends.base import Backend, BuildInputs, DebugLayer, FailureSite
from dbugbuild.backends.buildkit import BuildKitBackend
from dbugbuild.backends.choice import Choice, choose
from dbugbuild.backends.classic import ClassicBackend
from dbugbuild.dockerfile import Dockerfile
from dbugbuild.errors import UsageError
from dbugbuild.options import BuildOptions

BACKENDS: dict[str, Backend] = {"classic": ClassicBackend(), "buildkit": BuildKitBackend()}


def backend(name: str = "classic") -> Backend:
    """The backend called `name`; UsageError for one this dbugbuild does not have."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(
            f"the {name} backend is not part of this dbugbuild",
            f"Use one of: {', '.join(BACKENDS)} (or --backend auto)",
        ) from None


# What only BuildKit takes: a build forced onto the classic builder cannot have them.
_BUILDKIT_ONLY = (
    ("secrets", "--secret"),
    ("ssh", "--ssh"),
    ("build_contexts", "--build-context"),
    ("builder", "--builder"),
)


def choose_for(
    build: BuildOptions, dockerfile: Dockerfile | None, text: str | None, buildkit_env: str | None
) -> Choice:
    """The backend for a build (choice.choose), refused (UsageError) when this dbugbuild does
    not have it or it cannot take the options; `buildkit_env` is DOCKER_BUILDKIT's value."""
    choice = choose(build.backend, buildkit_env, dockerfile, text, build)
    backend(choice.backend)
    if choice.backend == "classic":
        for attr, name in _BUILDKIT_ONLY:
            if getattr(build, attr):
                raise UsageError(
                    f"{name} is a BuildKit option, and the classic builder was chosen "
                    f"({choice.reason})",
                    "Build with BuildKit: --backend buildkit (or unset DOCKER_BUILDKIT=0)",
                )
    return choice


__all__ = [
    "BACKENDS",
    "Backend",
    "BuildInputs",
    "Choice",
    "DebugLayer",
    "FailureSite",
    "backend",
    "choose",
    "choose_for",
]

"""The builders dbugbuild drives, each behind the small Backend protocol (base.py).

classic (the legacy builder, DOCKER_BUILDKIT=0), buildkit (`docker buildx build`) and podman
(`podman build --layers`). Each says how to build and how to read its output, and opens the
debug layer of its failures; the engine runs the commands. Which one runs a build is
choice.py's pure decision, which app.py asks (with what engine/reach.py found of Podman).

A backend's module is imported when it is first asked for (`backend(name)`), and the
protocol's names (base.py) when first used: a build's CLI starts before the rest loads.
"""

from __future__ import annotations

import importlib

from dbugbuild.backends.choice import Choice, choose, noted, reads_dockerfile
from dbugbuild.errors import UsageError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

    from dbugbuild.backends.base import Backend, BuildInputs, DebugLayer, FailureSite
    from dbugbuild.dockerfile import Dockerfile
    from dbugbuild.options import BuildOptions

# Each backend: its module and class, made once when first asked for.
_CLASSES = {
    "classic": ("classic", "ClassicBackend"),
    "buildkit": ("buildkit", "BuildKitBackend"),
    "podman": ("podman", "PodmanBackend"),
}
BACKENDS = tuple(_CLASSES)
_made: dict[str, Backend] = {}
# The backend whose builder writes each log family (--log reads a saved log as its builder's).
FAMILY_BACKENDS = {"classic": "classic", "buildkit": "buildkit", "buildah": "podman"}


def backend(name: str = "classic") -> Backend:
    """The backend called `name`; UsageError for one this dbugbuild does not have."""
    made = _made.get(name)
    if made is not None:
        return made
    if name not in _CLASSES:
        raise UsageError(
            f"the {name} backend is not part of this dbugbuild",
            f"Use one of: {', '.join(BACKENDS)} (or --backend auto)",
        )
    module, cls = _CLASSES[name]
    made = getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
    _made[name] = made
    return _made[name]


def for_family(family: str) -> Backend:
    """The backend whose builder writes the log family `family` (logs.FAMILIES)."""
    return backend(FAMILY_BACKENDS[family])


def __getattr__(name: str) -> Any:
    """The protocol's names (base.py), imported when first used."""
    if name in ("Backend", "BuildInputs", "DebugLayer", "FailureSite"):
        value = getattr(importlib.import_module(f"{__name__}.base"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What a builder cannot take, by backend: (BuildOptions field, option, why, what to do).
_REFUSED = {
    "classic": tuple(
        (attr, name, "is a BuildKit option", "Build with BuildKit: --backend buildkit (or unset "
         "DOCKER_BUILDKIT=0)")
        for attr, name in (
            ("secrets", "--secret"),
            ("ssh", "--ssh"),
            ("build_contexts", "--build-context"),
            ("builder", "--builder"),
        )
    ),
    "podman": (
        ("builder", "--builder", "names a buildx builder", "Drop it, or build with BuildKit: "
         "--backend buildkit"),
    ),
}  # fmt: skip


def choose_for(
    build: BuildOptions,
    dockerfile: Dockerfile | None,
    text: str | None,
    buildkit_env: str | None,
    podman: str | None = None,
) -> Choice:
    """The backend for a build (choice.choose), refused (UsageError) when this dbugbuild does
    not have it or it cannot take the options; `buildkit_env` is DOCKER_BUILDKIT's value,
    `podman` why Podman is the builder here (engine/reach.py), None when it is not."""
    choice = choose(build.backend, buildkit_env, dockerfile, text, build, podman)
    if choice.backend not in _CLASSES:
        backend(choice.backend)  # the UsageError naming the backends there are
    for attr, name, why, fix in _REFUSED.get(choice.backend, ()):
        if getattr(build, attr):
            chosen = "the classic builder" if choice.backend == "classic" else choice.backend
            raise UsageError(f"{name} {why}, and {chosen} was chosen ({choice.reason})", fix)
    return choice


__all__ = [
    "BACKENDS",
    "FAMILY_BACKENDS",
    "Backend",
    "BuildInputs",
    "Choice",
    "DebugLayer",
    "FailureSite",
    "backend",
    "choose",
    "choose_for",
    "for_family",
    "noted",
    "reads_dockerfile",
]

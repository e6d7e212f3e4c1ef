"""Which builder a run uses: --backend as given, or the auto rule.

auto picks podman when the endpoint dbugbuild would use is a Podman service (its /version
names the "Podman Engine": a podman-docker set-up, DOCKER_HOST at podman.sock) or when there
is no docker CLI but a podman one; else the classic builder.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping, Sequence

from dbugbuild.backends.base import Backend
from dbugbuild.backends.classic import ClassicBackend
from dbugbuild.backends.podman import PodmanBackend
from dbugbuild.engine import Engine
from dbugbuild.errors import DbugbuildError, UsageError


def only_podman(env: Mapping[str, str]) -> bool:
    """No docker CLI on PATH, but a podman one: auto builds with Podman without asking Docker."""
    path = env.get("PATH")
    return (
        shutil.which("docker", path=path) is None and shutil.which("podman", path=path) is not None
    )


def has_podman(env: Mapping[str, str]) -> bool:
    """A podman CLI on PATH."""
    return shutil.which("podman", path=env.get("PATH")) is not None


def auto(*, endpoint_is_podman: bool, only_podman_cli: bool) -> str:
    """The backend auto picks, from what the endpoint and PATH say."""
    return "podman" if endpoint_is_podman or only_podman_cli else "classic"


def connect(env: Mapping[str, str], requested: str) -> tuple[Engine, Backend]:
    """The engine and the backend for --backend `requested`.

    auto asks the endpoint the docker CLI would use what it is, and that engine is the
    run's; Podman's engine may be a service dbugbuild starts for the run
    (engine/podman.py), stopped when the engine closes.
    """
    if requested == "auto" and only_podman(env):
        requested = "podman"
    if requested == "podman":
        return Engine.connect_podman(env), PodmanBackend()
    engine = Engine.connect(env)
    if requested == "auto":
        try:
            picked = auto(endpoint_is_podman=engine.is_podman, only_podman_cli=False)
        except BaseException:
            engine.close()
            raise
        if picked == "podman":
            return engine.as_podman(), PodmanBackend()
    return engine, ClassicBackend()


def sweep(
    env: Mapping[str, str], labels: Sequence[str], warn: Callable[[str], None]
) -> tuple[list[str], list[str]]:
    """`dbugbuild clean`'s sweep (Engine.sweep) in every engine there is: (containers, images)
    removed."""
    containers: list[str] = []
    images: list[str] = []
    engines = clean_engines(env, warn)
    try:
        for engine in engines:
            scope = [f"{k}={v}" for k, v in engine.run_labels.items()]
            found = engine.sweep(*scope, *labels)
            containers += found[0]
            images += found[1]
    finally:
        for engine in engines:
            engine.close()
    return containers, images


def clean_engines(env: Mapping[str, str], warn: Callable[[str], None]) -> list[Engine]:
    """For `dbugbuild clean`: Docker's engine and Podman's (when podman is installed or
    CONTAINER_HOST is set), each when reachable; Docker's error when neither is."""
    engines: list[Engine] = []
    error: DbugbuildError | None = None
    try:
        engines.append(Engine.connect(env))
    except UsageError:
        raise  # a malformed DBUGBUILD_LABELS
    except DbugbuildError as exc:
        error = exc
    if engines and engines[0].is_podman:
        return engines  # the Docker endpoint is Podman's service itself
    if env.get("CONTAINER_HOST") or has_podman(env):
        with contextlib.suppress(DbugbuildError):  # podman there but unusable: Docker's counts
            engines.append(Engine.connect_podman(env))
    if not engines and error is not None:
        raise error
    if error is not None:
        warn(f"Docker not cleaned: {error}")
    return engines

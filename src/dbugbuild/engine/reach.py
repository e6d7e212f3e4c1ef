"""I/O: which engine a run reaches, and what backends/choice.py needs to know of it: whether
Podman is the builder here (Docker's endpoint is a Podman service, or there is no docker CLI
but a podman one); and every engine `dbugbuild clean` sweeps.

The decision itself is choice.py's, pure: this module only looks (PATH, the endpoint's
/version) and connects.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping, Sequence

from dbugbuild.engine.daemon import Engine
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


def reach(
    env: Mapping[str, str], backend: str, warn: Callable[[str], None]
) -> tuple[Engine, str | None]:
    """The engine of a run with --backend `backend`, and why Podman is the builder (None: it
    is not, as far as auto needs to know; choice.choose takes it). `warn` says the one
    sentence of an unprotected (plain TCP) endpoint, once per run (a run connects once).

    podman: Podman's service (found, or one dbugbuild starts for the run: engine/podman.py,
    stopped when the engine closes). auto with no docker CLI but a podman one: the same,
    without asking Docker. Otherwise the endpoint the docker CLI would use; under auto, when
    it is a Podman service, as Podman's (podman builds and `:shell` reach its storage).
    """
    if backend == "podman":
        return Engine.connect_podman(env), None
    if backend == "auto" and only_podman(env):
        return Engine.connect_podman(env), "there is no docker CLI on PATH, but a podman one"
    engine = Engine.connect(env)
    if engine.endpoint.warning:
        warn(engine.endpoint.warning)
    if backend != "auto":
        return engine, None
    try:
        podman = engine.is_podman
    except BaseException:
        engine.close()
        raise
    if not podman:
        return engine, None
    return engine.as_podman(), f"the endpoint {engine.endpoint.described} is a Podman service"


def sweep(
    env: Mapping[str, str], labels: Sequence[str], warn: Callable[[str], None]
) -> tuple[list[str], list[str], list[str]]:
    """`dbugbuild clean`'s sweep (Engine.sweep, then its volumes) in every engine there is:
    (containers, images, volumes) removed."""
    containers: list[str] = []
    images: list[str] = []
    volumes: list[str] = []
    engines = clean_engines(env, warn)
    try:
        for engine in engines:
            scope = [f"{k}={v}" for k, v in engine.run_labels.items()]
            found = engine.sweep(*scope, *labels)
            containers += found[0]
            images += found[1]
            volumes += engine.sweep_volumes(*scope, *labels)  # after the containers using them
    finally:
        for engine in engines:
            engine.close()
    return containers, images, volumes


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

"""PURE: the Compose project as compose resolved it (`docker compose config --format json`), and
the services `docker compose build` builds, in its order.

The JSON is compose's own reading of the files (interpolation, `.env`, `extends`, `include`,
profiles, several `-f`): nothing here reads YAML or resolves a variable. A shape compose
would not print is a ComposeModelError, never a guess. No I/O, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbugbuild.errors import BadInputError, UsageError


class ComposeModelError(BadInputError):
    """Compose printed a project this module cannot read."""


@dataclass(frozen=True)
class Secret:
    """A top-level secret: a `file` (absolute once compose resolved it) or an `environment`
    variable; anything else (external, a name) no build can take."""

    name: str
    file: str | None
    environment: str | None


@dataclass(frozen=True)
class Service:
    """One service of the project as `docker compose config` gives it: what its build needs."""

    name: str
    build: Mapping[str, Any] | None  # the service's `build` section, keys as compose prints them
    image: str | None  # `image:`: the tag compose gives the built image
    platform: str | None  # the service's `platform:` (builds for it when build.platforms is empty)
    depends_on: tuple[str, ...]  # compose builds these first


@dataclass(frozen=True)
class Project:
    """The project `docker compose config` resolved: its name, services and secrets."""

    name: str
    services: tuple[Service, ...]  # by name, as compose prints them
    secrets: Mapping[str, Secret]

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ComposeModelError(
            f"compose printed {what} as {type(value).__name__}, not an object",
            "Please report this with the output of 'docker compose config --format json'",
        )
    return value


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ComposeModelError(
        f"compose printed {what} as {type(value).__name__}, not a string",
        "Please report this with the output of 'docker compose config --format json'",
    )


def project(data: Any) -> Project:
    """The project in compose's JSON (decoded); ComposeModelError for a shape it never prints."""
    top = _mapping(data, "the project")
    name = _text(top.get("name"), "the project name")
    if not name:
        raise ComposeModelError(
            "compose printed a project without a name",
            "Use Docker Compose v2 (2.x), whose `config --format json` prints it",
        )
    services = []
    for key, raw in sorted(_mapping(top.get("services"), "services").items()):
        body = _mapping(raw, f"service {key}")
        build = body.get("build")
        if build is not None:
            build = _mapping(build, f"the build section of service {key}")
        depends = _mapping(body.get("depends_on"), f"depends_on of service {key}")
        services.append(
            Service(
                name=str(key),
                build=build,
                image=_text(body.get("image"), f"the image of service {key}"),
                platform=_text(body.get("platform"), f"the platform of service {key}"),
                depends_on=tuple(sorted(depends)),
            )
        )
    secrets = {}
    for key, raw in _mapping(top.get("secrets"), "secrets").items():
        body = _mapping(raw, f"secret {key}")
        secrets[str(key)] = Secret(
            str(key),
            _text(body.get("file"), f"the file of secret {key}"),
            _text(body.get("environment"), f"the environment of secret {key}"),
        )
    return Project(name, tuple(services), secrets)


def build_order(proj: Project, names: Sequence[str]) -> tuple[Service, ...]:
    """The services `docker compose build [NAMES]` builds, one at a time in compose's
    dependency order: each after the services it depends on, the others by name (the walk of
    compose-go's `WithServices`; compose 2.26 builds independent services at once, dbugbuild
    one after the other, so that a failure is the first one). No names: every service with a
    build section. A named service that is unknown or has no build section is a UsageError."""
    known = {s.name: s for s in proj.services}
    for name in names:
        if name not in known:
            raise UsageError(
                f"no service '{name}' in the compose project {proj.name}",
                f"Its services: {', '.join(known) or '(none)'}",
            )
        if known[name].build is None:
            raise UsageError(
                f"service '{name}' has no build section: compose pulls its image "
                f"({known[name].image or 'no image either'}), there is nothing to build",
                "Name a service with a build: section, or none to build them all",
            )
    wanted = set(names) if names else {s.name for s in proj.services if s.build is not None}
    if not wanted:
        raise UsageError(
            f"no service of the compose project {proj.name} has a build section",
            "dbugbuild compose debugs the builds of services with a build: section",
        )
    order: list[Service] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in known:
            return
        seen.add(name)  # before the dependencies: a cycle (compose refuses one) ends here
        for dependency in known[name].depends_on:
            visit(dependency)
        if name in wanted:
            order.append(known[name])

    for service in proj.services:
        visit(service.name)
    return tuple(order)

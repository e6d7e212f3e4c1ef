"""PURE: a Compose service's build section -> dbugbuild's BuildOptions, key by key, as
`docker compose build` gives each key to the builder (compose's pkg/compose/build.go).

Every key maps to its meaning or is named in a note: none is dropped unsaid. Paths come
absolute from compose; they are shown relative to the working directory when under it.
No I/O, no environment: a bare build arg (`ARG: null`) is left to the docker CLI, which
takes it from the environment as compose would.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dbugbuild.compose.model import ComposeModelError, Project, Service
from dbugbuild.errors import UsageError
from dbugbuild.options import BuildOptions

# compose also labels the images it builds com.docker.compose.project/service/version
# (getImageBuildLabels). dbugbuild does not: with the classic builder each --label is one
# more LABEL step at the end of the build, and the version label holds compose's build-time
# version, which no CLI command prints exactly (Debian's 2.26.1-4 labels 2.26.1).


@dataclass(frozen=True)
class ServicePlan:
    """How to build one service: the options, the image compose names it, the inline
    Dockerfile text (written to a file by the caller), and what is not honoured."""

    service: str
    build: BuildOptions
    image: str
    inline: str | None = None  # `dockerfile_inline`: build.file is then the caller's to set
    notes: tuple[str, ...] = ()


def default_image(project: str, service: str) -> str:
    """The image compose tags a built service with when it has no `image:` (api.Separator)."""
    return f"{project}-{service}"


def shown_path(path: str, cwd: str) -> str:
    """An absolute path as the user reads it: relative under the working directory `cwd`."""
    path, cwd = posixpath.normpath(path), posixpath.normpath(cwd)
    if path == cwd:
        return "."
    prefix = cwd.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else path


@dataclass
class _Acc:
    """What the keys add up to, as they are read."""

    service: str
    project: Project
    values: dict[str, Any] = field(default_factory=dict)  # BuildOptions fields
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, *items: str) -> None:
        self.values[name] = (*self.values.get(name, ()), *items)

    def note(self, key: str, why: str) -> None:
        self.notes.append(f"build.{key} of service {self.service} is not honoured: {why}")


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ComposeModelError(
        f"compose printed {what} as {type(value).__name__}, not a list of strings",
        "Please report this with the output of 'docker compose config --format json'",
    )


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise ComposeModelError(
        f"compose printed {what} as {type(value).__name__}, not an object",
        "Please report this with the output of 'docker compose config --format json'",
    )


def _args(acc: _Acc, value: Any) -> None:
    # A null value (a bare `- NAME` compose could not resolve) goes as a bare --build-arg NAME:
    # the docker CLI then takes it from the environment, as compose's own resolver does.
    for key, arg in _map(value, f"build.args of {acc.service}").items():
        acc.add("build_args", str(key) if arg is None else f"{key}={arg}")


def _labels(acc: _Acc, value: Any) -> None:
    for key, label in _map(value, f"build.labels of {acc.service}").items():
        acc.add("labels", f"{key}={'' if label is None else label}")


def _extra_hosts(acc: _Acc, value: Any) -> None:
    # compose 2.26 prints `HOST=IP` (a list); other versions a map of HOST: IP (or a list of
    # IPs). docker build takes HOST:IP everywhere (HOST=IP only since docker CLI 25).
    if isinstance(value, Mapping):
        for host, ips in value.items():
            for ip in [ips] if isinstance(ips, str) else _strings(ips, "build.extra_hosts"):
                acc.add("add_hosts", f"{host}:{ip}")
        return
    for entry in _strings(value, f"build.extra_hosts of {acc.service}"):
        host, eq, ip = entry.partition("=")
        acc.add("add_hosts", f"{host}:{ip}" if eq else entry)


def _secrets(acc: _Acc, value: Any) -> None:
    if not isinstance(value, list):
        raise ComposeModelError(
            f"compose printed build.secrets of {acc.service} as {type(value).__name__}",
            "Please report this with the output of 'docker compose config --format json'",
        )
    for item in value:
        ref = _map(item, f"a build secret of {acc.service}")
        source = str(ref.get("source", ""))
        secret = acc.project.secrets.get(source)
        # The id the Dockerfile mounts is the target when given (compose 2.26 does so).
        secret_id = str(ref.get("target") or source)
        if secret is not None and secret.file:
            acc.add("secrets", f"id={secret_id},src={secret.file}")
        elif secret is not None and secret.environment:
            acc.add("secrets", f"id={secret_id},env={secret.environment}")
        else:
            raise UsageError(
                f"service {acc.service}'s build secret '{source}' is neither a file nor an "
                "environment variable (compose builds take only those)",
                f"Give secret {source} a `file:` or an `environment:` in the compose file",
            )
        unused = [k for k in ("uid", "gid", "mode") if ref.get(k) is not None]
        if unused:
            acc.note(
                "secrets",
                f"{', '.join(unused)} of secret {source} (a build secret is mounted as "
                "the RUN --mount line says; compose ignores them too)",
            )


def _shm_size(acc: _Acc, value: Any) -> None:
    if value not in (None, "", 0):
        acc.values["shm_size"] = str(value)


def _platforms(acc: _Acc, value: Any) -> None:
    platforms = _strings(value, f"build.platforms of {acc.service}")
    if platforms:
        acc.values["platform"] = ",".join(platforms)


def _contexts(acc: _Acc, value: Any) -> None:
    for name, where in _map(value, f"build.additional_contexts of {acc.service}").items():
        acc.add("build_contexts", f"{name}={where}")


def _flag(name: str) -> Callable[[_Acc, Any], None]:
    def handle(acc: _Acc, value: Any) -> None:
        if value:
            acc.values[name] = True

    return handle


def _text(name: str) -> Callable[[_Acc, Any], None]:
    def handle(acc: _Acc, value: Any) -> None:
        if value not in (None, ""):
            acc.values[name] = str(value)

    return handle


def _list(name: str) -> Callable[[_Acc, Any], None]:
    def handle(acc: _Acc, value: Any) -> None:
        acc.add(name, *_strings(value, f"build.{name} of {acc.service}"))

    return handle


def _unhonoured(key: str, why: str) -> Callable[[_Acc, Any], None]:
    def handle(acc: _Acc, value: Any) -> None:
        if value not in (None, False, "", [], {}):
            acc.note(key, why)

    return handle


# Each build key compose prints, and what it becomes. context, dockerfile and
# dockerfile_inline are read first (plan()).
_KEYS: dict[str, Callable[[_Acc, Any], None]] = {
    "args": _args,
    "target": _text("target"),
    "network": _text("network"),
    "labels": _labels,
    "platforms": _platforms,
    "secrets": _secrets,
    "ssh": _list("ssh"),
    "cache_from": _list("cache_from"),
    "additional_contexts": _contexts,
    "extra_hosts": _extra_hosts,
    "shm_size": _shm_size,
    "tags": _list("tags"),
    "no_cache": _flag("no_cache"),
    "pull": _flag("pull"),
}
_KEYS.update(
    (key, _unhonoured(key, why))
    for key, why in (
        ("cache_to", "dbugbuild exports no build cache (docker build has no --cache-to)"),
        ("privileged", "dbugbuild does not grant BuildKit's security.insecure entitlement"),
        ("entitlements", "dbugbuild grants no BuildKit entitlement (--allow)"),
        ("isolation", "an isolation technology is a Windows daemon's"),
        ("ulimits", "dbugbuild passes no --ulimit to the builder"),
    )
)
_READ_FIRST = ("context", "dockerfile", "dockerfile_inline")


def plan(service: Service, project: Project, cwd: str, base: BuildOptions) -> ServicePlan:
    """The build of `service` as dbugbuild options: `base`'s (the command line's --no-cache,
    --pull, --backend) with the service's keys; `cwd` (absolute) is where paths are shown from."""
    build = service.build
    if build is None:  # pragma: no cover - build_order never selects one
        raise UsageError(f"service {service.name} has no build section", "")
    context = str(build.get("context") or ".")
    if not posixpath.isabs(context):
        # compose resolves a local context to an absolute path; anything else is a URL.
        raise UsageError(
            f"service {service.name} builds from {context}, a remote context (a git URL or "
            "an archive): dbugbuild debugs builds of a local folder",
            "Clone or unpack it, and point the service's build context at that folder",
        )
    acc = _Acc(service.name, project)
    image = service.image or default_image(project.name, service.name)
    acc.values["tags"] = (image,)
    for key, value in sorted(build.items()):
        if key in _READ_FIRST or key.startswith("x-"):  # x-*: an extension, for other tools
            continue
        handle = _KEYS.get(key)
        if handle is None:
            acc.note(key, "dbugbuild does not know this key (newer than compose 2.26?)")
        else:
            handle(acc, value)
    if "platform" not in acc.values and service.platform:
        acc.values["platform"] = service.platform  # compose builds for the service's platform
    inline = build.get("dockerfile_inline")
    dockerfile = str(build.get("dockerfile") or "Dockerfile")
    file = None
    if inline is None:
        file = shown_path(posixpath.join(context, dockerfile), cwd)
    values = acc.values
    options = replace(
        base,
        context=shown_path(context, cwd),
        file=file,
        no_cache=base.no_cache or bool(values.pop("no_cache", False)),
        pull=base.pull or bool(values.pop("pull", False)),
        **values,
    )
    return ServicePlan(
        service.name,
        options,
        image,
        inline=None if inline is None else str(inline),
        notes=tuple(acc.notes),
    )

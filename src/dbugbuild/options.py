"""The parsed command line of a build as frozen data: what cli.py produces and app.py consumes.

Only a build's (BuildOptions, Options): every run starts with them, before its build's CLI
does. The other commands' are command_options.py's (bisect, compose, clean).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbugbuild import choices
from dbugbuild.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is start-up time, and these are only types
    from collections.abc import Mapping
    from typing import Literal

    from dbugbuild.command_options import ComposeService

    Format = Literal["text", "json", "gcc"]
    ColorChoice = Literal["auto", "always", "never"]
# The builders --backend names; "auto" picks one (backends/choice.py).
BACKEND_CHOICES = choices.BACKEND_CHOICES


@dataclass(frozen=True)
class BuildOptions:
    """The build's own options: what `docker build` (or `podman build`) is given, with docker's
    meaning, and --backend, dbugbuild's choice of builder."""

    context: str = "."
    file: str | None = None
    tags: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    platform: str | None = None  # one platform, or several joined with "," (buildx's form)
    labels: tuple[str, ...] = ()
    # Options passed on to the builder with docker's meaning; the classic builder has none of
    # them (backends.choose_for refuses them there). --secret: BuildKit and Podman.
    secrets: tuple[str, ...] = ()  # --secret id=ID[,src=PATH|,env=VAR]
    ssh: tuple[str, ...] = ()  # --ssh default|ID[=SOCKET|KEY...] (BuildKit)
    build_contexts: tuple[str, ...] = ()  # --build-context NAME=VALUE (BuildKit)
    builder: str | None = None  # --builder NAME: the buildx builder instance (BuildKit)
    backend: str = "auto"  # one of BACKEND_CHOICES (backends/choice.py decides "auto")
    # Options both builders take (compose's extra_hosts, shm_size, cache_from).
    add_hosts: tuple[str, ...] = ()  # --add-host HOST:IP
    shm_size: str | None = None  # --shm-size BYTES (/dev/shm of the RUN containers)
    cache_from: tuple[str, ...] = ()  # --cache-from IMAGE (BuildKit also: type=...,...)


@dataclass(frozen=True)
class Options:
    """A `dbugbuild` run: its build's options, or a saved --log, and what follows the report."""

    build: BuildOptions
    log: str | None = None
    no_shell: bool = False
    exec: tuple[str, ...] = ()
    retry: bool = False
    keep: bool = False
    apply: str | None = None  # --apply CMD: run it; write it back when it exits 0
    yes: bool = False  # write back without asking
    format: Format = "text"
    color: ColorChoice = "auto"
    traceback: bool = False
    # PATH was given (or a build runs from the default "."): with --log, a backend that has to
    # rebuild part of the build (BuildKit's last good layer) has a context to build from.
    context_given: bool = True
    compose: ComposeService | None = None  # set by `dbugbuild compose` for each service


# A label key as the daemon takes it in a filter and a LABEL line: no spaces, no `=` or `,`.
_LABEL_KEY = r"[^\s=,]+"  # (compiled when first used, into re's cache)
RUN_LABELS = "DBUGBUILD_LABELS"


def run_labels(env: Mapping[str, str]) -> dict[str, str]:
    """The extra labels for everything a run creates, from DBUGBUILD_LABELS ("K=V,K2=V2").

    For CI runners that share a daemon: each job labels its own containers and images,
    and `dbugbuild clean --label K=V` (or `clean` with the same variable) removes only those.
    """
    labels: dict[str, str] = {}
    for item in env.get(RUN_LABELS, "").split(","):
        if not item.strip():
            continue
        key, eq, value = item.strip().partition("=")
        if not eq or not re.fullmatch(_LABEL_KEY, key) or any(c.isspace() for c in value):
            raise UsageError(
                f"{RUN_LABELS} holds '{item.strip()}', which is not KEY=VALUE",
                f"Set it to KEY=VALUE[,KEY=VALUE...], e.g. {RUN_LABELS}=ci.job=123",
            )
        labels[key] = value
    return labels


# The syntax of the build flags dbugbuild passes on, checked before anything runs: a bad one
# is our one line (exit 2), not the builder's usage text after a connection and a build start.
# The forms are the builders' (buildx and podman for --secret/--ssh/--build-context, the
# platform specifier's components as containerd's parser takes them); what a value means (a
# file that exists, a stage that exists) stays the builder's to say.
_PLATFORM = r"[A-Za-z0-9_-]+(\([A-Za-z0-9_.-]*\))?(/[A-Za-z0-9_-]+){0,2}"  # (as _LABEL_KEY)
_SECRET_KEYS = frozenset({"type", "id", "src", "source", "env", "required"})


def check_build_flags(build: BuildOptions) -> None:
    """UsageError naming the first malformed --build-arg, --label, --secret, --ssh,
    --build-context or --platform value."""
    for flag, items in (("--build-arg", build.build_args), ("--label", build.labels)):
        for item in items:
            if not item.partition("=")[0].strip():
                _bad(flag, item, "KEY=VALUE (or KEY) with a KEY")
    for item in build.secrets:
        fields = item.split(",")
        for f in fields:
            key, eq, value = f.partition("=")
            if not eq or key.strip().lower() not in _SECRET_KEYS:
                _bad("--secret", item, "id=ID[,src=PATH|env=VAR][,type=file|env]")
            if key.strip().lower() == "type" and value not in ("file", "env"):
                _bad("--secret", item, "type=file or type=env")
    for item in build.ssh:
        name, eq, paths = item.partition("=")
        if not name or "," in name or (eq and not all(paths.split(","))):
            _bad("--ssh", item, "default or ID[=PATH[,PATH...]]")
    for item in build.build_contexts:
        name, eq, value = item.partition("=")
        if not name.strip() or not eq or not value.strip():
            _bad("--build-context", item, "NAME=VALUE (a folder, docker-image://, a URL)")
    platforms = build.platform  # several joined with ","
    if platforms is not None and not all(re.fullmatch(_PLATFORM, p) for p in platforms.split(",")):
        _bad("--platform", platforms, "OS/ARCH[/VARIANT], e.g. linux/amd64")


def _bad(flag: str, value: str, form: str) -> None:
    raise UsageError(f"{flag} '{value}' is malformed: expected {form}", f"Fix {flag}")

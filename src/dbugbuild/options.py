"""The parsed command line as frozen data: what cli.py produces and app.py consumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbugbuild.console import ColorChoice

Format = Literal["text", "json", "gcc"]


@dataclass(frozen=True)
class BuildOptions:
    context: str = "."
    file: str | None = None
    tags: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    platform: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
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

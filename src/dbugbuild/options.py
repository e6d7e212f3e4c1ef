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
    format: Format = "text"
    color: ColorChoice = "auto"
    traceback: bool = False

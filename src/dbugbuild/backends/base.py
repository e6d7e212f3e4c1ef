"""The Backend protocol: what dbugbuild needs of a builder, kept small.

A backend says how to run a build (the CLI's argv for the options), which log family
its output is (the streaming parser), and how to open a debug layer for a failure (the
image to start from, the step's environment, what the build left that must go). The
engine runs what it says; app.py picks the backend (choice.py): classic, buildkit, podman.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from dbugbuild.debug.stepenv import StepEnv
from dbugbuild.dockerfile import Dockerfile, Instruction, Stage
from dbugbuild.engine import BuildCommand, Engine, Mount
from dbugbuild.logs import BuildLog, LogParser
from dbugbuild.options import BuildOptions
from dbugbuild.report import Report


@dataclass(frozen=True)
class BuildInputs:
    """What a backend needs to build part of the failed build again (BuildKit's prefix build):
    the same options, from the same folder, with the same environment."""

    options: BuildOptions
    cwd: str
    env: Mapping[str, str]  # the caller's: `--secret env=`, `--ssh default`, bare --build-arg
    dockerfile_text: str | None  # the Dockerfile as the failed build read it
    dockerfile_file: str | None  # its absolute path (None: it came on stdin)
    context_given: bool  # False for `--log FILE` without a PATH: no context to build from
    say: Callable[[str], None]  # a short status for the user (stderr), as it happens
    show: Callable[[str], None]  # a build's whole output, shown when it fails


@dataclass(frozen=True)
class FailureSite:
    """A located failure, as a backend needs it to open a debug layer."""

    report: Report
    log: BuildLog
    dockerfile: Dockerfile | None
    build_args: Mapping[str, str]  # --build-arg values, bare names resolved from the environment
    network: str | None  # --network of the build
    inputs: BuildInputs | None = None

    @property
    def instruction(self) -> Instruction | None:
        """The failing instruction, when the log's steps map to the Dockerfile's lines."""
        step = self.report.failed_step
        return step.instruction_model if step is not None else None

    @property
    def stage(self) -> Stage | None:
        """The failing instruction's stage, when mapped."""
        step = self.report.failed_step
        return step.stage_model if step is not None else None


@dataclass(frozen=True)
class DebugLayer:
    """Where a failure is debugged: the step's environment (its `image` is the last good
    layer) and the containers the build left for it, removed when debugging ends (unless
    --keep). Images a backend makes for it (a BuildKit prefix build) carry the session's
    labels, so the workspace's clean-up removes them."""

    env: StepEnv
    leftovers: tuple[str, ...] = ()
    # What the debug containers mount to emulate the failing RUN's --mount flags (volumes are
    # labelled: the workspace's clean-up removes them), the secrets they see as variables, and
    # what else to undo when debugging ends (a secret's temporary file).
    mounts: tuple[Mount, ...] = ()
    secret_env: tuple[str, ...] = ()
    cleanup: Callable[[], None] | None = None


class Backend(Protocol):
    """One builder: how to build, how to read its output, where to debug its failure."""

    name: str  # the report's "builder"

    def build_command(
        self, build: BuildOptions, cwd: str, dockerfile_stdin: bytes | None
    ) -> BuildCommand:
        """The build to run for the options, from `cwd` (a Dockerfile on stdin given)."""
        ...

    def log_parser(self) -> LogParser:
        """A new streaming parser of this builder's output (logs.parser(family))."""
        ...

    def parent_image(self, log: BuildLog, engine: Engine) -> str | None:
        """The image a failing step started from when the log cannot say (classic: the base
        image whose ONBUILD trigger failed); None to take the log's last good image."""
        ...

    def debug_layer(
        self, engine: Engine, site: FailureSite, labels: Mapping[str, str]
    ) -> DebugLayer:
        """The layer to debug `site` in; what it makes carries `labels` (the session's)."""
        ...

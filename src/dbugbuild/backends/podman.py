"""Podman (`podman build`, Buildah inside): its argv, its log family, its debug layer.

Buildah keeps an image per step with `--layers` (forced on: without it no step prints an id)
and prints each as `--> <id>`; the last one before the failure is the last good layer. Podman
removes the failed build container (`--force-rm` is its default, and the one `--force-rm=false`
keeps is invisible to the API and lacks the build ARGs: docs/podman-notes.md), so the step's
environment is always reconstructed from that image, the ARGs in scope and the SHELL of the
Dockerfile (Podman's image config has none), and the banner says so.
"""

from __future__ import annotations

from dataclasses import replace

from dbugbuild.backends.buildkit import build_inputs
from dbugbuild.engine.build import BuildCommand

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # the rest is imported when used: after the build has started
    from collections.abc import Mapping

    from dbugbuild import logs
    from dbugbuild.backends.base import DebugLayer, FailureSite
    from dbugbuild.dockerfile import Dockerfile, Instruction, Stage
    from dbugbuild.engine import Engine
    from dbugbuild.logs import BuildLog
    from dbugbuild.options import BuildOptions

REMOVED = "Podman removes the failed build container"


class PodmanBackend:
    """`podman build --layers` (docs/architecture.md, "Podman backend")."""

    name = "podman"

    def build_command(
        self, build: BuildOptions, cwd: str, dockerfile_stdin: bytes | None
    ) -> BuildCommand:
        return BuildCommand(
            program="podman", argv=build_argv(build), cwd=cwd, stdin_data=dockerfile_stdin
        )

    def log_parser(self) -> logs.LogParser:
        from dbugbuild import logs

        return logs.parser("buildah")

    def parent_image(self, log: BuildLog, engine: Engine) -> str | None:
        """The base of the failing step's stage when the failure comes right after its FROM:
        Buildah prints no id for a FROM, so the store names it (None: FROM scratch)."""
        failed = log.failed_step
        if failed is None or failed.instruction == "FROM" or log.last_good_image is not None:
            return None
        at = log.failed_at if log.failed_at is not None else len(log.steps) - 1
        base = next(
            (
                s
                for s in reversed(log.steps[:at])
                if s.instruction == "FROM" and (failed.stage is None or s.stage == failed.stage)
            ),
            None,
        )
        words = [w for w in base.text.split()[1:] if not w.startswith("--")] if base else []
        if not words or words[0].lower() == "scratch":
            return None
        image = (engine.podman_look() or engine).image_id(words[0])  # no service for it
        if image is None:
            return None
        printed = next((len(s.image) for s in log.steps if s.image is not None), 12)
        return image.removeprefix("sha256:")[:printed]

    def debug_layer(
        self, engine: Engine, site: FailureSite, labels: Mapping[str, str]
    ) -> DebugLayer:
        """Reconstructed in the last good layer, with the Dockerfile's SHELL (see the module)."""
        from dbugbuild.backends.base import DebugLayer
        from dbugbuild.backends.reconstruct import reconstructed

        del labels  # Buildah's layers exist already: nothing to make
        ins = site.instruction
        written = _written(ins, site)
        note = REMOVED
        shell = None
        if ins is not None and site.dockerfile is not None and site.stage is not None:
            shell = shell_in_effect(site.dockerfile, site.stage, ins.line)
        if shell is not None and site.report.last_good_image is not None:
            if engine.image_format(site.report.last_good_image) == "oci":
                # Buildah warns "SHELL is not supported for OCI image format" and runs /bin/sh -c.
                shell = None
                note += "; Buildah ignores SHELL in the OCI image format"
            else:
                note += "; SHELL from the Dockerfile"
        env = reconstructed(engine, site, written, shell)
        return DebugLayer(replace(env, note=note))


def shell_in_effect(
    dockerfile: Dockerfile, stage: Stage, before_line: int
) -> tuple[str, ...] | None:
    """The SHELL a step at `before_line` of `stage` runs with, from the Dockerfile: the stage's
    last SHELL before it, else its base stage's (FROM an earlier stage); None: none is set."""
    seen: set[int] = set()
    current: Stage | None = stage
    limit = before_line
    while current is not None and current.index not in seen:
        seen.add(current.index)
        shells = [i for i in current.instructions if i.keyword == "SHELL" and i.line < limit]
        if shells:
            return _shell_of(shells[-1])
        current = _base_stage(dockerfile, current)
        limit = 1 << 30
    return None


def _shell_of(ins: Instruction) -> tuple[str, ...] | None:
    from dbugbuild.dockerfile import parse_exec_form

    return ins.json_args or parse_exec_form(ins.args)


def _base_stage(dockerfile: Dockerfile, stage: Stage) -> Stage | None:
    """The earlier stage a stage is built FROM (by name or index), or None for an image."""
    base = stage.base.lower()
    for other in dockerfile.stages[: stage.index]:
        if other.name == base or str(other.index) == base:
            return other
    return None


def _written(ins: Instruction | None, site: FailureSite) -> str | None:
    """The failing instruction as written, its lines kept, to pre-type in the session."""
    if ins is None:
        return None
    from dbugbuild.dockerfile import command_as_written

    escape = site.dockerfile.escape if site.dockerfile is not None else "\\"
    return command_as_written(ins, escape)


def build_argv(build: BuildOptions) -> tuple[str, ...]:
    """The `podman build` argv for dbugbuild's build options (their docker meaning, podman's
    spelling), with `--layers`: Buildah then commits and prints an image per step."""
    argv: list[str] = ["build", "--layers"]
    if build.file is not None:
        argv += ["--file", build.file]
    for tag in build.tags:
        argv += ["--tag", tag]
    for arg in build.build_args:
        argv += ["--build-arg", arg]  # a bare NAME takes its value from the environment
    if build.target:
        argv += ["--target", build.target]
    if build.no_cache:
        argv.append("--no-cache")
    if build.pull:
        argv.append("--pull=always")  # docker's --pull: always try for a newer base
    if build.network:
        argv += ["--network", build.network]
    if build.platform:
        argv += ["--platform", build.platform]
    argv += build_inputs(build)  # podman 4.3 takes --ssh and --build-context with docker's meaning
    for label in build.labels:
        argv += ["--label", label]
    argv.append(build.context)
    return tuple(argv)

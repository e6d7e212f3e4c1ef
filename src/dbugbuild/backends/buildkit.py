"""BuildKit (`docker buildx build --progress=plain --load`): its argv, its log family, and
(bk-debug's part) its debug layer.

The build runs through the docker CLI as the classic one does, so the context, the
endpoint and the credentials are docker's own. With the buildx plugin it is `docker buildx
build`, which reaches any builder (`--builder NAME`: docker-container, kubernetes, remote
drivers) and `--load`s the result into the daemon; a CLI without the plugin but with
BuildKit built in (before 23) runs `DOCKER_BUILDKIT=1 docker build --progress=plain`.
BuildKit keeps no image per step and no failed container: its debug layer has to be made
(a build of the Dockerfile cut before the failing instruction).
"""

from __future__ import annotations

from dbugbuild.backends.classic import docker_build_options
from dbugbuild.engine.build import BuildCommand

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # the rest is imported when used: after the build has started
    from collections.abc import Mapping

    from dbugbuild import logs
    from dbugbuild.backends.base import DebugLayer, FailureSite
    from dbugbuild.engine import Engine
    from dbugbuild.logs import BuildLog
    from dbugbuild.options import BuildOptions

INSTALL_BUILDX = (
    "Install the buildx plugin (Debian: 'apt-get install docker-buildx'; elsewhere "
    "https://github.com/docker/buildx#installing), or build with --backend classic"
)


class BuildKitBackend:
    """BuildKit through the docker CLI: buildx when it is there, else the CLI's own."""

    name = "buildkit"

    def build_command(
        self, build: BuildOptions, cwd: str, dockerfile_stdin: bytes | None
    ) -> BuildCommand:
        fallback = None
        if build.builder is None and not build.build_contexts:
            # --builder and --build-context are buildx's: no fallback can take them.
            fallback = BuildCommand(
                program="docker",
                argv=("build", *build_options(build)),
                cwd=cwd,
                env={"DOCKER_BUILDKIT": "1"},
                stdin_data=dockerfile_stdin,
                install_hint=INSTALL_BUILDX,
            )
        builder = ("--builder", build.builder) if build.builder else ()
        return BuildCommand(
            program="docker",
            argv=("buildx", "build", *builder, "--load", *build_options(build)),
            cwd=cwd,
            stdin_data=dockerfile_stdin,
            plugin="buildx",
            fallback=fallback,
            install_hint=INSTALL_BUILDX,
        )

    def log_parser(self) -> logs.LogParser:
        from dbugbuild import logs

        return logs.parser("buildkit")

    def parent_image(self, log: BuildLog, engine: Engine) -> str | None:
        """BuildKit's log names no image at all: the debug layer is made, not found."""
        del log, engine
        return None

    def debug_layer(
        self, engine: Engine, site: FailureSite, labels: Mapping[str, str]
    ) -> DebugLayer:
        """The last good layer of a BuildKit build, made by a build of the Dockerfile up to
        the failing instruction (lastgood.py), and the step's environment in it."""
        from dbugbuild.backends.lastgood import prefix_layer

        return prefix_layer(self, engine, site, labels)


def build_options(build: BuildOptions) -> tuple[str, ...]:
    """The options of a BuildKit `docker [buildx] build`, docker's spelling, as given; the
    context last."""
    return ("--progress=plain", *docker_build_options(build), *build_inputs(build), build.context)


def build_inputs(build: BuildOptions) -> list[str]:
    """--secret, --ssh and --build-context as given: what BuildKit (and Podman's Buildah, with
    docker's meaning) take beyond the classic builder."""
    argv: list[str] = []
    for secret in build.secrets:
        argv += ["--secret", secret]
    for ssh in build.ssh:
        argv += ["--ssh", ssh]
    for context in build.build_contexts:
        argv += ["--build-context", context]
    return argv

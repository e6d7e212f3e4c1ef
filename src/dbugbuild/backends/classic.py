"""The classic builder (DOCKER_BUILDKIT=0 docker build): its argv, its log family, its debug layer.

Its failed RUN keeps its container (we never pass --force-rm), whose config is the exact
Cmd, Env (build ARGs included), User and WorkingDir the step ran with: the debug layer
starts from that container's image with that environment. When it is gone (a log from
elsewhere, a COPY failure, which has no container), the environment is reconstructed.
"""

from __future__ import annotations

from dbugbuild.engine.build import BuildCommand

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # the rest is imported when used: after the build has started
    from collections.abc import Mapping

    from dbugbuild import logs
    from dbugbuild.backends.base import DebugLayer, FailureSite
    from dbugbuild.dockerfile import Instruction
    from dbugbuild.engine import Engine
    from dbugbuild.logs import BuildLog
    from dbugbuild.options import BuildOptions

# The docker CLI prints this notice on every classic build since v23
# (cli/command/image/build.go). We chose the classic builder for the user, so the
# advice to "remove DOCKER_BUILDKIT=0" is noise to them: it is not relayed.
_LEGACY_NOTICE_HEAD = "DEPRECATED: The legacy builder is deprecated"
_LEGACY_NOTICE_LINES = 4  # the head, two indented lines and a blank line


class ClassicBackend:
    """`docker build` with DOCKER_BUILDKIT=0 (docs/architecture.md says why the CLI)."""

    name = "classic"

    def build_command(
        self, build: BuildOptions, cwd: str, dockerfile_stdin: bytes | None
    ) -> BuildCommand:
        return BuildCommand(
            program="docker",
            argv=build_argv(build),
            cwd=cwd,
            env={"DOCKER_BUILDKIT": "0"},
            stdin_data=dockerfile_stdin,
            stderr_filter=NoticeFilter,
        )

    def log_parser(self) -> logs.LogParser:
        from dbugbuild import logs

        return logs.parser("classic")

    def parent_image(self, log: BuildLog, engine: Engine) -> str | None:
        """The image whose ONBUILD trigger failed: the failing FROM step's base, by the daemon
        (the log never prints its id)."""
        step = log.failed_step
        if log.failure is None or not log.failure.in_trigger or step is None:
            return None
        ref = step.text.split(None, 1)[1] if " " in step.text else ""
        words = [w for w in ref.split() if not w.startswith("--")]
        if not words:
            return None
        image = engine.image_id(words[0])
        from dbugbuild.report.style import short_id

        return short_id(image) if image and image.startswith("sha256:") else image

    def debug_layer(
        self, engine: Engine, site: FailureSite, labels: Mapping[str, str]
    ) -> DebugLayer:
        """From the failed step's kept container if it exists, else reconstructed."""
        from dbugbuild.backends.base import DebugLayer
        from dbugbuild.backends.reconstruct import reconstructed
        from dbugbuild.debug import stepenv

        del labels  # the classic builder's layers exist already: nothing to make
        rep = site.report
        ins = site.instruction
        failure = site.log.failure
        quoted = failure.command if failure is not None and failure.in_trigger else None
        cid = rep.failed_container
        kept = engine.container_config(cid) if cid else None
        leftovers = (cid,) if cid else ()
        if kept is None:
            return DebugLayer(reconstructed(engine, site, _written(ins, site)), leftovers)
        config, network, image = kept
        image_config = engine.image_config(image) or {}
        is_run = ins is not None and ins.keyword == "RUN"
        trigger = stepenv.failed_trigger(quoted, image_config) if quoted else None
        command: str | None = _written(ins, site) if is_run else None
        exec_form = bool(is_run and ins is not None and ins.is_exec_form)
        if trigger is not None:
            command, exec_form = trigger.command, trigger.exec_form
        env = stepenv.from_failed_container(
            config, network, image, image_config.get("Shell"), command=command, exec_form=exec_form
        )
        return DebugLayer(env, leftovers)


def _written(ins: Instruction | None, site: FailureSite) -> str | None:
    """The failing instruction as written, its lines kept, to pre-type in the session."""
    if ins is None:
        return None
    from dbugbuild.dockerfile import command_as_written

    escape = site.dockerfile.escape if site.dockerfile is not None else "\\"
    return command_as_written(ins, escape)


class NoticeFilter:
    """Drops the CLI's legacy-builder deprecation notice from its stderr, whole lines only."""

    def __init__(self) -> None:
        self._pending = ""
        self._skip = 0

    def filter(self, text: str, final: bool) -> str:
        self._pending += text
        out: list[str] = []
        while True:
            nl = self._pending.find("\n")
            if nl < 0:
                break
            line, self._pending = self._pending[: nl + 1], self._pending[nl + 1 :]
            if self._skip:
                self._skip -= 1
                continue
            if line.startswith(_LEGACY_NOTICE_HEAD):
                self._skip = _LEGACY_NOTICE_LINES - 1
                continue
            out.append(line)
        if final:
            out.append(self._pending)
            self._pending = ""
        return "".join(out)


def docker_build_options(build: BuildOptions) -> list[str]:
    """The options the docker CLI's two builders take with the same spelling and meaning,
    as given: -f, -t, --build-arg, --target, --no-cache, --pull, --network, --platform,
    --label, --add-host, --shm-size, --cache-from (the classic builder ignores a BuildKit
    cache `type=...`)."""
    argv: list[str] = []
    if build.file is not None:
        argv += ["--file", build.file]
    for tag in build.tags:
        argv += ["--tag", tag]
    for arg in build.build_args:
        # A bare NAME takes its value from the environment: the CLI does exactly that.
        argv += ["--build-arg", arg]
    if build.target:
        argv += ["--target", build.target]
    if build.no_cache:
        argv.append("--no-cache")
    if build.pull:
        argv.append("--pull")
    if build.network:
        argv += ["--network", build.network]
    if build.platform:
        argv += ["--platform", build.platform]
    for label in build.labels:
        argv += ["--label", label]
    for host in build.add_hosts:
        argv += ["--add-host", host]
    if build.shm_size:
        argv += ["--shm-size", build.shm_size]
    for source in build.cache_from:
        argv += ["--cache-from", source]
    return argv


def build_argv(build: BuildOptions) -> tuple[str, ...]:
    """The `docker build` argv for dbugbuild's build options (docker's spelling, as given).

    --rm (the default) removes the containers of successful steps; the failing step's
    container is kept unless --force-rm, and the debug session starts from it."""
    return ("build", *docker_build_options(build), build.context)

"""I/O: the Docker daemon as dbugbuild needs it: builds through a container CLI, everything else
through the Engine API; every object dbugbuild makes labelled, and removable by its labels."""

from __future__ import annotations

import contextlib
import shutil  # (argparse's already: it loads it for its help's width)
from dataclasses import replace

from dbugbuild.engine.build import (
    BuildCommand,
    has_plugin,
    missing_plugin,
    run_build,
    said_no_buildx,
    standalone,
)
from dbugbuild.engine.connect import LOCAL_PODMAN, Connection, connect, podman_later
from dbugbuild.engine.containers import ContainersMixin
from dbugbuild.engine.endpoint import Endpoint
from dbugbuild.engine.failures import api_error
from dbugbuild.engine.images import ImagesMixin
from dbugbuild.engine.sdk import docker
from dbugbuild.engine.sweeping import LABEL as LABEL
from dbugbuild.engine.sweeping import SweepMixin
from dbugbuild.engine.volumes import VolumesMixin
from dbugbuild.errors import EngineError, EngineUnavailableError
from dbugbuild.options import run_labels

# Only what a build needs before its CLI runs above; the rest after it (tests/test_startup.py).
TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from contextlib import AbstractContextManager
    from typing import Any

    from dbugbuild.engine.build import OutputSink
    from dbugbuild.engine.later import Later
    from dbugbuild.engine.leftovers import StepTrace
    from dbugbuild.engine.podlook import PodmanLook
    from dbugbuild.engine.podman import PodmanEndpoint
    from dbugbuild.engine.probe import ProbeResult
    from dbugbuild.engine.specs import ContainerSpec


class Engine(ImagesMixin, ContainersMixin, VolumesMixin, SweepMixin):
    """The daemon: found as the docker CLI finds it (endpoint.py), images and containers by the
    API (images.py, containers.py), builds by a CLI (build.py), `:shell` in a terminal.

    A Podman service is an engine too (podman.py): the same API through its Docker-compatible
    endpoint, `podman` for builds and `:shell`, and, when dbugbuild started the service for
    the run, that service stopped by close()."""

    def __init__(
        self,
        connection: Connection,
        env: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
        podman: PodmanEndpoint | None = None,
    ) -> None:
        self._connection = connection
        self._docker_cli = connection.cli
        self._env = dict(env)
        self._labels = dict(labels or {})
        self._is_local: bool | None = None
        self._plugins: dict[str, bool] = {}
        self._podman_given = podman
        # A local Podman service sought in the connection's thread (connect_podman).
        self._seeks_podman = connection.endpoint.host == LOCAL_PODMAN
        # What classic builds printed of their step containers, removed by close()
        # (leftovers.py): the failed one is the debug phase's until then; --keep's for good.
        self._traces: list[StepTrace] = []
        # Removals in a thread (let_go_soon's, the probes' containers): settle() waits.
        self._going: list[Later[object]] = []
        # Makes a section no signal cuts in two (a container being created, the clean-up): app
        # sets debug.signals.deferred, which the engine cannot import (dependencies point down).
        self.deferred: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext

    @property
    def _api(self) -> Any:
        """The Engine API (Connection.api); docker-py's first use waits for its client
        (connect.py: made in a thread while a build runs, or now)."""
        return self._connection.api

    @property
    def _podman(self) -> PodmanEndpoint | None:
        """The Podman service this engine is (waits for it to be found), None on Docker."""
        return self._connection.podman if self._seeks_podman else self._podman_given

    def connect_soon(self) -> None:
        """Start reaching the API in a thread, if that waits (a build has started: see
        connect.Connection)."""
        self._connection.soon()

    @classmethod
    def connect(cls, env: Mapping[str, str]) -> Engine:
        """Reach the daemon the docker CLI would use (DOCKER_HOST, then the current context)."""
        labels = run_labels(env)  # a malformed DBUGBUILD_LABELS is a usage error, before anything
        return cls(connect(env), env, labels)

    @classmethod
    def connect_podman(cls, env: Mapping[str, str]) -> Engine:
        """Reach a Podman service (podman.py's order), starting a private one if none listens.

        Without CONTAINER_HOST and DOCKER_HOST the service is a local one (a default socket,
        or dbugbuild's own), found or started when the API is first used or, once
        connect_soon() is called, in a thread: a `podman build` needs no service."""
        labels = run_labels(env)
        if not (env.get("CONTAINER_HOST") or env.get("DOCKER_HOST")):
            return cls(podman_later(env), env, labels)
        from dbugbuild.engine.podman import connect_podman

        client, _, podman = connect_podman(env)
        docker_cli = shutil.which("docker", path=env.get("PATH"))
        connection = Connection(client, docker_cli, Endpoint(podman.url, podman.source), None)
        return cls(connection, env, labels, podman)

    def close(self) -> None:
        """Remove what this engine's builds left (the failed step's container, unless kept),
        then let go of the daemon (and stop a Podman service started for the run: one it
        sought is stopped with the connection)."""
        with self.deferred():
            try:
                try:
                    self.settle()
                    left = [c for trace in self._traces for c in trace.containers]
                    if left:
                        from dbugbuild.engine.leftovers import remove_left

                        remove_left(self._api, left)
                finally:
                    self._traces = []
                    self._connection.close()
            finally:
                if self._podman_given is not None and self._podman_given.service is not None:
                    self._podman_given.service.stop()

    def let_go_soon(self) -> None:
        """Remove what the builds left in a thread, while a report-only run makes its report;
        close() waits for it. The thread is there before the traces go: a signal between
        the two leaves close() both (the second removal finds nothing to remove)."""
        left = [c for trace in self._traces for c in trace.containers]
        if left:
            from dbugbuild.engine.leftovers import remove_left

            self._soon(lambda: remove_left(self._api, left))
            self._traces = []

    @property
    def endpoint(self) -> Endpoint:
        """Where the daemon is and how it was found: `.described` names it in messages,
        `.warning` is the one sentence to print for an unprotected (plain TCP) endpoint."""
        podman = self._podman if self._seeks_podman else None
        return Endpoint(podman.url, podman.source) if podman else self._connection.endpoint

    @property
    def is_local(self) -> bool:
        """Whether a local folder bind-mounted into a container is that folder. False for a
        remote daemon (ssh:// or tcp:// to another machine), and for a socket or loopback port
        whose daemon reports another host name (in a VM, or on the host of dbugbuild's
        container): a bind would mount the daemon's own path. Asked of the daemon once."""
        if self._is_local is None:
            self._is_local = False
            if self.endpoint.on_this_machine:
                import socket

                try:
                    name = str(self._api.info().get("Name") or "")
                except docker.errors.APIError as exc:
                    raise api_error("asking the daemon where it runs", exc) from exc
                self._is_local = name == socket.gethostname()
        return self._is_local

    @property
    def is_podman(self) -> bool:
        """Whether this is a Podman service (also one found at DOCKER_HOST by Engine.connect).

        A local socket not connected yet is asked by one plain request (plainapi.py)."""
        if self._seeks_podman or self._podman_given is not None:
            return True
        from dbugbuild.engine.plainapi import local_version
        from dbugbuild.engine.podman import is_podman

        connection = self._connection
        if not connection.made and connection.endpoint.scheme == "unix":
            version = local_version(connection.endpoint.host)
            if version is not None:
                return is_podman(version)
        try:
            return is_podman(self._api.version())
        except docker.errors.DockerException:
            return False

    def as_podman(self) -> Engine:
        """This engine, known to be a Podman service (Engine.connect found one): podman builds
        and `:shell` reach the same storage. It takes over the connection (close this one, not
        both)."""
        from dbugbuild.engine.podman import PodmanEndpoint

        endpoint = self.endpoint
        remote = {} if endpoint.scheme == "unix" else {"CONTAINER_HOST": endpoint.host}
        podman = PodmanEndpoint(endpoint.host, cli_env=remote)
        engine = Engine(self._connection, self._env, self._labels, podman)
        engine.deferred = self.deferred
        return engine

    def labels(self, session_id: str) -> dict[str, str]:
        """The labels of everything this run creates for a session: dbugbuild's own, with the
        session id, and DBUGBUILD_LABELS' (options.run_labels)."""
        return {**self._labels, LABEL: session_id}

    @property
    def run_labels(self) -> dict[str, str]:
        """DBUGBUILD_LABELS as this engine applies them."""
        return dict(self._labels)

    def _program(self, name: str) -> str:
        """The path of a container CLI: docker for builds and :shell, or another on PATH."""
        if name == "docker":
            path = self._docker_cli
            install = "the Docker CLI (Debian: 'apt-get install docker.io')"
        else:
            path, install = shutil.which(name, path=self._env.get("PATH")), name
        if path is None:
            raise EngineUnavailableError(
                f"the {name} command was not found on PATH", f"Install {install} and retry"
            )
        return path

    # -- builds, and the terminal --------------------------------------------------------

    def build(
        self,
        command: BuildCommand,
        sink: OutputSink,
        started: Callable[[], None] | None = None,
        keep: bool = False,
        api_soon: bool = True,
    ) -> int:
        """Run a build with its CLI, passing its output to `sink` as it comes; once it runs,
        the API is reached in a thread (connect_soon; not with `api_soon` False: when it is
        first used, if ever) and `started` is called.

        The step containers a classic build prints are removed by close() from the moment
        they are printed (the failed one too, unless `keep`), and at once when the build is
        interrupted (leftovers.py); a cancelled podman build's Buildah containers too.

        The CLI, not the API, runs the build: it owns the build context semantics users expect
        of `docker build` (.dockerignore, -f outside the context, stdin Dockerfiles, contexts,
        credential helpers for --pull; docs/architecture.md). Returns the CLI's exit status.
        """
        if command.plugin is not None and not self.has_plugin(command.plugin):
            if command.fallback is None:
                raise missing_plugin(command)
            command = command.fallback
        path, command = standalone(self._program(command.program), command, self._env)
        stderr: list[str] = []
        podman = command.program == "podman"
        watch = None
        if podman:  # its clock starts before the build: what a cancelled one leaves is newer
            from dbugbuild.engine.podman import BuildWatch

            watch = BuildWatch(path, {**self._cli_env, **command.env})
        traced: list[StepTrace] = []  # a classic CLI's, once it runs (leftovers.py loads then)

        def relay(text: str, from_stderr: bool) -> None:
            if from_stderr and len(stderr) < 64:
                stderr.append(text)
            if watch is not None:
                watch.seen(text)
            if traced:
                traced[0].seen(text)
            sink(text, from_stderr)

        def running() -> None:
            if not podman:
                from dbugbuild.engine.leftovers import StepTrace

                traced.append(StepTrace())
                if not keep:  # armed before the first line is read: before the failed container
                    self._traces.append(traced[0])
            if api_soon:
                self.connect_soon()
            if started is not None:
                started()

        try:
            status = run_build(path, command, self._cli_env, relay, running)
        except BaseException:
            if watch is not None:
                watch.clean()  # a cancelled podman build leaves its Buildah containers
            if traced:  # the CLI is stopped; the daemon may still hold the step's container
                from dbugbuild.engine.leftovers import remove_left, strays

                with self.deferred():
                    api, trace = self._api, traced[0]
                    remove_left(api, [*trace.containers, *strays(api, trace)])
            raise
        if status != 0 and command.plugin is None and said_no_buildx("".join(stderr)):
            # A CLI without BuildKit built in (23+) refused `DOCKER_BUILDKIT=1 docker build`.
            raise missing_plugin(replace(command, plugin="buildx"))
        return status

    def has_plugin(self, name: str) -> bool:
        """Whether the docker CLI has the plugin `name` (asked once per engine)."""
        if name not in self._plugins:
            self._plugins[name] = has_plugin(self._program("docker"), name, self._env)
        return self._plugins[name]

    def terminal(self, spec: ContainerSpec, pretype: str, echo: Callable[[str], None]) -> int:
        """Run `spec` interactively on this terminal (`docker run -it`, on Podman `podman run
        -it`); its exit status."""
        from dbugbuild.engine.terminal import run_terminal

        cli = self._program("podman" if self._podman is not None else "docker")
        return run_terminal(cli, self._cli_env, spec, pretype, echo)

    def exec_terminal(
        self, container_id: str, argv: Sequence[str], pretype: str, echo: Callable[[str], None]
    ) -> int:
        """Run argv interactively in a running container on this terminal (`docker exec -it`,
        on Podman `podman exec -it`); its exit status."""
        from dbugbuild.engine.terminal import run_exec_terminal

        cli = self._program("podman" if self._podman is not None else "docker")
        return run_exec_terminal(cli, self._cli_env, container_id, tuple(argv), pretype, echo)

    def diff(self, container_id: str) -> list[tuple[str, str]] | None:
        """(kind, path) of what a container changed (images.py); on Podman without the `/etc`
        it touches for its own mounts."""
        from dbugbuild.engine.podman import without_mount_noise

        changes = super().diff(container_id)
        return without_mount_noise(changes) if changes and self._podman is not None else changes

    @property
    def _cli_env(self) -> dict[str, str]:
        """The environment of the engine's CLI: on Podman, what reaches the same storage (a
        service still sought is a local one: the CLI's default storage)."""
        podman = self._podman_given
        return {**self._env, **(podman.cli_env if podman is not None else {})}

    def image_format(self, image: str) -> str | None:
        """The format Podman stored a local image in, "oci" or "docker" (Buildah ignores SHELL
        and ONBUILD in the OCI format); None on Docker, or when podman cannot say."""
        if self._podman is None:
            return None
        from dbugbuild.engine.podman import manifest_type

        kind = manifest_type(self._program("podman"), self._cli_env, image)
        return None if kind is None else ("oci" if "oci" in kind else "docker")

    def podman_look(self) -> PodmanLook | None:
        """The look (image_config, image_id, probe) through the podman CLI, in the store its
        builds use (podlook.py): a report starts no service for it, a session waits for none."""
        if self._podman_given is None and not self._seeks_podman:
            return None
        from dbugbuild.engine.podlook import PodmanLook  # the diagnosis' modules: not at start-up

        return PodmanLook(self._program("podman"), self._cli_env, self.labels, self.deferred)

    # -- looking, and cleaning up ---------------------------------------------------------

    def probe(
        self, image: str, argv: Sequence[str], session_id: str, timeout: float = 10.0
    ) -> ProbeResult | None:
        """A short read-only look inside an image (probe.py), labelled for the session. Its
        container is removed in a thread (close() waits for it): the answer does not wait."""
        from dbugbuild.engine.probe import run_probe

        api, labels = self._api, self.labels(session_id)
        return run_probe(api, image, argv, labels, timeout, self._remove_soon, self.deferred)

    def settle(self) -> None:
        """Wait until what is being removed in a thread is gone (close() does); then raise
        what a removal raised, as removing here would."""
        going, self._going = self._going, []
        failed: BaseException | None = None
        for removal in going:
            try:
                removal.result()
            except BaseException as exc:  # the others are still waited for
                failed = failed or exc
        if failed is not None:
            raise failed

    def _soon(self, remove: Callable[[], object]) -> None:
        from dbugbuild.engine.later import Later

        going: Later[object] = Later(remove, "dbugbuild-removal")
        self._going.append(going)
        going.start()

    def _remove_soon(self, container_id: str) -> bool:
        def remove() -> None:
            with contextlib.suppress(EngineError):  # best effort, as the probe's own removal
                self.remove_container(container_id)

        self._soon(remove)
        return True

"""I/O: the Docker daemon as dbugbuild needs it: builds through a container CLI, everything else
through the Engine API; every object dbugbuild makes labelled, and removable by its labels."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import docker.errors

from dbugbuild.engine.build import (
    BuildCommand,
    OutputSink,
    has_plugin,
    missing_plugin,
    run_build,
    said_no_buildx,
)
from dbugbuild.engine.connect import Connection, connect
from dbugbuild.engine.containers import ContainersMixin, ContainerSpec
from dbugbuild.engine.endpoint import Endpoint
from dbugbuild.engine.failures import api_error
from dbugbuild.engine.images import ImagesMixin
from dbugbuild.engine.probe import ProbeResult, run_probe
from dbugbuild.engine.terminal import run_terminal
from dbugbuild.engine.volumes import VolumesMixin
from dbugbuild.errors import EngineUnavailableError
from dbugbuild.options import run_labels

# Everything dbugbuild creates in the daemon carries this label (value: the session id).
LABEL = "dbugbuild.session"


class Engine(ImagesMixin, ContainersMixin, VolumesMixin):
    """The daemon: found as the docker CLI finds it (endpoint.py), images and containers by the
    API (images.py, containers.py), builds by a CLI (build.py), `:shell` in a terminal."""

    def __init__(
        self,
        connection: Connection,
        env: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._connection = connection
        self._client = connection.client
        self._docker_cli = connection.cli
        self._env = dict(env)
        self._labels = dict(labels or {})
        self._is_local: bool | None = None
        self._plugins: dict[str, bool] = {}

    @classmethod
    def connect(cls, env: Mapping[str, str]) -> Engine:
        """Reach the daemon the docker CLI would use (DOCKER_HOST, then the current context)."""
        labels = run_labels(env)  # a malformed DBUGBUILD_LABELS is a usage error, before anything
        return cls(connect(env), env, labels)

    def close(self) -> None:
        self._connection.close()

    @property
    def endpoint(self) -> Endpoint:
        """Where the daemon is and how it was found: `.described` names it in messages,
        `.warning` is the one sentence to print for an unprotected (plain TCP) endpoint."""
        return self._connection.endpoint

    @property
    def is_local(self) -> bool:
        """Whether a path on this machine is the same path for the daemon, so a bind mount of
        a local folder into a container mounts that folder. False for a remote daemon (ssh://
        or tcp:// to another machine), and for a socket or loopback port whose daemon reports
        another host name (a daemon in a VM, or on the host of the container dbugbuild runs
        in): there a bind mount would mount the daemon's own path of that name, so anything
        that binds must say so instead. Asked of the daemon once."""
        if self._is_local is None:
            self._is_local = False
            if self.endpoint.on_this_machine:
                try:
                    name = str(self._client.api.info().get("Name") or "")
                except docker.errors.APIError as exc:
                    raise api_error("asking the daemon where it runs", exc) from exc
                self._is_local = name == socket.gethostname()
        return self._is_local

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

    def build(self, command: BuildCommand, sink: OutputSink) -> int:
        """Run a build with its CLI, passing its output to `sink` as it comes.

        The CLI, not the API, runs the build because it owns the build context
        semantics users expect of `docker build` (.dockerignore, -f outside the
        context, stdin Dockerfiles, contexts, credential helpers for --pull); see
        docs/architecture.md. Returns the CLI's exit status (a failing RUN's code).
        """
        if command.plugin is not None and not self.has_plugin(command.plugin):
            if command.fallback is None:
                raise missing_plugin(command)
            command = command.fallback
        stderr: list[str] = []

        def relay(text: str, from_stderr: bool) -> None:
            if from_stderr and len(stderr) < 64:
                stderr.append(text)
            sink(text, from_stderr)

        status = run_build(self._program(command.program), command, self._env, relay)
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
        """Run `spec` interactively on this terminal (`docker run -it`); its exit status."""
        return run_terminal(self._program("docker"), self._env, spec, pretype, echo)

    # -- looking, and cleaning up ---------------------------------------------------------

    def probe(
        self, image: str, argv: Sequence[str], session_id: str, timeout: float = 10.0
    ) -> ProbeResult | None:
        """A short read-only look inside an image (probe.py), labelled for the session."""
        return run_probe(
            self._client.api, image, argv, self.labels(session_id), timeout, self.remove_container
        )

    def labelled(self, *selectors: str) -> tuple[list[str], list[str]]:
        """(container ids, image ids) labelled by dbugbuild that also match every one of
        `selectors` (`KEY=VALUE` or `KEY` label filters)."""
        filters = {"label": [LABEL, *selectors]}  # the daemon ANDs label filters
        api = self._client.api
        try:
            containers = [str(c["Id"]) for c in api.containers(all=True, filters=filters)]
            images = [str(i["Id"]) for i in api.images(all=True, filters=filters)]
        except docker.errors.APIError as exc:
            raise api_error("listing dbugbuild's containers and images", exc) from exc
        return containers, images

    def sweep(self, *selectors: str) -> tuple[list[str], list[str]]:
        """Remove the containers and images labelled by dbugbuild that also match every one of
        `selectors` (`KEY=VALUE` or `KEY` label filters, e.g. one session's id).

        Returns the (container ids, image ids) removed: what `dbugbuild clean` reports.
        """
        containers, _ = self.labelled(*selectors)
        try:
            removed_c = [c for c in containers if self.remove_container(c)]
            # Listed after the containers are gone: a session's last commit may land meanwhile.
            removed_i = self.remove_images(set(self.labelled(*selectors)[1]))
        except docker.errors.APIError as exc:
            raise api_error("removing dbugbuild's containers and images", exc) from exc
        return removed_c, removed_i

    def sweep_volumes(self, *selectors: str) -> list[str]:
        """Remove the volumes labelled by dbugbuild that also match every one of `selectors`
        (after the containers that used them: see sweep); the names removed."""
        return [v for v in self.labelled_volumes(LABEL, *selectors) if self.remove_volume(v)]

"""I/O: the daemon's containers as dbugbuild needs them: create one as a RUN line would run,
start it, follow its output, wait, kill, inspect, remove."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dbugbuild.engine.failures import api_error, start_error, unless_missing
from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineError


@dataclass(frozen=True)
class Mount:
    """A mount of a debug container, as plain data: a path of the daemon's host (bind), a named
    volume (never pre-filled from the image: a RUN's mount hides what the layer has there),
    or a tmpfs."""

    kind: Literal["bind", "volume", "tmpfs"]
    target: str
    source: str = ""  # the host path (bind) or the volume's name; "" for a tmpfs
    read_only: bool = False
    size: int | None = None  # a tmpfs's size in bytes

    def docker(self) -> Any:
        """The docker-py Mount of it."""
        if self.kind == "tmpfs":
            return docker.types.Mount(self.target, None, type="tmpfs", tmpfs_size=self.size)
        return docker.types.Mount(
            self.target,
            self.source,
            type=self.kind,
            read_only=self.read_only,
            no_copy=self.kind == "volume",
        )

    def cli(self) -> str:
        """The `docker run --mount` value of it."""
        parts = [f"type={self.kind}", f"target={self.target}"]
        if self.kind != "tmpfs":
            parts.append(f"source={self.source}")
        if self.read_only:
            parts.append("readonly")
        if self.kind == "volume":
            parts.append("volume-nocopy")
        if self.size is not None:
            parts.append(f"tmpfs-size={self.size}")
        # The CLI reads the value as CSV: quote every field so a comma in a path survives.
        return ",".join('"' + p.replace('"', '""') + '"' for p in parts)


@dataclass(frozen=True)
class ContainerSpec:
    """A container that runs `argv` in `image` as a build step would: its Env, User, WorkingDir
    and network, the image's ENTRYPOINT ignored (dispatchRun overrides it), with labels."""

    image: str
    argv: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    network: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    mounts: tuple[Mount, ...] = ()
    # KEY=VALUE passed to the container's environment but never written on a command line nor
    # into a committed image: a secret a RUN sees as a variable (`--mount=type=secret,env=`).
    secret_env: tuple[str, ...] = ()


class ContainersMixin:
    """Container primitives over the engine's docker-py client."""

    _client: Any

    def container_exists(self, container_id: str) -> bool:
        return unless_missing(
            "inspecting container " + container_id,
            lambda: self._client.api.inspect_container(container_id),
        )

    def remove_container(self, container_id: str) -> bool:
        """Remove a container (forcefully); False when it was already gone."""
        return unless_missing(
            "removing container " + container_id,
            lambda: self._client.api.remove_container(container_id, force=True, v=True),
        )

    def container_ids(self, all_: bool = True) -> set[str]:
        return {c["Id"] for c in self._client.api.containers(all=all_)}

    def container_config(self, container_id: str) -> tuple[dict[str, Any], str | None, str] | None:
        """(Config, network mode, image id) of a container, or None when it is gone."""
        try:
            info = self._client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise api_error("inspecting container " + container_id, exc) from exc
        network = (info.get("HostConfig") or {}).get("NetworkMode")
        return dict(info.get("Config") or {}), network, str(info["Image"])

    def container_by_name(self, name: str) -> str | None:
        # Docker lists names with a leading `/`, Podman's compat API without one.
        found = self._client.api.containers(all=True, filters={"name": f"^/?{name}$"})
        return str(found[0]["Id"]) if found else None

    def create_container(self, spec: ContainerSpec) -> str:
        """Create (not start) a container for `spec`; its id."""
        api = self._client.api
        try:
            container = api.create_container(
                image=spec.image,
                command=list(spec.argv),
                entrypoint=[""],  # RUN ignores the image's ENTRYPOINT (dispatchRun overrides it)
                environment=[*spec.env, *spec.secret_env],
                user=spec.user or None,
                working_dir=spec.workdir or None,
                labels=dict(spec.labels),
                name=spec.name,
                host_config=api.create_host_config(
                    network_mode=spec.network, mounts=[m.docker() for m in spec.mounts] or None
                ),
            )
        except docker.errors.ImageNotFound as exc:
            raise EngineError(
                f"image {spec.image[:19]} no longer exists in the daemon",
                "Rebuild with dbugbuild to recreate the build's layers",
            ) from exc
        except docker.errors.APIError as exc:
            raise api_error("creating a debug container", exc) from exc
        return str(container["Id"])

    def start(self, container_id: str, argv: Sequence[str]) -> None:
        """Start a created container; NoShellError when the layer has no `argv[0]`."""
        try:
            self._client.api.start(container_id)
        except docker.errors.APIError as exc:
            raise start_error(argv, exc) from exc

    def output(self, container_id: str) -> Generator[bytes, None, None]:
        """The container's stdout and stderr as they come, until it ends (or is killed)."""
        try:
            stream = self._client.api.logs(
                container_id, stream=True, follow=True, stdout=True, stderr=True
            )
        except docker.errors.APIError as exc:
            raise api_error("reading a debug command's output", exc) from exc
        try:
            yield from stream
        except docker.errors.APIError as exc:
            raise api_error("reading a debug command's output", exc) from exc
        finally:
            stream.close()

    def wait(self, container_id: str) -> int:
        """Wait for a container to end; its exit code."""
        try:
            return int(self._client.api.wait(container_id).get("StatusCode", -1))
        except docker.errors.APIError as exc:
            raise api_error("finishing a debug command", exc) from exc

    def kill(self, container_id: str) -> None:
        """Kill a running container; nothing when it has ended (or is gone) meanwhile."""
        with contextlib.suppress(docker.errors.APIError):
            self._client.api.kill(container_id)

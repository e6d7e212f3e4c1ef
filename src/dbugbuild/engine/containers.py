"""I/O: the daemon's containers as dbugbuild needs them: create one as a RUN line would run,
start it, follow its output, wait, kill, inspect, remove; run a process in a running one
(exec), follow its output and read its exit code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Sequence

from dbugbuild.engine.failures import api_error, start_error, unless_missing
from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

    from dbugbuild.engine.specs import ContainerSpec


class ContainersMixin:
    """Container primitives over the engine's API (docker-py's, or plainapi.py's requests)."""

    _api: Any

    def container_exists(self, container_id: str) -> bool:
        return unless_missing(
            "inspecting container " + container_id,
            lambda: self._api.inspect_container(container_id),
        )

    def remove_container(self, container_id: str) -> bool:
        """Remove a container (forcefully); False when it was already gone."""
        return unless_missing(
            "removing container " + container_id,
            lambda: self._api.remove_container(container_id, force=True, v=True),
        )

    def container_ids(self, all_: bool = True) -> set[str]:
        return {c["Id"] for c in self._api.containers(all=all_)}

    def container_config(self, container_id: str) -> tuple[dict[str, Any], str | None, str] | None:
        """(Config, network mode, image id) of a container, or None when it is gone."""
        try:
            info = self._api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise api_error("inspecting container " + container_id, exc) from exc
        network = (info.get("HostConfig") or {}).get("NetworkMode")
        return dict(info.get("Config") or {}), network, str(info["Image"])

    def container_by_name(self, name: str) -> str | None:
        # Docker lists names with a leading `/`, Podman's compat API without one.
        found = self._api.containers(all=True, filters={"name": f"^/?{name}$"})
        return str(found[0]["Id"]) if found else None

    def create_container(self, spec: ContainerSpec) -> str:
        """Create (not start) a container for `spec`; its id."""
        api = self._api
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
                stdin_open=spec.open_stdin,
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
            self._api.start(container_id)
        except docker.errors.APIError as exc:
            raise start_error(argv, exc) from exc

    def output(self, container_id: str) -> Generator[bytes, None, None]:
        """The container's stdout and stderr as they come, until it ends (or is killed)."""
        try:
            stream = self._api.logs(
                container_id, stream=True, follow=True, stdout=True, stderr=True
            )
        except docker.errors.APIError as exc:
            raise api_error("reading a debug command's output", exc) from exc
        yield from _relayed(stream)

    def wait(self, container_id: str) -> int:
        """Wait for a container to end; its exit code."""
        try:
            return int(self._api.wait(container_id).get("StatusCode", -1))
        except docker.errors.APIError as exc:
            raise api_error("finishing a debug command", exc) from exc

    def kill(self, container_id: str) -> None:
        """Kill a running container; nothing when it has ended (or is gone) meanwhile."""
        with contextlib.suppress(docker.errors.APIError):
            self._api.kill(container_id)

    def exec_start(
        self, container_id: str, argv: Sequence[str], user: str | None = None
    ) -> tuple[str, Generator[bytes, None, None]]:
        """Run argv in a running container (its Env, User and WorkingDir unless `user`): the
        exec's id and its stdout and stderr as they come, until it ends."""
        api = self._api
        try:
            exec_id = str(api.exec_create(container_id, list(argv), user=user or "")["Id"])
            stream = api.exec_start(exec_id, stream=True)
        except docker.errors.NotFound as exc:
            raise session_gone(container_id) from exc
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # "container ... is not running"
                raise session_gone(container_id, "has stopped") from exc
            raise api_error("starting a debug command", exc) from exc

        return exec_id, _relayed(stream)

    def exec_code(self, exec_id: str, patience: float = 10.0) -> int:
        """An exec's exit code once it has ended (its output may end a moment before the daemon
        records the exit: asked again until then, for up to `patience` seconds)."""
        api = self._api
        deadline = time.monotonic() + patience
        pause = 0.002
        while True:
            try:
                info = api.exec_inspect(exec_id)
            except docker.errors.APIError as exc:
                raise api_error("finishing a debug command", exc) from exc
            code = info.get("ExitCode")
            if not info.get("Running") and code is not None:
                return int(code)
            if time.monotonic() > deadline:
                return -1
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _relayed(stream: Any) -> Generator[bytes, None, None]:
    """A docker-py output stream's chunks, its errors ours, closed when done or abandoned."""
    try:
        yield from stream
    except docker.errors.APIError as exc:
        raise api_error("reading a debug command's output", exc) from exc
    finally:
        stream.close()
        # docker-py's close shuts the hijacked socket but leaves the HTTP response holding
        # it (a ResourceWarning when collected): close that too.
        response = getattr(stream, "_response", None)
        if response is not None:
            response.close()


def session_gone(container_id: str, state: str = "is gone (removed or stopped)") -> EngineError:
    """The session's container went away under it (removed, stopped, the daemon restarted)."""
    return EngineError(
        f"the session's container {container_id[:12]} {state}",
        "Its changes are lost: run the command again to start from the last good layer",
    )

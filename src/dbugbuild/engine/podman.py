"""I/O: where a Podman service is, and a private one when none is listening.

The debug containers go through Podman's Docker-compatible API with the docker SDK, so a
Podman endpoint is a docker-py client like Docker's. It is, in this order: CONTAINER_HOST
(Podman's own variable, which the podman CLI honours too), DOCKER_HOST when a Podman service
answers there, the rootful /run/podman/podman.sock or the rootless
$XDG_RUNTIME_DIR/podman/podman.sock when one listens (systemd's podman.socket), else a
`podman system service --time=0` that dbugbuild starts on a private socket for the run and
stops when the engine closes (and that dies with dbugbuild however it ends: PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from dbugbuild.engine.failures import first_line
from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineUnavailableError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import IO, Any

ROOTFUL_SOCKET = "/run/podman/podman.sock"
SERVICE_PREFIX = "dbugbuild-podman-"  # the private service's folder: <temp dir>/<prefix>XXXX
_START_TIMEOUT = 30.0  # seconds for a private service to listen (it answers in ~0.6 s here)
_PR_SET_PDEATHSIG = 1


def is_podman(version: Mapping[str, Any]) -> bool:
    """Whether an Engine API /version answer is Podman's (Components: "Podman Engine")."""
    names = [str(c.get("Name", "")) for c in version.get("Components") or () if isinstance(c, dict)]
    return any(name.lower().startswith("podman") for name in names)


@dataclass
class PodmanEndpoint:
    """A Podman service reached: its URL, the private service if dbugbuild started it, and
    what the podman CLI needs in its environment to reach the same storage."""

    url: str
    service: PrivateService | None = None
    cli_env: dict[str, str] = field(default_factory=dict)
    source: str = "default"  # where it was found, as Endpoint.source says it in messages


def connect_podman(env: Mapping[str, str]) -> tuple[Any, str | None, PodmanEndpoint]:
    """(a docker-py client of a Podman service, the podman CLI's path or None, the endpoint)."""
    cli = shutil.which("podman", path=env.get("PATH"))
    host = env.get("CONTAINER_HOST")
    if host:
        if not host.startswith(("unix://", "tcp://")):
            raise EngineUnavailableError(
                f"CONTAINER_HOST is {host}, which dbugbuild cannot reach through the Docker API",
                "Forward the service's socket (e.g. 'ssh -L /tmp/podman.sock:/run/podman/"
                "podman.sock HOST') and set CONTAINER_HOST=unix:///tmp/podman.sock",
            )
        try:
            return _client(host, {}), cli, PodmanEndpoint(host, source="CONTAINER_HOST")
        except EngineUnavailableError as exc:
            raise EngineUnavailableError(
                f"no Podman service is reachable at CONTAINER_HOST={host} ({exc.message})",
                "Start it ('podman system service --time=0 URL' or 'systemctl start "
                "podman.socket'), or unset CONTAINER_HOST to let dbugbuild start one",
            ) from exc
    docker_host = env.get("DOCKER_HOST")
    if docker_host:
        client = _podman_at(docker_host, docker.utils.kwargs_from_env(environment=dict(env)))
        if client is not None:
            remote = {} if docker_host.startswith("unix://") else {"CONTAINER_HOST": docker_host}
            return client, cli, PodmanEndpoint(docker_host, cli_env=remote, source="DOCKER_HOST")
    for path in _default_sockets(env):
        client = _podman_at(f"unix://{path}", {})
        if client is not None:
            return client, cli, PodmanEndpoint(f"unix://{path}")
    if cli is None:
        raise EngineUnavailableError(
            "no Podman service is listening and the podman command was not found on PATH",
            "Install podman (Debian: 'apt-get install podman'), or point CONTAINER_HOST at a "
            "Podman service",
        )
    service = PrivateService.start(cli, env)
    try:
        return (
            _client(service.url, {}),
            cli,
            PodmanEndpoint(service.url, service, source="dbugbuild's own Podman service"),
        )
    except BaseException:
        service.stop()
        raise


def _default_sockets(env: Mapping[str, str]) -> list[str]:
    """Podman's default service sockets, this user's own first."""
    rootless = []
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        rootless.append(os.path.join(runtime, "podman", "podman.sock"))
    return [ROOTFUL_SOCKET, *rootless] if os.geteuid() == 0 else [*rootless, ROOTFUL_SOCKET]


def _podman_at(url: str, params: Mapping[str, Any]) -> Any | None:
    """A client of the service at `url` if one answers there and it is Podman, else None."""
    if url.startswith("unix://") and not os.path.exists(url.removeprefix("unix://")):
        return None
    try:
        client = _client(url, params)
    except EngineUnavailableError:
        return None
    try:
        if is_podman(client.api.version()):
            return client
    except (docker.errors.DockerException, OSError):
        pass
    client.close()
    return None


def _client(url: str, params: Mapping[str, Any]) -> Any:
    """A docker-py client of `url`; EngineUnavailableError when nothing answers there."""
    base = {**params, "base_url": url}
    try:
        if url.startswith("unix://"):
            _connectable(url.removeprefix("unix://"))
        # A fixed API version first: version="auto" asks the service in the constructor, and
        # a failure there leaks its socket (as in endpoint.py).
        probe = docker.APIClient(version="1.24", timeout=10, **base)
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.DockerClient(version="auto", timeout=120, **base)
    except Exception as exc:  # docker-py's errors, and requests' that escape its wrapping
        detail = first_line(exc) if isinstance(exc, docker.errors.DockerException) else str(exc)
        raise EngineUnavailableError(
            f"nothing answers at {url} ({detail or type(exc).__name__})",
            "Start the Podman service, or check the URL",
        ) from exc


def _connectable(path: str) -> None:
    import socket  # (the service is sought after a build's start: see connect.Connection)

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            raise docker.errors.DockerException(f"{path}: {exc.strerror or exc}") from exc


@dataclass
class PrivateService:
    """`podman system service --time=0` on a socket in a private folder, for one run.

    It runs in its own session (Ctrl-C at the terminal must not stop it before dbugbuild has
    removed its containers through it) and gets SIGTERM when dbugbuild dies (PDEATHSIG), so
    not even a kill -9 of dbugbuild leaves it running. stop() ends it and removes the folder.
    """

    process: subprocess.Popen[bytes]
    directory: str
    url: str

    @classmethod
    def start(cls, cli: str, env: Mapping[str, str]) -> PrivateService:
        import tempfile

        runtime = env.get("XDG_RUNTIME_DIR")
        where = runtime if runtime and os.path.isdir(runtime) else None
        directory = tempfile.mkdtemp(prefix=SERVICE_PREFIX, dir=where)
        path = os.path.join(directory, "podman.sock")
        # Its stderr, read only if it fails to start; unlinked at once, so that not even a
        # kill -9 leaves more than the empty folder (`dbugbuild clean` removes that).
        with tempfile.TemporaryFile(dir=directory) as log:
            try:
                process = subprocess.Popen(
                    [cli, "system", "service", "--time=0", f"unix://{path}"],
                    env=dict(env),  # CONTAINERS_CONF and the storage the build uses
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # it prints commit progress there
                    stderr=log,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
            except OSError as exc:
                shutil.rmtree(directory, ignore_errors=True)
                raise EngineUnavailableError(
                    f"could not run {cli}: {exc.strerror}", "Check the podman installation"
                ) from exc
            service = cls(process, directory, f"unix://{path}")
            try:
                service._wait_listening(path, log)
            except BaseException:
                service.stop()
                raise
        return service

    def _wait_listening(self, path: str, log: IO[bytes]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                log.seek(0)
                lines = log.read().decode("utf-8", "replace").strip().splitlines()
                raise EngineUnavailableError(
                    "'podman system service' exited as it started"
                    + (f": {lines[-1].strip()}" if lines else ""),
                    "Run 'podman info' to see what is wrong with the podman set-up",
                )
            if os.path.exists(path):
                with contextlib.suppress(docker.errors.DockerException):
                    _connectable(path)
                    return
            if time.monotonic() > deadline:
                raise EngineUnavailableError(
                    f"'podman system service' did not listen within {_START_TIMEOUT:.0f}s",
                    "Run 'podman info' to see what is wrong with the podman set-up",
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """End the service (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent() -> Any:
    """A preexec_fn that has the child get SIGTERM when dbugbuild dies (Linux prctl)."""
    import ctypes  # only for a private service: 2-3 ms of every build's start-up otherwise

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: stop() still ends it on every clean exit
        return None

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return arm


def manifest_type(cli: str, env: Mapping[str, str], image: str) -> str | None:
    """The manifest type of a local image as podman stores it (`podman image inspect`), e.g.
    application/vnd.oci.image.manifest.v1+json; None when podman cannot say."""
    kind = (
        podman_output(cli, env, "image", "inspect", "--format", "{{.ManifestType}}", image) or ""
    ).strip()
    return kind or None


def podman_output(cli: str, env: Mapping[str, str], *argv: str) -> str | None:
    """What `podman ARGV` printed on stdout when it succeeded; None when it failed or could
    not run (within a minute)."""
    try:
        done = subprocess.run(
            [cli, *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def without_mount_noise(changes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A Podman container's diff without the bare `C /etc` its /etc/hosts and resolv.conf
    mounts leave (Docker's diff omits those): kept when anything under /etc changed.

    A USER that /etc/passwd lacks also shows `/etc/passwd` and `/etc/group`: Podman adds an
    entry for the user there, and the commit keeps it (docs/podman-notes.md)."""
    if any(path.startswith("/etc/") for _, path in changes):
        return changes
    return [(kind, path) for kind, path in changes if (kind, path) != ("C", "/etc")]


# What a podman build echoes about the images its stages start from and the ones it makes.
_FROM = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+(?:/\d+)?: FROM (?:--\S+ )*(\S+)")
_MADE = re.compile(r"^--> (?:Using cache )?([0-9a-f]{11,64})\s*$")


class BuildWatch:
    """The Buildah containers an interrupted `podman build` leaves, and their removal.

    Cancelled (Ctrl-C, SIGTERM), podman 4.3 leaves its build's working containers in the
    store, visible only to `podman ps --external` (podman issues #14523, #20733). dbugbuild
    cancelled it, so it removes them: Buildah containers created since the build started
    (their creation time, not a listing before it: that was a podman start before every
    build) that sit on an image the build echoed (a stage's FROM) or printed (`--> <id>`).
    """

    def __init__(self, cli: str, env: Mapping[str, str]) -> None:
        self._cli, self._env = cli, dict(env)
        self._since = time.time_ns()  # podman's clock: --external lists the local store only
        self._pending = ""
        self._bases: set[str] = set()
        self._made: set[str] = set()

    def seen(self, text: str) -> None:
        """Read a piece of the build's output for the images it names."""
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()[-4096:]
        for line in lines:
            line = line.rstrip("\r")
            if (found := _FROM.match(line)) is not None:
                self._bases.add(found.group(1))
            elif (made := _MADE.match(line)) is not None:
                self._made.add(made.group(1))

    def clean(self) -> list[str]:
        """Remove the build's leftover containers (best effort); their ids."""
        images = set(self._made)
        for ref in self._bases:
            image = self._podman("image", "inspect", "--format", "{{.Id}}", ref)
            if image:
                images.add(image.strip())
        left = [
            cid
            for cid, image, created in self._containers()
            if created >= self._since and any(image.startswith(i) for i in images if i)
        ]
        if left:
            self._podman("rm", "--force", *left)
        return left

    def _containers(self) -> list[tuple[str, str, int]]:
        """(id, image id, creation time in ns) of every Buildah container in the store."""
        out = self._podman(
            "ps",
            "--all",
            "--external",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.ImageID}} {{.Created.UnixNano}} {{.Command}}",
        )
        found = []
        for line in (out or "").splitlines():
            words = line.split()
            if len(words) >= 4 and words[2].isdigit() and "buildah" in words[3]:
                found.append((words[0], words[1], int(words[2])))
        return found

    def _podman(self, *argv: str) -> str | None:
        return podman_output(self._cli, self._env, *argv)


def remove_stale_service_folders(env: Mapping[str, str]) -> list[str]:
    """The folders of private services that are gone (their dbugbuild was killed with -9:
    the service went too, PDEATHSIG, but its empty folder stayed), removed; their paths."""
    import tempfile

    removed = []
    for where in {tempfile.gettempdir(), env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()}:
        try:
            names = [n for n in os.listdir(where) if n.startswith(SERVICE_PREFIX)]
        except OSError:
            continue
        for name in names:
            folder = os.path.join(where, name)
            sock = os.path.join(folder, "podman.sock")
            try:
                if os.stat(folder).st_uid != os.geteuid() or os.path.exists(sock):
                    continue  # another user's, or a service still running
                shutil.rmtree(folder)
            except OSError:
                continue
            removed.append(folder)
    return removed

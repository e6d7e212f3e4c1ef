"""I/O with the Docker Engine: the only module that imports `docker` or runs the docker CLI.

It translates every SDK and CLI failure into a DbugbuildError with one actionable
sentence, so nothing above it ever sees a docker-py exception.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.tls
from docker.context import ContextAPI
from docker.utils import kwargs_from_env

from dbugbuild.errors import EngineError, EngineUnavailableError
from dbugbuild.options import run_labels
from dbugbuild.stepenv import StepEnv

# Everything dbugbuild creates in the daemon carries this label (value: the session id).
LABEL = "dbugbuild.session"

# The docker CLI prints this notice on every classic build since v23
# (cli/command/image/build.go). We chose the classic builder for the user, so the
# advice to "remove DOCKER_BUILDKIT=0" is noise to them: it is not relayed.
_LEGACY_NOTICE_HEAD = "DEPRECATED: The legacy builder is deprecated"
_LEGACY_NOTICE_LINES = 4  # the head, two indented lines and a blank line

OutputSink = Callable[[str, bool], None]  # (text, from_stderr)


@dataclass(frozen=True)
class BuildCommand:
    """A `docker build` invocation: argv after `docker`, its working directory and stdin."""

    argv: tuple[str, ...]
    cwd: str
    stdin_data: bytes | None = None


def _unavailable_hint() -> str:
    return (
        "Start Docker (e.g. 'sudo systemctl start docker', or 'make setup' in a dbugbuild "
        "checkout) or point DOCKER_HOST / 'docker context use' at a running daemon"
    )


@dataclass(frozen=True)
class ProbeResult:
    """What a probe container printed (stdout), its exit code (None: killed at the timeout)."""

    exit_code: int | None
    output: str
    timed_out: bool = False


class Engine:
    """The daemon as dbugbuild needs it: classic builds through the CLI, the rest by the API."""

    def __init__(
        self,
        client: Any,
        docker_cli: str | None,
        env: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._docker_cli = docker_cli
        self._env = dict(env)
        self._labels = dict(labels or {})

    def labels(self, session_id: str) -> dict[str, str]:
        """The labels of everything this run creates for a session: dbugbuild's own, with the
        session id, and DBUGBUILD_LABELS' (options.run_labels)."""
        return {**self._labels, LABEL: session_id}

    @property
    def run_labels(self) -> dict[str, str]:
        """DBUGBUILD_LABELS as this engine applies them."""
        return dict(self._labels)

    @property
    def _cli(self) -> str:
        """The docker CLI, needed for builds and :shell only (not to reach the daemon)."""
        if self._docker_cli is None:
            raise EngineUnavailableError(
                "the docker command was not found on PATH",
                "Install the Docker CLI (Debian: 'apt-get install docker.io') and retry",
            )
        return self._docker_cli

    @classmethod
    def connect(cls, env: Mapping[str, str]) -> Engine:
        """Reach the daemon the docker CLI would use (DOCKER_HOST, then the current context).

        The CLI is not required here: with DOCKER_HOST set, a `--log` run needs only the
        API, and a missing CLI is reported when a build or `:shell` needs it.
        """
        labels = run_labels(env)  # a malformed DBUGBUILD_LABELS is a usage error, before anything
        cli = shutil.which("docker", path=env.get("PATH"))
        try:
            params = kwargs_from_env(environment=dict(env))
            if "base_url" not in params:
                # docker-py only reads DOCKER_HOST; the CLI also honours DOCKER_CONTEXT and
                # the current context of `docker context use`. Builds go through the CLI,
                # so the API client must reach the same daemon: ask the CLI where that is.
                params.update(_context_endpoint(cli, env))
            _probe_unix_socket(str(params.get("base_url") or "unix:///var/run/docker.sock"))
            # Probe with a fixed API version first: version="auto" makes docker-py's
            # constructor call the daemon, and a failure there leaks its socket.
            probe = docker.APIClient(version="1.24", timeout=10, **params)
            try:
                probe.ping()
            finally:
                probe.close()
            client = docker.DockerClient(version="auto", timeout=120, **params)
        except Exception as exc:  # docker-py's errors, and requests' that escape its wrapping
            detail = (
                _first_line(exc)
                if isinstance(exc, docker.errors.DockerException)
                else type(exc).__name__
            )
            where = env.get("DOCKER_HOST") or "the default socket"
            raise EngineUnavailableError(
                f"no Docker daemon is reachable at {where} ({detail})",
                _unavailable_hint(),
            ) from exc
        return cls(client, cli, env, labels)

    def close(self) -> None:
        self._client.close()

    # -- builds --------------------------------------------------------------

    def build(self, command: BuildCommand, sink: OutputSink) -> int:
        """Run a classic build with the docker CLI, passing its output to `sink` as it comes.

        The CLI, not the API, runs the build because it owns the build context
        semantics users expect of `docker build` (.dockerignore, -f outside the
        context, stdin Dockerfiles, contexts, credential helpers for --pull); see
        docs/architecture.md. Returns the CLI's exit status (a failing RUN's code).
        """
        env = dict(self._env)
        env["DOCKER_BUILDKIT"] = "0"
        try:
            proc = subprocess.Popen(
                [self._cli, *command.argv],
                cwd=command.cwd,
                env=env,
                stdin=subprocess.PIPE if command.stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise EngineUnavailableError(
                f"could not run {self._cli}: {exc.strerror}", "Check the Docker CLI installation"
            ) from exc
        with proc:  # closes the pipes however we leave
            try:
                if command.stdin_data is not None and proc.stdin is not None:
                    proc.stdin.write(command.stdin_data)
                    proc.stdin.close()
                _relay(proc, sink)
                return proc.wait()
            except BaseException:
                # Ctrl-C reaches the CLI too (same process group) and it cancels the build;
                # anything else must not leave a build running behind our back.
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                raise

    # -- images and containers ----------------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The id of a local image (by name or id), or None when the daemon has no such image."""
        try:
            return str(self._client.api.inspect_image(ref)["Id"])
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):  # an invalid reference is "no such image" to us
                return None
            raise _api_error("inspecting image " + ref, exc) from exc

    def container_exists(self, container_id: str) -> bool:
        return _unless_missing(
            "inspecting container " + container_id,
            lambda: self._client.api.inspect_container(container_id),
        )

    def remove_container(self, container_id: str) -> bool:
        """Remove a container (forcefully); False when it was already gone."""
        return _unless_missing(
            "removing container " + container_id,
            lambda: self._client.api.remove_container(container_id, force=True, v=True),
        )

    def remove_image(self, image_id: str) -> bool:
        """Remove an image by id without pruning its parents; False when it was already gone."""
        return _unless_missing(
            "removing image " + image_id,
            lambda: self._client.api.remove_image(image_id, force=True, noprune=True),
        )

    def remove_images(self, image_ids: set[str]) -> list[str]:
        """Remove images children first (the daemon refuses a parent with children).

        An image that keeps a child outside the set is left where it is: on a shared daemon
        another client's build may have taken it as its cache and built on it (Engine 26
        refuses such a removal with 409 "image has dependent child images"). A conflict
        that may pass (the image still in use by a container being removed) is retried.
        """
        api = self._client.api
        parents = {i["Id"]: i.get("ParentId", "") for i in api.images(all=True)}
        left = {i for i in image_ids if i in parents}
        removed: list[str] = []
        while left:
            leaves = {i for i in left if not any(parents.get(o) == i for o in left)}
            if not leaves:  # a cycle cannot happen; do not loop forever if it did
                leaves = set(left)
            for image in sorted(leaves):
                if any(p == image and c not in image_ids for c, p in parents.items()):
                    continue  # someone else's child: removing it would fail, and is not ours
                if self._remove_image_retrying(image):
                    removed.append(image)
            left -= leaves
        return removed

    def _remove_image_retrying(self, image: str, attempts: int = 5) -> bool:
        """Remove an image and its tags; False when it was gone or still conflicts."""
        api = self._client.api
        for attempt in range(attempts):
            try:
                for tag in api.inspect_image(image).get("RepoTags") or ():
                    api.remove_image(tag, force=True, noprune=True)
                api.remove_image(image, force=True, noprune=True)
                return True
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:
                if exc.status_code == 404:
                    return False
                if exc.status_code != 409:
                    raise _api_error("removing image " + image, exc) from exc
                if "dependent child images" in str(exc.explanation or ""):
                    return False  # a child appeared meanwhile (another client's build)
                time.sleep(0.2 * (attempt + 1))
        return False

    def container_ids(self, all_: bool = True) -> set[str]:
        return {c["Id"] for c in self._client.api.containers(all=all_)}

    def image_ids(self) -> set[str]:
        return {i["Id"] for i in self._client.api.images(all=True)}

    def container_config(self, container_id: str) -> tuple[dict[str, Any], str | None, str] | None:
        """(Config, network mode, image id) of a container, or None when it is gone."""
        try:
            info = self._client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise _api_error("inspecting container " + container_id, exc) from exc
        network = (info.get("HostConfig") or {}).get("NetworkMode")
        return dict(info.get("Config") or {}), network, str(info["Image"])

    def image_config(self, ref: str) -> dict[str, Any] | None:
        try:
            return dict(self._client.api.inspect_image(ref).get("Config") or {})
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):
                return None
            raise _api_error("inspecting image " + ref, exc) from exc

    def image_chain(self, ref: str) -> list[tuple[str, str]]:
        """An image and its parents, oldest first, each (id, its history's created-by text).

        The classic builder commits one image per step, each the parent of the next; a
        pulled or BuildKit-built image has no parent, so its chain is itself. [] when the
        daemon has no such image.
        """
        api = self._client.api
        chain: list[tuple[str, str]] = []
        try:
            created = {h.get("Id"): str(h.get("CreatedBy") or "") for h in api.history(ref)}
            image = str(api.inspect_image(ref)["Id"])
            while image and len(chain) < 10_000:  # a cycle cannot happen; do not loop if it did
                chain.append((image, created.get(image, "")))
                image = str(api.inspect_image(image).get("Parent") or "")
        except docker.errors.ImageNotFound:
            return []
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404) and not chain:
                return []
            raise _api_error("reading the history of image " + ref, exc) from exc
        chain.reverse()
        return chain

    def probe(
        self, image: str, argv: Sequence[str], session_id: str, timeout: float = 10.0
    ) -> ProbeResult | None:
        """Run a short read-only look inside an image: a container that is removed, never committed.

        The container has a read-only root file system and no network, runs as root (to
        stat anything), carries the dbugbuild label (so `dbugbuild clean` finds a leftover),
        and is killed after `timeout` seconds. None when it could not run at all (no such
        image, no /bin/sh in the layer); the output is cut at 64 KiB.
        """
        import requests.exceptions  # docker-py's transport: its timeouts surface as these

        api = self._client.api
        try:
            cid = str(
                api.create_container(
                    image=image,
                    command=list(argv),
                    entrypoint=[""],
                    user="0",
                    labels=self.labels(session_id),
                    network_disabled=True,
                    host_config=api.create_host_config(read_only=True, network_mode="none"),
                )["Id"]
            )
        except docker.errors.APIError:
            return None
        try:
            try:
                api.start(cid)
            except docker.errors.APIError:
                return None
            timed_out = False
            code: int | None = None
            try:
                code = int(api.wait(cid, timeout=timeout).get("StatusCode", -1))
            except (requests.exceptions.RequestException, docker.errors.APIError):
                timed_out = True
                with contextlib.suppress(docker.errors.APIError):
                    api.kill(cid)
            raw = api.logs(cid, stdout=True, stderr=False) or b""
            output = raw[:65536].decode("utf-8", errors="replace")
            return ProbeResult(code, output, timed_out)
        except (requests.exceptions.RequestException, docker.errors.APIError):
            return None
        finally:
            with contextlib.suppress(EngineError):
                self.remove_container(cid)

    def labelled(self, *selectors: str) -> tuple[list[str], list[str]]:
        """(container ids, image ids) labelled by dbugbuild that also match every one of
        `selectors` (`KEY=VALUE` or `KEY` label filters)."""
        filters = {"label": [LABEL, *selectors]}  # the daemon ANDs label filters
        api = self._client.api
        try:
            containers = [str(c["Id"]) for c in api.containers(all=True, filters=filters)]
            images = [str(i["Id"]) for i in api.images(all=True, filters=filters)]
        except docker.errors.APIError as exc:
            raise _api_error("listing dbugbuild's containers and images", exc) from exc
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
            raise _api_error("removing dbugbuild's containers and images", exc) from exc
        return removed_c, removed_i


def _relay(proc: subprocess.Popen[bytes], sink: OutputSink) -> None:
    """Pass the CLI's stdout and stderr to `sink` in arrival order, decoded, as they come."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    decoders = {
        proc.stdout.fileno(): codecs.getincrementaldecoder("utf-8")(errors="replace"),
        proc.stderr.fileno(): codecs.getincrementaldecoder("utf-8")(errors="replace"),
    }
    err_fd = proc.stderr.fileno()
    notice = _NoticeFilter()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in sel.select():
            fd = key.fd
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                text = decoders[fd].decode(b"", final=True)
            else:
                text = decoders[fd].decode(data)
            if fd == err_fd:
                text = notice.filter(text, final=not data)
            if text:
                sink(text, fd == err_fd)
    sel.close()


class _NoticeFilter:
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


def build_argv(
    *,
    dockerfile: str | None,
    tags: Sequence[str],
    build_args: Sequence[str],
    target: str | None,
    no_cache: bool,
    pull: bool,
    network: str | None,
    platform: str | None,
    labels: Sequence[str],
    context: str,
) -> tuple[str, ...]:
    """The `docker build` argv for dbugbuild's build options (docker's spelling, as given)."""
    argv: list[str] = ["build"]
    if dockerfile is not None:
        argv += ["--file", dockerfile]
    for tag in tags:
        argv += ["--tag", tag]
    for arg in build_args:
        # A bare NAME takes its value from the environment: the CLI does exactly that.
        argv += ["--build-arg", arg]
    if target:
        argv += ["--target", target]
    if no_cache:
        argv.append("--no-cache")
    if pull:
        argv.append("--pull")
    if network:
        argv += ["--network", network]
    if platform:
        argv += ["--platform", platform]
    for label in labels:
        argv += ["--label", label]
    # --rm (the default) removes the containers of successful steps; the failing step's
    # container is kept unless --force-rm, and the debug session starts from it.
    argv.append(context)
    return tuple(argv)


def _context_endpoint(cli: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    """base_url (and tls) of the docker CLI's current context, as `docker context inspect` says.

    docker-py's own ContextAPI misses contexts when no config.json exists (it looks
    for the contexts folder next to that file), so the CLI is asked instead when it is there.
    """
    if cli is None:
        return _context_api_endpoint(env)
    try:
        out = subprocess.run(
            [cli, "context", "inspect"],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        info = json.loads(out.stdout)[0] if out.returncode == 0 else None
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        info = None
    if not isinstance(info, dict):  # a CLI without contexts: docker-py's reading of them
        return _context_api_endpoint(env)
    endpoint = (info.get("Endpoints") or {}).get("docker") or {}
    host = endpoint.get("Host")
    if not host:
        return {}
    params: dict[str, Any] = {"base_url": host}
    tls_dir = os.path.join((info.get("Storage") or {}).get("TLSPath") or "", "docker")
    files = {n: os.path.join(tls_dir, f"{n}.pem") for n in ("ca", "cert", "key")}
    if host.startswith("tcp://") and all(os.path.exists(f) for f in files.values()):
        params["tls"] = docker.tls.TLSConfig(
            client_cert=(files["cert"], files["key"]),
            ca_cert=files["ca"],
            verify=not endpoint.get("SkipTLSVerify", False),
        )
    return params


def _context_api_endpoint(env: Mapping[str, str]) -> dict[str, Any]:
    ctx = ContextAPI.get_context(env.get("DOCKER_CONTEXT") or None)
    if ctx is None or not ctx.Host:
        return {}
    return {"base_url": ctx.Host, **({"tls": ctx.TLSConfig} if ctx.TLSConfig else {})}


def _probe_unix_socket(url: str) -> None:
    """Fail fast, and without leaking a socket (docker-py does on a refused connect)."""
    if not url.startswith(("unix://", "http+unix://")):
        return
    import socket

    path = url.split("://", 1)[1]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            raise docker.errors.DockerException(f"{path}: {exc.strerror or exc}") from exc


def _unless_missing(doing: str, call: Callable[[], object]) -> bool:
    """Run an API call on a container or image: True, or False when the object is gone."""
    try:
        call()
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return False
        raise _api_error(doing, exc) from exc
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _api_error(doing: str, exc: docker.errors.APIError) -> EngineError:
    return EngineError(
        f"the Docker daemon failed while {doing}: {exc.explanation or exc}",
        "Check the daemon's state ('docker info') and retry",
    )


# -- debug layers ---------------------------------------------------------------


class NoShellError(EngineError):
    """The layer has no such program (typically no /bin/sh: an image built FROM scratch)."""


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str
    seconds: float
    interrupted: bool = False
    timed_out: bool = False  # killed when its timeout expired (run(timeout=...))


@dataclass(frozen=True)
class Change:
    kind: str  # "A" added, "C" changed, "D" deleted (docker diff's letters)
    path: str


_KINDS = {0: "C", 1: "A", 2: "D"}


class Workspace:
    """A debug layer: each command runs as a RUN would, its filesystem carried to the next.

    Like the builder, every command is a fresh container from the current image;
    afterwards the container is committed and that image becomes current. So shell
    state does not carry over between commands, files do, a command can be stopped
    by stopping its container, and layers without a shell still run exec-form argv.
    Every container and image carries the session label and is removed by close().
    """

    def __init__(self, engine: Engine, env: StepEnv, session_id: str) -> None:
        self._engine = engine
        self._api = engine._client.api
        self.env = env
        self.session_id = session_id
        self.current = env.image
        self._images: list[str] = []  # committed by us, oldest first
        self._changes: dict[str, str] = {}
        self._serial = 0

    @property
    def labels(self) -> dict[str, str]:
        return self._engine.labels(self.session_id)

    def _label_changes(self) -> list[str]:
        """The labels as commit changes: a committed image carries them too."""
        return [f"LABEL {k}={json.dumps(v)}" for k, v in self.labels.items()]

    def _create(self, image: str, argv: Sequence[str]) -> str:
        self._serial += 1
        try:
            container = self._api.create_container(
                image=image,
                command=list(argv),
                entrypoint=[""],  # RUN ignores the image's ENTRYPOINT (dispatchRun overrides it)
                environment=list(self.env.env),
                user=self.env.user or None,
                working_dir=self.env.workdir or None,
                labels=self.labels,
                name=f"dbugbuild-{self.session_id}-{self._serial}",
                host_config=self._api.create_host_config(network_mode=self.env.network),
            )
        except docker.errors.ImageNotFound as exc:
            raise EngineError(
                f"image {image[:19]} no longer exists in the daemon",
                "Rebuild with dbugbuild to recreate the build's layers",
            ) from exc
        except docker.errors.APIError as exc:
            raise _api_error("creating a debug container", exc) from exc
        return str(container["Id"])

    def run(
        self,
        argv: Sequence[str],
        sink: Callable[[str], None] | None = None,
        *,
        timeout: float | None = None,
        keep: bool = True,
    ) -> CommandResult:
        """Run argv in the current layer, streaming its output; the layer keeps its changes
        (unless not `keep`: bisect probes). After `timeout` seconds its container is killed."""
        started = time.monotonic()
        cid = self._create(self.current, argv)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        captured: list[str] = []
        interrupted = False
        expired = threading.Event()
        timer: threading.Timer | None = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._expire, (cid, expired))
            timer.daemon = True
        try:
            try:
                self._api.start(cid)
                if timer is not None:
                    timer.start()
                stream = self._api.logs(cid, stream=True, follow=True, stdout=True, stderr=True)
                try:
                    for chunk in stream:
                        text = decoder.decode(chunk)
                        captured.append(text)
                        if sink is not None and text:
                            sink(text)
                finally:
                    stream.close()
            except KeyboardInterrupt:
                # Ctrl-C stops the command, as it would stop a RUN: kill its container.
                interrupted = True
                with contextlib.suppress(docker.errors.APIError):
                    self._api.kill(cid)
            except docker.errors.APIError as exc:
                raise _start_error(argv, exc) from exc
            finally:
                if timer is not None:
                    timer.cancel()
                    if timer.ident is not None:  # started: a kill in flight ends first
                        timer.join()
            try:
                code = int(self._api.wait(cid).get("StatusCode", -1))
                if keep:
                    self._commit(cid)
            except docker.errors.APIError as exc:
                raise _api_error("finishing a debug command", exc) from exc
        finally:
            self._engine.remove_container(cid)
        return CommandResult(
            code, "".join(captured), time.monotonic() - started, interrupted, expired.is_set()
        )

    def _expire(self, cid: str, expired: threading.Event) -> None:
        """The timeout's thread: kill the command's container, which ends its log stream."""
        expired.set()
        with contextlib.suppress(docker.errors.APIError):  # it ended meanwhile
            self._api.kill(cid)

    def _commit(self, cid: str) -> None:
        changes = self._api.diff(cid) or ()
        if not changes:
            # Nothing to carry forward: no layer, so read-only commands cost no commit and do
            # not deepen the image (overlay2 refuses images deeper than about 125 layers).
            return
        for change in changes:
            self._note_change(Change(_KINDS.get(change.get("Kind", 0), "C"), change["Path"]))
        image = self._api.commit(cid, changes=self._label_changes())
        self.current = str(image["Id"])
        self._images.append(self.current)

    def _note_change(self, change: Change) -> None:
        before = self._changes.get(change.path)
        if change.kind == "D" and before == "A":
            del self._changes[change.path]  # made and removed within the session
        elif before == "A" and change.kind == "C":
            pass  # still new relative to the last good layer
        else:
            self._changes[change.path] = change.kind

    def changes(self) -> list[Change]:
        """Files the session changed relative to the last good layer, by path."""
        return [Change(k, p) for p, k in sorted(self._changes.items())]

    def reset(self) -> None:
        """Discard every change: the next command starts from the last good layer again."""
        self._drop_images()
        self.current = self.env.image
        self._changes.clear()

    def interactive(self, argv: Sequence[str], pretype: str = "", image: str | None = None) -> int:
        """A TTY shell in the layer (through `docker run -it`), with `pretype` at its prompt.

        The shell's changes are kept, as for a command, unless `image` names another
        layer to look at (then nothing is kept).
        """
        import pexpect

        self._serial += 1
        name = f"dbugbuild-{self.session_id}-{self._serial}"
        args = ["run", "-it", "--name", name]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        for item in self.env.env:
            args += ["-e", item]
        if self.env.user:
            args += ["-u", self.env.user]
        if self.env.workdir:
            args += ["-w", self.env.workdir]
        if self.env.network:
            args += ["--network", self.env.network]
        args += ["--entrypoint", argv[0], image or self.current, *argv[1:]]
        size = shutil.get_terminal_size((80, 24))
        child = pexpect.spawn(
            self._engine._cli,
            args,
            env={**self._engine._env},
            encoding="utf-8",
            dimensions=(size.lines, size.columns),
        )
        try:
            if pretype:
                _type_at_prompt(child, pretype)
            if child.isalive():
                child.interact(escape_character=None)
            child.close()
        finally:
            cid = self._container_by_name(name)
            if cid is not None:
                try:
                    if image is None:
                        self._commit(cid)
                finally:
                    self._engine.remove_container(cid)
        status = (
            child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
        )
        return int(status)

    def _container_by_name(self, name: str) -> str | None:
        found = self._api.containers(all=True, filters={"name": f"^/{name}$"})
        return str(found[0]["Id"]) if found else None

    def snapshot(self, container_id: str) -> str:
        """Commit another container (the builder's failed one) to a labelled temporary image."""
        try:
            image = self._api.commit(container_id, changes=self._label_changes())
        except docker.errors.NotFound as exc:
            raise EngineError(
                f"the failed build container {container_id[:12]} no longer exists",
                "Rebuild with dbugbuild to get it back",
            ) from exc
        self._images.append(str(image["Id"]))
        return str(image["Id"])

    def container_changes(self, container_id: str) -> list[Change]:
        try:
            raw = self._api.diff(container_id) or ()
        except docker.errors.NotFound as exc:
            raise EngineError(
                f"the failed build container {container_id[:12]} no longer exists",
                "Rebuild with dbugbuild to get it back",
            ) from exc
        return sorted(
            (Change(_KINDS.get(c.get("Kind", 0), "C"), c["Path"]) for c in raw),
            key=lambda c: c.path,
        )

    def _drop_images(self) -> None:
        for image in reversed(self._images):
            self._engine.remove_image(image)
        self._images.clear()

    def close(self) -> None:
        """Remove every container and image of this session (also ones a crash left)."""
        self._drop_images()
        self._engine.sweep(f"{LABEL}={self.session_id}")


def _type_at_prompt(child: Any, text: str) -> None:
    """Relay the shell's start-up output until it goes quiet at its prompt, then type `text`
    there, so its line editor (bash, busybox ash) shows it ready to edit."""
    import sys

    import pexpect

    seen = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data = child.read_nonblocking(4096, timeout=0.3 if seen else 1.0)
        except pexpect.TIMEOUT:
            if seen:
                break
            continue
        except pexpect.EOF:
            return
        sys.stdout.write(data)
        sys.stdout.flush()
        seen = True
    child.send(text)


def _start_error(argv: Sequence[str], exc: docker.errors.APIError) -> EngineError:
    text = str(exc.explanation or exc)
    if "no such file or directory" in text or "executable file not found" in text:
        return NoShellError(
            f"this layer has no {argv[0]} to run the command with",
            "It has no shell (built FROM scratch?): type the command in exec form, "
            'e.g. ["/app/server", "--check"]',
        )
    return _api_error("starting a debug container", exc)

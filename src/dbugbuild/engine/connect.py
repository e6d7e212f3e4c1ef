"""I/O: the API client of the daemon the docker CLI would use (endpoint.py says which), and every
way of not reaching it as one sentence (exit 69).

TLS is the endpoint's own: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a
session's CA (psf/requests#3829), so the daemon's certificate would be checked against
some other CA; here the endpoint's CA wins, for this client only (the process
environment is left alone). ssh:// goes through the docker CLI (tunnel.py).
"""

from __future__ import annotations

import os
import re
import shutil  # (argparse's already: it loads it for its help's width)

from dbugbuild.engine.endpoint import Endpoint, resolve
from dbugbuild.engine.failures import first_line, unavailable_hint
from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineUnavailableError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # the rest loads after a build's start (a local socket's client is made then)
    from collections.abc import Callable, Mapping
    from typing import Any

    from dbugbuild.engine.later import Later
    from dbugbuild.engine.podman import PodmanEndpoint
    from dbugbuild.engine.tunnel import StdioTunnel

    Made = tuple[Any, PodmanEndpoint | None]  # the client, and the Podman service sought


class Connection:
    """The API client of an endpoint, with the docker CLI's path and the endpoint.

    The client is made at once, or (a local socket that answers, a local Podman service) in
    a thread that soon() starts while a build runs; `client` waits for it there. A Podman
    service sought that way comes with the client (`podman`), and is stopped by close() if
    dbugbuild started it.

    On a local socket without TLS (`plain`), the API is a PlainAPI in front of docker-py's
    client: the calls a report makes need no docker-py (plainapi.py).
    """

    def __init__(
        self,
        client: Any,
        cli: str | None,
        endpoint: Endpoint,
        tunnel: StdioTunnel | None,
        make: Callable[[], Made] | None = None,
        plain: bool = False,
    ) -> None:
        self._given = client
        self._make = make  # None: the client is given
        self._plain = plain
        self._api: Any = None  # made when first asked for (plainapi.py loads then)
        self._later: Later[Made] | None = None  # made by _making() when first needed
        self.cli = cli  # the docker CLI's path
        self.endpoint = endpoint
        self.tunnel = tunnel

    def _making(self) -> Later[Made]:
        """The client in the making (later.py, imported then: after a build's start)."""
        if self._later is None:
            from dbugbuild.engine.later import Later

            given: Made = (self._given, None)
            make = self._make
            self._later = Later.ready(given) if make is None else Later(make, "dbugbuild-connect")
        return self._later

    @property
    def client(self) -> Any:
        """The docker.DockerClient (made now if it was not started: see soon())."""
        return self._making().get()[0]

    @property
    def api(self) -> Any:
        """The Engine API: docker-py's APIClient, or the PlainAPI in front of it."""
        if not self._plain:
            return self.client.api
        if self._api is None:
            from dbugbuild.engine.plainapi import PlainAPI

            self._api = PlainAPI(self.endpoint.host, lambda: self.client.api)
        return self._api

    @property
    def podman(self) -> PodmanEndpoint | None:
        """The Podman service the client was made for, when it was sought (waits for it)."""
        return self._making().get()[1]

    @property
    def made(self) -> bool:
        """Whether the client is made or being made (False: nothing asked the daemon yet)."""
        return self._make is None or (self._later is not None and self._later.started)

    def soon(self) -> None:
        """Start making the client in a thread (docker-py's imports, a ping, the version)."""
        self._making().start()

    def close(self) -> None:
        try:
            if self.made:  # a client never started is never made
                self._making().close(_close)
        finally:
            if self.tunnel is not None:
                self.tunnel.close()


def _close(made: Made) -> None:
    client, podman = made
    try:
        client.close()
    finally:
        if podman is not None and podman.service is not None:
            podman.service.stop()


def connect(env: Mapping[str, str]) -> Connection:
    """Reach the daemon the docker CLI would use with `env`.

    The CLI is not required for a unix or tcp endpoint: with DOCKER_HOST set, a `--log`
    run needs only the API, and a missing CLI is reported when a build or `:shell` needs
    it. An ssh:// endpoint is dialled by the CLI, as its builds are.

    A local socket is only knocked on here (no daemon there: the error, now); its client
    is made when first used, or in a thread once soon() is called: a build starts without
    waiting for docker-py and the daemon's version. Other endpoints are reached at once,
    so that a TLS or ssh failure is one sentence before any build starts.
    """
    cli = shutil.which("docker", path=env.get("PATH"))
    endpoint = resolve(cli, env)
    if endpoint.scheme == "unix" and endpoint.tls is None:
        try:
            _probe_unix_socket(endpoint.host)
        except OSError as exc:
            raise EngineUnavailableError(
                f"no Docker daemon is reachable at {endpoint.described} "
                f"({endpoint.host.split('://', 1)[1]}: {exc.strerror or exc})",
                unavailable_hint(),
            ) from exc
        make = lambda: (_client(endpoint, None), None)  # noqa: E731
        return Connection(None, cli, endpoint, None, make, plain=True)
    tunnel = None
    try:
        if endpoint.scheme == "ssh":
            if cli is None:
                raise EngineUnavailableError(
                    f"{endpoint.described} needs the docker CLI to dial it, and it is not on PATH",
                    "Install the Docker CLI (Debian: 'apt-get install docker.io')",
                )
            from dbugbuild.engine.tunnel import StdioTunnel

            tunnel = StdioTunnel(cli, env)
        client = _client(endpoint, tunnel)
    except BaseException:
        if tunnel is not None:
            tunnel.close()
        raise
    return Connection(client, cli, endpoint, tunnel)


def podman_later(env: Mapping[str, str]) -> Connection:
    """A local Podman service (a default socket, or dbugbuild's own: podman.py), sought when
    the API is first used or in the thread soon() starts: `podman build` needs none."""
    cli = shutil.which("docker", path=env.get("PATH"))

    def found() -> Made:
        from dbugbuild.engine.podman import connect_podman

        client, _, podman = connect_podman(env)
        return client, podman

    return Connection(None, cli, Endpoint(LOCAL_PODMAN, "local"), None, found)


LOCAL_PODMAN = "unix://(a local Podman service)"  # the endpoint until it is found


def _client(endpoint: Endpoint, tunnel: StdioTunnel | None) -> Any:
    """A docker-py client of the endpoint (through the tunnel, for ssh://), its API version
    the daemon's; every failure as one sentence (EngineUnavailableError)."""
    try:
        base_url, tls = endpoint.host, _tls_config(endpoint)
        if tunnel is not None:
            base_url = tunnel.url
        # Probe with a fixed API version first: version="auto" makes docker-py's
        # constructor call the daemon, before the CA could be set, and a failure there
        # leaks its socket.
        probe = docker.APIClient(base_url=base_url, tls=tls, version="1.24", timeout=10)
        _endpoint_ca_wins(probe)
        try:
            probe.ping()
            api_version = str(probe.version(api_version=False)["ApiVersion"])
        finally:
            probe.close()
        client = docker.DockerClient(base_url=base_url, tls=tls, version=api_version, timeout=120)
        _endpoint_ca_wins(client.api)
        if tunnel is not None:
            _one_pool(client.api)
        return client
    except EngineUnavailableError:
        raise
    except Exception as exc:  # docker-py's errors, and requests' that escape its wrapping
        raise _unreachable(endpoint, exc, tunnel) from exc


def _tls_config(endpoint: Endpoint) -> docker.tls.TLSConfig | None:
    material = endpoint.tls
    if material is None:
        return None
    pair = (material.cert, material.key) if material.cert and material.key else None
    # docker-py checks that the files exist; a missing one is reported like the CLI's.
    return docker.tls.TLSConfig(client_cert=pair, ca_cert=material.ca, verify=material.verify)


def _endpoint_ca_wins(session: Any) -> None:
    """Make the session's own verify (the endpoint's CA, or False) survive requests' merging of
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE over it (psf/requests#3829)."""
    own = session.verify
    if own is True:
        return  # the system's CAs: those variables may name the ones to use, as for curl
    merge = session.merge_environment_settings

    def merged(*args: Any, **kwargs: Any) -> dict[str, Any]:
        settings: dict[str, Any] = merge(*args, **kwargs)
        settings["verify"] = own
        return settings

    session.merge_environment_settings = merged


def _one_pool(session: Any) -> None:
    """Share one connection pool between every request on a unix socket.

    docker-py's unix adapter keeps a pool per URL (docker/transport/unixconn.py), so each
    new container path opens a new connection: nothing on a local socket, but through the
    tunnel each is a new ssh connection (about half a second).
    """
    adapter = session.adapters.get("http+docker://")
    if adapter is None or not hasattr(adapter, "get_connection"):
        return
    get = adapter.get_connection

    def shared(url: str, proxies: Any = None) -> Any:
        del url
        return get("http+docker://localhost", proxies)

    adapter.get_connection = shared


def _probe_unix_socket(url: str) -> None:
    """Fail fast (OSError), and without leaking a socket (docker-py does on a refused
    connect). Asked before a build starts, so by the C module the socket module wraps:
    socket.py's enums cost 4-6 ms of every build's start on these machines, and the build
    needs none of it (docker-py loads it while the build runs)."""
    import _socket

    path = url.split("://", 1)[1]
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(5)
        sock.connect(path)
    finally:
        sock.close()


# -- why it could not be reached ----------------------------------------------------------

_SSH_STDERR = re.compile(r"stderr=(.+)$")


def _unreachable(endpoint: Endpoint, exc: BaseException, tunnel: StdioTunnel | None) -> Exception:
    where = endpoint.described
    if endpoint.tls is not None:
        if isinstance(exc, docker.errors.TLSParameterError):
            material = endpoint.tls
            if material.verify and not (material.ca and os.path.exists(material.ca)):
                why = f"no ca.pem in {material.folder}"
            else:  # docker-py's first sentence; the rest points at its docs
                why = first_line(exc).split(". ")[0].rstrip(".")
            return EngineUnavailableError(
                f"the TLS settings for the Docker daemon at {where} cannot be used ({why})",
                _certificate_hint(endpoint, "missing"),
            )
        tls_error = _ssl_error(exc)
        if tls_error is not None:
            detail, problem = tls_error
            return EngineUnavailableError(
                f"the TLS handshake with the Docker daemon at {where} failed ({detail})",
                _certificate_hint(endpoint, problem),
            )
    if tunnel is not None:
        said = tunnel.error() or first_line(exc)
        ssh = _SSH_STDERR.search(said)
        detail = ssh.group(1).strip() if ssh else said
        return EngineUnavailableError(
            f"ssh to the Docker daemon at {where} failed: {detail.rstrip('.')}",
            f"Check that 'docker -H {endpoint.host} version' works from this shell (the ssh "
            "keys, known_hosts, ~/.ssh/config): dbugbuild dials it as the docker CLI does",
        )
    detail = (
        first_line(exc) if isinstance(exc, docker.errors.DockerException) else type(exc).__name__
    )
    if "HTTP request to an HTTPS server" in detail:
        return EngineUnavailableError(
            f"the Docker daemon at {where} speaks TLS, and no TLS is set up for it",
            "Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder of its ca.pem, cert.pem "
            "and key.pem (or use a context made with those: 'docker context create')",
        )
    return EngineUnavailableError(
        f"no Docker daemon is reachable at {where} ({detail})", unavailable_hint()
    )


def _ssl_error(exc: BaseException) -> tuple[str, str] | None:
    """The TLS failure inside a requests/urllib3 error chain: (OpenSSL's words, "verify" when
    the daemon's certificate was not trusted, "alert" when the daemon refused the client's),
    or None when it was no TLS failure."""
    import ssl  # a failure's question: a connection that works never imports it here

    seen: set[int] = set()
    stack: list[object] = [exc]
    closed = False
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {item.verify_message}", "verify"
        if isinstance(item, (ssl.SSLEOFError, ConnectionResetError)):
            closed = True  # keep looking: an alert may be in the chain too
        elif isinstance(item, ssl.SSLError):
            reason = str(item.reason or "").lower().replace("_", " ") or first_line(item)
            return reason, "alert" if "alert" in reason else "other"
        stack += [*item.args, item.__cause__, item.__context__, getattr(item, "reason", None)]
    if closed:
        # TLS 1.3: the daemon checks the client certificate after the client's side of the
        # handshake is done; its refusal may arrive as a bare close instead of the alert.
        return "the daemon closed the connection during the TLS handshake", "alert"
    return None


def _certificate_hint(endpoint: Endpoint, problem: str) -> str:
    """What to check, by what went wrong: the CA does not match the daemon's certificate
    ("verify"), the daemon refused the client's certificate ("alert"), files missing."""
    material = endpoint.tls
    assert material is not None
    if endpoint.context is not None:
        name = endpoint.context
        where = f"the TLS material of context {name!r} ('docker context inspect {name}')"
    else:
        where = f"DOCKER_CERT_PATH ({material.folder})"
    if problem == "verify":
        return f"The ca.pem of {where} is not the CA that signed the daemon's certificate"
    if problem == "alert":
        return (
            f"The daemon refused the client certificate of {where}: use a cert.pem/key.pem "
            "signed by the CA of the daemon's --tlscacert"
        )
    return f"Check {where}: it needs ca.pem, cert.pem and key.pem, as 'docker version' does"

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
import shutil
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.tls

from dbugbuild.engine.endpoint import Endpoint, resolve
from dbugbuild.engine.failures import first_line, unavailable_hint
from dbugbuild.engine.tunnel import StdioTunnel
from dbugbuild.errors import EngineUnavailableError


@dataclass
class Connection:
    client: Any  # docker.DockerClient
    cli: str | None  # the docker CLI's path
    endpoint: Endpoint
    tunnel: StdioTunnel | None

    def close(self) -> None:
        self.client.close()
        if self.tunnel is not None:
            self.tunnel.close()


def connect(env: Mapping[str, str]) -> Connection:
    """Reach the daemon the docker CLI would use with `env`.

    The CLI is not required for a unix or tcp endpoint: with DOCKER_HOST set, a `--log`
    run needs only the API, and a missing CLI is reported when a build or `:shell` needs
    it. An ssh:// endpoint is dialled by the CLI, as its builds are.
    """
    cli = shutil.which("docker", path=env.get("PATH"))
    endpoint = resolve(cli, env)
    tunnel = None
    try:
        base_url, tls = endpoint.host, _tls_config(endpoint)
        if endpoint.scheme == "ssh":
            if cli is None:
                raise EngineUnavailableError(
                    f"{endpoint.described} needs the docker CLI to dial it, and it is not on PATH",
                    "Install the Docker CLI (Debian: 'apt-get install docker.io')",
                )
            tunnel = StdioTunnel(cli, env)
            base_url = tunnel.url
        else:
            _probe_unix_socket(base_url)
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
    except EngineUnavailableError:
        if tunnel is not None:
            tunnel.close()
        raise
    except Exception as exc:  # docker-py's errors, and requests' that escape its wrapping
        error = _unreachable(endpoint, exc, tunnel)
        if tunnel is not None:
            tunnel.close()
        raise error from exc
    return Connection(client, cli, endpoint, tunnel)


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
    """Fail fast, and without leaking a socket (docker-py does on a refused connect)."""
    if not url.startswith(("unix://", "http+unix://")):
        return
    path = url.split("://", 1)[1]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            raise docker.errors.DockerException(f"{path}: {exc.strerror or exc}") from exc


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

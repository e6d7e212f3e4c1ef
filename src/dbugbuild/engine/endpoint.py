"""I/O: where the daemon is, found as the docker CLI finds it: DOCKER_HOST, then the current
context (`docker context use`, DOCKER_CONTEXT), with the context's TLS material.

A remote daemon (tcp:// with TLS, ssh://) is reached the same way; only the API client
is made here, and a failure is one sentence (exit 69).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.tls
from docker.context import ContextAPI
from docker.utils import kwargs_from_env

from dbugbuild.engine.failures import first_line, unavailable_hint
from dbugbuild.errors import EngineUnavailableError


def connect_client(env: Mapping[str, str]) -> tuple[Any, str | None]:
    """(a docker-py client of the daemon the docker CLI would use, the CLI's path or None).

    The CLI is not required here: with DOCKER_HOST set, a `--log` run needs only the
    API, and a missing CLI is reported when a build or `:shell` needs it.
    """
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
            first_line(exc)
            if isinstance(exc, docker.errors.DockerException)
            else type(exc).__name__
        )
        where = env.get("DOCKER_HOST") or "the default socket"
        raise EngineUnavailableError(
            f"no Docker daemon is reachable at {where} ({detail})", unavailable_hint()
        ) from exc
    return client, cli


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

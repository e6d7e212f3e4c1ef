"""I/O: where the daemon is, found as the docker CLI finds it: DOCKER_HOST with DOCKER_TLS_VERIFY,
DOCKER_TLS and DOCKER_CERT_PATH; else the current context (DOCKER_CONTEXT, `docker context use`)
with its TLS material; else the default socket. Nothing is connected here (connect.py does).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class TLSMaterial:
    """The client's TLS settings: the CA that must have signed the daemon's certificate (None:
    the system's), the client certificate and key (None: none sent), whether to verify."""

    ca: str | None
    cert: str | None
    key: str | None
    verify: bool
    folder: str  # where the material is, for messages


@dataclass(frozen=True)
class Endpoint:
    """A daemon's address, where it was found (`source`), and its TLS settings."""

    host: str
    source: str  # "DOCKER_HOST", "context NAME", or "default"
    tls: TLSMaterial | None = None

    @property
    def scheme(self) -> str:
        """unix, tcp, ssh, npipe or fd (a bare host:port is tcp, as the CLI reads it)."""
        return self.host.split("://", 1)[0].lower() if "://" in self.host else "tcp"

    @property
    def context(self) -> str | None:
        return self.source.removeprefix("context ") if self.source.startswith("context ") else None

    @property
    def described(self) -> str:
        """The address with where it came from, for messages: `tcp://h:2376 (DOCKER_HOST)`."""
        if self.source == "default":
            return f"{self.host} (the default socket)"
        if self.context is not None:
            return f"{self.host} (context {self.context!r})"
        return f"{self.host} ({self.source})"

    @property
    def hostname(self) -> str | None:
        """The machine named by a tcp:// or ssh:// address; None for a socket."""
        if self.scheme not in ("tcp", "ssh"):
            return None
        from urllib.parse import urlsplit

        url = self.host if "://" in self.host else f"tcp://{self.host}"
        return urlsplit(url).hostname

    @property
    def on_this_machine(self) -> bool:
        """A local socket, or a tcp/ssh address on loopback: the daemon sees this file system
        (unless a tunnel forwards it elsewhere: Engine.is_local also asks the daemon)."""
        if self.scheme in ("unix", "npipe", "fd"):
            return True
        name = self.hostname
        if name is None:
            return False
        if name == "localhost":
            return True
        import ipaddress

        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @property
    def warning(self) -> str | None:
        """One sentence when the endpoint is plain TCP: nothing protects it."""
        if self.scheme != "tcp" or self.tls is not None:
            return None
        return (
            f"the Docker daemon at {self.described} is plain TCP: neither encrypted nor "
            "authenticated, so anyone who can reach that port controls the daemon; Docker "
            "recommends TLS (port 2376, DOCKER_TLS_VERIFY) or ssh://"
        )


def resolve(cli: str | None, env: Mapping[str, str]) -> Endpoint:
    """The endpoint the docker CLI would use with this environment."""
    host = env.get("DOCKER_HOST", "")
    if host:
        return Endpoint(host, "DOCKER_HOST", _env_tls(host, env))
    if _default_context(env):
        return Endpoint(DEFAULT_HOST, "default")
    context = _current_context(cli, env)
    return context if context is not None else Endpoint(DEFAULT_HOST, "default")


def _env_tls(host: str, env: Mapping[str, str]) -> TLSMaterial | None:
    """TLS as the CLI takes it from the environment (docker/cli cli/flags/options.go): on with
    DOCKER_TLS_VERIFY or DOCKER_TLS set (non-empty, whatever the value), verifying only with
    DOCKER_TLS_VERIFY; the files in DOCKER_CERT_PATH, else in the CLI's configuration folder."""
    verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not (verify or env.get("DOCKER_TLS")):
        return None
    if "://" in host and not host.lower().startswith("tcp://"):
        return None  # TLS settings apply to tcp:// only
    folder = env.get("DOCKER_CERT_PATH") or _config_dir(env)
    files = {name: os.path.join(folder, f"{name}.pem") for name in ("ca", "cert", "key")}
    has_pair = os.path.exists(files["cert"]) and os.path.exists(files["key"])
    return TLSMaterial(
        ca=files["ca"] if verify else None,
        cert=files["cert"] if has_pair else None,
        key=files["key"] if has_pair else None,
        verify=verify,
        folder=folder,
    )


def _default_context(env: Mapping[str, str]) -> bool:
    """Whether the CLI's context is surely the default one: DOCKER_CONTEXT unset (or
    "default") and no currentContext in its config.json (docker/cli
    cli/command/cli.go resolveContextName), so that `docker context inspect` need not be
    asked (a process start, before a build)."""
    if env.get("DOCKER_CONTEXT", "default") != "default":
        return False
    path = os.path.join(os.path.expanduser(_config_dir(env)), "config.json")
    try:
        with open(path, encoding="utf-8") as config:
            text = config.read()
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # (not UTF-8)
        return False  # the CLI reads it its own way: ask it
    import json  # (with a config.json only)

    try:
        current = json.loads(text).get("currentContext")
    except (ValueError, AttributeError):
        return False
    return current in (None, "", "default")


def _config_dir(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or "~", ".docker")


def _current_context(cli: str | None, env: Mapping[str, str]) -> Endpoint | None:
    """The CLI's current context as `docker context inspect` says, None for the default one.

    docker-py's own ContextAPI misses contexts when no config.json exists (it looks for the
    contexts folder next to that file), so the CLI is asked when it is there.
    """
    info = _inspect_context(cli, env) if cli is not None else None
    if info is None:
        return _context_api_endpoint(env)
    name = str(info.get("Name") or "")
    endpoint = (info.get("Endpoints") or {}).get("docker") or {}
    host = str(endpoint.get("Host") or "")
    if not host or name == "default":
        return Endpoint(host, "default") if host else None
    tls_dir = os.path.join((info.get("Storage") or {}).get("TLSPath") or "", "docker")
    return Endpoint(host, f"context {name}", _context_tls(host, tls_dir, endpoint))


def _inspect_context(cli: str, env: Mapping[str, str]) -> dict[str, Any] | None:
    import json

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
        return None
    return info if isinstance(info, dict) else None


def _context_tls(host: str, folder: str, endpoint: Mapping[str, object]) -> TLSMaterial | None:
    """A context's TLS: its stored material (any of ca/cert/key.pem) or SkipTLSVerify."""
    if not host.lower().startswith("tcp://"):
        return None
    files = {name: os.path.join(folder, f"{name}.pem") for name in ("ca", "cert", "key")}
    present = {name: path for name, path in files.items() if os.path.exists(path)}
    skip = bool(endpoint.get("SkipTLSVerify", False))
    if not present and not skip:
        return None
    pair = "cert" in present and "key" in present
    return TLSMaterial(
        ca=present.get("ca"),
        cert=present["cert"] if pair else None,
        key=present["key"] if pair else None,
        verify=not skip,
        folder=folder,
    )


def _context_api_endpoint(env: Mapping[str, str]) -> Endpoint | None:
    """A CLI without contexts (or none installed): docker-py's reading of them."""
    from docker.context import ContextAPI

    ctx = ContextAPI.get_context(env.get("DOCKER_CONTEXT") or None)
    if ctx is None or not ctx.Host or ctx.Name == "default":
        return None
    tls = ctx.TLSConfig
    material = None
    if tls:
        cert = tls.cert if isinstance(tls.cert, tuple) else (None, None)
        material = TLSMaterial(
            ca=tls.ca_cert, cert=cert[0], key=cert[1], verify=bool(tls.verify), folder=ctx.Name
        )
    return Endpoint(ctx.Host, f"context {ctx.Name}", material)

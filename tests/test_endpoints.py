"""Where the daemon is (engine/endpoint.py), as the docker CLI reads it, without a daemon: the
environment's DOCKER_HOST and TLS variables, contexts made with the real docker CLI, what
is local, the plain-TCP warning; the CA that wins over REQUESTS_CA_BUNDLE; the ssh relay.

The endpoint tests against real second daemons are tests/test_remote.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from daemons import make_certs
from dbugbuild.engine.connect import _endpoint_ca_wins
from dbugbuild.engine.endpoint import Endpoint, TLSMaterial, resolve
from dbugbuild.engine.tunnel import StdioTunnel

DOCKER = shutil.which("docker")


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    for name in ("ca.pem", "cert.pem", "key.pem"):
        folder.mkdir(exist_ok=True)
        (folder / name).write_text("not read here\n")
    return folder


# --- DOCKER_HOST and the TLS variables -----------------------------------------------------


def test_endpoints_docker_host_with_tls_verify(certs: Path) -> None:
    env = {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1"}
    found = resolve(None, {**env, "DOCKER_CERT_PATH": str(certs)})
    assert found == Endpoint(
        "tcp://10.0.0.5:2376",
        "DOCKER_HOST",
        TLSMaterial(f"{certs}/ca.pem", f"{certs}/cert.pem", f"{certs}/key.pem", True, str(certs)),
    )
    assert found.described == "tcp://10.0.0.5:2376 (DOCKER_HOST)"
    assert found.warning is None
    assert not found.on_this_machine


def test_endpoints_tls_verify_is_on_whatever_its_value(certs: Path) -> None:
    # The CLI: DOCKER_TLS_VERIFY set and not empty means verify, "0" and "false" too.
    for value in ("0", "false", "1"):
        env = {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": value}
        tls = resolve(None, {**env, "DOCKER_CERT_PATH": str(certs)}).tls
        assert tls is not None and tls.verify
    assert resolve(None, {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": ""}).tls is None


def test_endpoints_docker_tls_without_verify(certs: Path) -> None:
    env = {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(certs)}
    tls = resolve(None, env).tls
    assert tls == TLSMaterial(None, f"{certs}/cert.pem", f"{certs}/key.pem", False, str(certs))


def test_endpoints_cert_path_defaults_to_the_cli_config_folder(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"}
    tls = resolve(None, {**env, "DOCKER_CONFIG": str(tmp_path)}).tls
    assert tls is not None and tls.folder == str(tmp_path)
    assert (tls.ca, tls.cert, tls.key) == (f"{tmp_path}/ca.pem", None, None)  # no client pair
    tls = resolve(None, {**env, "HOME": str(tmp_path)}).tls
    assert tls is not None and tls.folder == f"{tmp_path}/.docker"


def test_endpoints_tls_variables_apply_to_tcp_only(certs: Path) -> None:
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    for host in ("unix:///run/docker.sock", "ssh://me@build.example"):
        assert resolve(None, {**env, "DOCKER_HOST": host}).tls is None
    assert resolve(None, {**env, "DOCKER_HOST": "127.0.0.1:2376"}).tls is not None


def test_endpoints_plain_tcp_warning() -> None:
    found = resolve(None, {"DOCKER_HOST": "tcp://127.0.0.1:2375"})
    assert found.warning == (
        "the Docker daemon at tcp://127.0.0.1:2375 (DOCKER_HOST) is plain TCP: neither encrypted "
        "nor authenticated, so anyone who can reach that port controls the daemon; Docker "
        "recommends TLS (port 2376, DOCKER_TLS_VERIFY) or ssh://"
    )
    assert resolve(None, {"DOCKER_HOST": "10.1.2.3:2375"}).warning is not None  # bare host:port
    for host in ("unix:///var/run/docker.sock", "ssh://me@10.1.2.3", "npipe:////./pipe/x"):
        assert resolve(None, {"DOCKER_HOST": host}).warning is None


@pytest.mark.parametrize(
    ("host", "here"),
    [
        ("unix:///var/run/docker.sock", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://127.1.2.3:2375", True),
        ("tcp://[::1]:2376", True),
        ("tcp://localhost:2376", True),
        ("ssh://root@127.0.0.1:2222", True),
        ("127.0.0.1:2375", True),
        ("tcp://10.0.0.5:2376", False),
        ("ssh://me@build.example.com", False),
        ("ssh://build.example.com:2222", False),
    ],
)
def test_endpoints_on_this_machine(host: str, here: bool) -> None:
    assert Endpoint(host, "DOCKER_HOST").on_this_machine is here


# --- Contexts, made with the real docker CLI ------------------------------------------------


def _cli(config: Path, *args: str) -> None:
    subprocess.run(
        [str(DOCKER), "--config", str(config), *args], check=True, capture_output=True, text=True
    )


@pytest.mark.skipif(DOCKER is None, reason="needs the docker CLI (no daemon)")
def test_endpoints_tls_context(tmp_path: Path) -> None:
    made = make_certs(tmp_path / "certs").client
    config = tmp_path / "config"
    spec = f"host=tcp://10.0.0.5:2376,ca={made}/ca.pem,cert={made}/cert.pem,key={made}/key.pem"
    _cli(config, "context", "create", "remote-tls", "--docker", spec)
    env = {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "remote-tls", "PATH": os.defpath}
    found = resolve(DOCKER, env)
    assert (found.host, found.source, found.context) == (
        "tcp://10.0.0.5:2376",
        "context remote-tls",
        "remote-tls",
    )
    assert found.described == "tcp://10.0.0.5:2376 (context 'remote-tls')"
    tls = found.tls
    assert tls is not None and tls.verify
    # The CLI keeps its own copy of the material, under the context's storage.
    assert tls.folder.startswith(f"{config}/contexts/tls/") and tls.folder.endswith("/docker")
    for path, source in ((tls.ca, "ca.pem"), (tls.cert, "cert.pem"), (tls.key, "key.pem")):
        assert path is not None and Path(path).read_text() == (made / source).read_text()


@pytest.mark.skipif(DOCKER is None, reason="needs the docker CLI (no daemon)")
def test_endpoints_contexts_skip_verify_plain_and_default(tmp_path: Path) -> None:
    config = tmp_path / "config"
    _cli(config, "context", "create", "skip", "--docker", "host=tcp://h:2376,skip-tls-verify=true")
    _cli(config, "context", "create", "plain", "--docker", "host=tcp://h:2375")
    env = {"DOCKER_CONFIG": str(config), "PATH": os.defpath}
    skip = resolve(DOCKER, {**env, "DOCKER_CONTEXT": "skip"})
    assert skip.tls is not None and not skip.tls.verify and skip.tls.ca is None
    plain = resolve(DOCKER, {**env, "DOCKER_CONTEXT": "plain"})
    assert plain.tls is None and plain.warning is not None
    assert "(context 'plain')" in plain.warning
    default = resolve(DOCKER, env)
    assert default == Endpoint("unix:///var/run/docker.sock", "default")
    assert default.described == "unix:///var/run/docker.sock (the default socket)"
    # DOCKER_HOST wins over any context, as for the CLI.
    host = resolve(DOCKER, {**env, "DOCKER_CONTEXT": "skip", "DOCKER_HOST": "unix:///x.sock"})
    assert host == Endpoint("unix:///x.sock", "DOCKER_HOST")


# --- The daemon's CA wins (psf/requests#3829) ------------------------------------------------


def test_endpoints_ca_wins_over_requests_bundles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = requests.Session()
    session.verify = str(tmp_path / "ca.pem")
    url = "https://127.0.0.1:2376/_ping"
    # What requests does by itself: the variable replaces the session's CA.
    assert session.merge_environment_settings(url, {}, None, None, None)["verify"] == (
        "/etc/ssl/certs/ca-certificates.crt"
    )
    _endpoint_ca_wins(session)
    assert session.merge_environment_settings(url, {}, None, None, None)["verify"] == str(
        tmp_path / "ca.pem"
    )
    unverified = requests.Session()
    unverified.verify = False  # DOCKER_TLS without verify, or a context's skip-tls-verify
    _endpoint_ca_wins(unverified)
    assert unverified.merge_environment_settings(url, {}, None, None, None)["verify"] is False
    system = requests.Session()  # verify=True: the system's CAs, which the variables may name
    _endpoint_ca_wins(system)
    assert system.merge_environment_settings(url, {}, None, None, None)["verify"] == (
        "/etc/ssl/certs/ca-certificates.crt"
    )
    for each in (session, unverified, system):
        each.close()


# --- The relay through `docker system dial-stdio` -------------------------------------------


def _fake_cli(tmp_path: Path, body: str) -> str:
    """A stand-in for the docker CLI's dial-stdio: the relay's own mechanics, not an engine."""
    script = tmp_path / "dial"
    script.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'system dial-stdio' ] || exit 99\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_endpoints_tunnel_relays_both_ways_and_cleans_up(tmp_path: Path) -> None:
    tunnel = StdioTunnel(_fake_cli(tmp_path, "exec tr a-z A-Z"), {"PATH": os.defpath})
    folder = Path(tunnel.path).parent
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(tunnel.path)
        conn.sendall(b"ping over the relay\n")
        conn.shutdown(socket.SHUT_WR)  # the client's end closes the process' stdin
        got = b""
        while chunk := conn.recv(1024):
            got += chunk
    assert got == b"PING OVER THE RELAY\n"
    assert tunnel.error(wait=1) is None
    tunnel.close()
    assert not folder.exists()


def test_endpoints_tunnel_keeps_what_dial_stdio_said(tmp_path: Path) -> None:
    said = "error during connect: ... stderr=Host key verification failed."
    tunnel = StdioTunnel(_fake_cli(tmp_path, f"echo '{said}' >&2; exit 1"), {"PATH": os.defpath})
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(tunnel.path)
            assert conn.recv(1024) == b""  # the process ended: the client sees the close
        assert tunnel.error() == said
    finally:
        tunnel.close()


def test_endpoints_tunnel_close_ends_open_relays(tmp_path: Path) -> None:
    tunnel = StdioTunnel(_fake_cli(tmp_path, "exec sleep 60"), {"PATH": os.defpath})
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(tunnel.path)
    deadline = time.monotonic() + 5
    while not tunnel._processes and time.monotonic() < deadline:
        time.sleep(0.02)
    process = tunnel._processes[0]
    tunnel.close()
    assert process.poll() is not None  # ended and reaped, not left running
    conn.close()

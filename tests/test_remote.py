"""dbugbuild against remote endpoints, each a real second server on loopback (tests/daemons.py):
TLS on 2376 (through DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and through a TLS
context), plain TCP on 2375, and ssh:// (an sshd reaching the main daemon).

Each endpoint gets one build with --exec and the JSON report, and one pty session, with
REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE set to the system's bundle (psf/requests#3829: they
used to replace the daemon's CA). The servers are module-scoped: they start once.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import own_label, run_cli
from daemons import Certs, Endpoint, ssh_endpoint, tcp_daemon, tls_context, tls_daemon
from dbugbuild.engine import Engine
from scenarios import CTRL_U, ENTER, Scenario, expect, play_in_pty, send

pytestmark = pytest.mark.docker

__all__ = ["ssh_endpoint", "tcp_daemon", "tls_context", "tls_daemon"]  # fixtures, by name

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BUNDLES = {"REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE, "CURL_CA_BUNDLE": SYSTEM_BUNDLE}


@pytest.fixture(autouse=True)
def _bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA bundle variables set in this process too: requests reads them from os.environ,
    whatever environment dbugbuild's Console was given (a pty run gets them in its env)."""
    for name, value in BUNDLES.items():
        monkeypatch.setenv(name, value)


FAILING = "FROM busybox\nRUN echo made > /made\nRUN cat /missing-file\n"
SESSION = Scenario(
    name="remote-session",
    dockerfile=FAILING,
    steps=[
        expect(r"dbugbuild> cat /missing-file"),  # the failed command, pre-typed
        send(ENTER),
        expect(r"exit code 1 "),
        send(CTRL_U + "cat /made" + ENTER),
        expect(r"made\n"),
        expect(r"exit code 0 "),
        send(CTRL_U + ":quit" + ENTER),
    ],
    exit_code=1,
    args=("--no-cache",),
)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(FAILING)
    return tmp_path


def _leftovers(endpoint: Endpoint, env: dict[str, str]) -> list[str]:
    """Containers and images of this test (by its label) on the endpoint's daemon."""
    found = []
    for kind in ("ps", "images"):
        done = subprocess.run(
            ["docker", kind, "-aq", "--filter", f"label={own_label()}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        found += done.stdout.split()
    return found


def _exec_on(endpoint: Endpoint, env: dict[str, str], tmp_path: Path) -> None:
    """The build, the JSON report and --exec through `env`; nothing of ours left there."""
    run = run_cli(
        ["--no-cache", "--format", "json", "--exec", "cat /made", "."], _project(tmp_path), env=env
    )
    report = run.json()
    assert run.code == 0, run.stderr
    assert report["failed_step"]["line"] == 3
    assert report["failed_step"]["exit_code"] == 1
    assert report["exec"] == [{"command": "cat /made", "exit_code": 0, "output": "made\n"}]
    assert "Traceback" not in run.stderr
    gone = subprocess.run(
        ["docker", "container", "inspect", report["failed_container"]],
        capture_output=True,
        env=env,
        check=False,
    )
    assert gone.returncode != 0  # removed after the commands, as on the local daemon
    assert _leftovers(endpoint, env) == []


# --- TLS on 2376 ---------------------------------------------------------------------------


def test_remote_tls_env_build_report_exec(tls_daemon: Endpoint, tmp_path: Path) -> None:
    _exec_on(tls_daemon, tls_daemon.client_env(**BUNDLES), tmp_path)


def test_remote_tls_env_without_bundles(
    tls_daemon: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in BUNDLES:
        monkeypatch.delenv(name)
    env = tls_daemon.client_env()
    run = run_cli(["--no-cache", "--format", "json", "."], _project(tmp_path), env=env)
    assert run.code == 1, run.stderr
    assert run.json()["failed_step"]["exit_code"] == 1
    assert "warning" not in run.stderr  # TLS: nothing to warn about


def test_remote_tls_context_pty_session(tls_context: Endpoint, tmp_path: Path) -> None:
    env = tls_context.client_env(**BUNDLES)
    assert "DOCKER_HOST" not in env  # the context decides
    play_in_pty(SESSION, _project(tmp_path), env=env)
    assert _leftovers(tls_context, env) == []


def test_remote_tls_context_exec(tls_context: Endpoint, tmp_path: Path) -> None:
    _exec_on(tls_context, tls_context.client_env(**BUNDLES), tmp_path)


@pytest.mark.parametrize(
    ("certs", "said", "hint"),
    [
        ("wrong-ca", "(certificate verify failed: ", "is not the CA that signed"),
        ("untrusted-client", "(", "refused the client certificate"),
    ],
)
def test_remote_tls_wrong_certificate_is_one_line(
    tls_daemon: Endpoint, tmp_path: Path, certs: str, said: str, hint: str
) -> None:
    folder = Path(tls_daemon.facts["certs"]) / certs
    env = tls_daemon.client_env(DOCKER_CERT_PATH=str(folder), **BUNDLES)
    run = run_cli(["--no-cache", "."], _project(tmp_path), env=env)
    assert run.code == 69
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(
        f"dbugbuild: error: the TLS handshake with the Docker daemon at {tls_daemon.host} "
        f"(DOCKER_HOST) failed {said}"
    )
    assert hint in run.stderr and f"DOCKER_CERT_PATH ({folder})" in run.stderr
    if certs == "untrusted-client":  # TLS 1.3: the refusal comes as an alert or a bare close
        assert re.search(
            r"failed \((tlsv1 alert unknown ca|the daemon closed the connection during the TLS "
            r"handshake)\)",
            run.stderr,
        ), run.stderr


def test_remote_tls_context_wrong_ca_names_the_context(
    tls_context: Endpoint, tls_daemon: Endpoint, tmp_path: Path
) -> None:
    wrong = Certs(Path(tls_daemon.facts["certs"])).wrong_ca
    env = tls_context.client_env(**BUNDLES)
    name = f"{tls_context.facts['name']}-wrong"
    spec = f"host={tls_daemon.host},ca={wrong}/ca.pem,cert={wrong}/cert.pem,key={wrong}/key.pem"
    subprocess.run(
        ["docker", "context", "create", name, "--docker", spec],
        env=env,
        check=True,
        capture_output=True,
    )
    run = run_cli(["--no-cache", "."], _project(tmp_path), env={**env, "DOCKER_CONTEXT": name})
    assert run.code == 69
    assert run.stderr.count("\n") == 1, run.stderr
    assert f"at {tls_daemon.host} (context '{name}') failed (certificate verify" in run.stderr
    assert f"the TLS material of context '{name}'" in run.stderr


def test_remote_tls_port_without_tls_says_so(tls_daemon: Endpoint, tmp_path: Path) -> None:
    env = tls_daemon.client_env(DOCKER_TLS_VERIFY="")
    run = run_cli(["--no-cache", "."], _project(tmp_path), env=env)
    assert run.code == 69
    assert "speaks TLS, and no TLS is set up for it. Set DOCKER_TLS_VERIFY=1" in run.stderr
    assert "Traceback" not in run.stderr


# --- Plain TCP on 2375 ---------------------------------------------------------------------


def test_remote_plain_tcp_works_and_warns_once(tcp_daemon: Endpoint, tmp_path: Path) -> None:
    env = tcp_daemon.client_env()
    run = run_cli(
        ["--no-cache", "--format", "json", "--exec", "cat /made", "."], _project(tmp_path), env=env
    )
    assert run.code == 0, run.stderr
    assert run.json()["exec"][0]["output"] == "made\n"
    warning = (
        f"dbugbuild: warning: the Docker daemon at {tcp_daemon.host} (DOCKER_HOST) is plain TCP: "
        "neither encrypted nor authenticated"
    )
    assert run.stderr.count("dbugbuild: warning:") == 1
    assert warning in run.stderr
    assert _leftovers(tcp_daemon, env) == []
    engine = Engine.connect(env)
    try:
        assert engine.is_local  # loopback, and the daemon runs under this host name
        assert engine.endpoint.described == f"{tcp_daemon.host} (DOCKER_HOST)"
    finally:
        engine.close()


def test_remote_is_local_asks_the_daemon_its_host_name(
    tcp_daemon: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loopback port (or socket) forwarded to a daemon elsewhere (a VM, the host of the
    # container dbugbuild runs in) reports another host name: not local, bind mounts would
    # mount that machine's paths. Here this machine pretends to be another one.
    monkeypatch.setattr(socket, "gethostname", lambda: "not-the-daemons-host")
    engine = Engine.connect(tcp_daemon.client_env())
    try:
        assert engine.endpoint.on_this_machine
        assert not engine.is_local
    finally:
        engine.close()


# --- ssh:// --------------------------------------------------------------------------------


def test_remote_ssh_exec(ssh_endpoint: Endpoint, engine: Engine, tmp_path: Path) -> None:
    # The sshd reaches the main daemon: its leak checks (no_leaks) would see ours too.
    env = ssh_endpoint.client_env()
    _exec_on(ssh_endpoint, env, tmp_path)
    cleaned = run_cli(["clean"], tmp_path, env=env)
    assert (cleaned.code, cleaned.stderr) == (0, "")
    assert cleaned.stdout == "dbugbuild clean: removed 0 container(s), 0 image(s)\n"


def test_remote_ssh_pty_session(ssh_endpoint: Endpoint, engine: Engine, tmp_path: Path) -> None:
    env = ssh_endpoint.client_env()
    play_in_pty(SESSION, _project(tmp_path), env=env)
    assert _leftovers(ssh_endpoint, env) == []
    over_ssh = Engine.connect(env)
    try:
        assert over_ssh.endpoint.described == f"{ssh_endpoint.host} (DOCKER_HOST)"
        assert over_ssh.is_local  # ssh to loopback: this machine's daemon
    finally:
        over_ssh.close()


def test_remote_ssh_failure_is_one_line(ssh_endpoint: Endpoint, tmp_path: Path) -> None:
    # Without the private ssh configuration: the machine's ssh knows no such host key.
    env = {**ssh_endpoint.client_env(), "PATH": "/usr/local/bin:/usr/bin:/bin", "SSH_AUTH_SOCK": ""}
    run = run_cli(["--no-cache", "."], _project(tmp_path), env=env)
    assert run.code == 69
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(
        f"dbugbuild: error: ssh to the Docker daemon at {ssh_endpoint.host} (DOCKER_HOST) failed: "
    )
    assert "Host key verification failed" in run.stderr or "Permission denied" in run.stderr
    assert f"'docker -H {ssh_endpoint.host} version'" in run.stderr

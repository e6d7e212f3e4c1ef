"""The second daemons of tests/daemons.py, proven with the docker CLI alone.

If one of these fails, the endpoint tests that use the fixture test nothing: each
fixture is shown to answer, to refuse what it must refuse, and to leave nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

import daemons
from daemons import (
    Endpoint,
    containerd_daemon,
    crun_daemon,
    registry,
    ssh_endpoint,
    tcp_daemon,
    tls_context,
    tls_daemon,
)

pytestmark = pytest.mark.docker

__all__ = [  # the fixtures, used by name below
    "containerd_daemon",
    "crun_daemon",
    "registry",
    "ssh_endpoint",
    "tcp_daemon",
    "tls_context",
    "tls_daemon",
]


def main_docker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env if env is not None else daemons.base_env(),
    )


def classic_build(endpoint: Endpoint, dockerfile: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(dockerfile)
        return subprocess.run(
            ["docker", "build", "--no-cache", context],
            capture_output=True,
            text=True,
            check=False,
            env=endpoint.client_env(DOCKER_BUILDKIT="0"),
        )


# --- TLS on 2376 ---------------------------------------------------------------------------


def test_tls_daemon_answers_with_the_client_certificates(tls_daemon: Endpoint) -> None:
    assert tls_daemon.host.startswith("tcp://127.0.0.1:")
    assert tls_daemon.env["DOCKER_TLS_VERIFY"] == "1"
    info = tls_daemon.docker("info", "--format", "{{json .}}")
    facts = json.loads(info.stdout)
    assert facts["ServerVersion"] == tls_daemon.facts["version"]
    assert facts["Images"] == 1  # busybox only


def test_tls_daemon_runs_a_classic_build(tls_daemon: Endpoint) -> None:
    done = classic_build(tls_daemon, "FROM busybox\nRUN echo built-over-tls\n")
    assert done.returncode == 0, done.stderr
    assert "built-over-tls" in done.stdout
    assert re.search(r"^Successfully built [0-9a-f]{12}$", done.stdout, re.MULTILINE)


def test_tls_daemon_refuses_a_wrong_ca_and_an_unknown_client(tls_daemon: Endpoint) -> None:
    certs = daemons.Certs(Path(tls_daemon.facts["certs"]))
    for folder, message in (
        (certs.wrong_ca, "certificate signed by unknown authority"),
        (certs.untrusted_client, "tls: "),
    ):
        env = tls_daemon.client_env(DOCKER_CERT_PATH=str(folder))
        done = main_docker("version", "--format", "{{.Server.Version}}", env=env)
        assert done.returncode != 0
        assert message in done.stderr, done.stderr
    plain = {**daemons.base_env(), "DOCKER_HOST": tls_daemon.host}
    done = main_docker("version", "--format", "{{.Server.Version}}", env=plain)
    assert done.returncode != 0  # no client certificate, no TLS: refused


def test_tls_context_reaches_the_tls_daemon(tls_context: Endpoint, tls_daemon: Endpoint) -> None:
    assert set(tls_context.env) == {"DOCKER_CONFIG"}  # no DOCKER_HOST: the context decides
    current = tls_context.docker("context", "show").stdout.strip()
    assert current == tls_context.facts["name"]
    inspect = json.loads(tls_context.docker("context", "inspect", current).stdout)[0]
    assert inspect["Endpoints"]["docker"]["Host"] == tls_daemon.host
    assert inspect["TLSMaterial"]["docker"] == ["ca.pem", "cert.pem", "key.pem"]
    ours = tls_daemon.docker("info", "--format", "{{.ID}}").stdout
    assert tls_context.docker("info", "--format", "{{.ID}}").stdout == ours


# --- Plain TCP on 2375 ---------------------------------------------------------------------


def test_tcp_daemon_answers_without_authentication(tcp_daemon: Endpoint) -> None:
    assert set(tcp_daemon.env) == {"DOCKER_HOST"}
    assert tcp_daemon.host.startswith("tcp://127.0.0.1:")
    done = tcp_daemon.docker("run", "--rm", "busybox", "true", check=False)
    assert done.returncode == 0, done.stderr
    log = (tcp_daemon.folder / "dockerd.log").read_text()
    assert "Binding to IP address without --tlsverify is insecure" in log


# --- crun as the default runtime -----------------------------------------------------------


def test_crun_daemon_runs_containers_on_crun(crun_daemon: Endpoint) -> None:
    assert crun_daemon.docker("info", "--format", "{{.DefaultRuntime}}").stdout.strip() == "crun"
    name = f"dbugbuild-test-crun-{os.getpid()}"
    done = crun_daemon.docker("run", "--name", name, "busybox", "sh", "-c", "echo on-crun")
    assert done.stdout == "on-crun\n"
    container = crun_daemon.docker("inspect", "--format", "{{.Id}} {{.HostConfig.Runtime}}", name)
    container_id, runtime = container.stdout.split()
    crun_daemon.docker("rm", name)
    assert runtime == "crun"
    calls = Path(crun_daemon.facts["runtime_log"]).read_text()
    assert re.search(rf"\bcreate --bundle \S+ --pid-file \S+ {container_id}$", calls, re.M)


def test_crun_daemon_execs_and_builds(crun_daemon: Endpoint) -> None:
    name = f"dbugbuild-test-crun-exec-{os.getpid()}"
    crun_daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "30")
    try:
        done = crun_daemon.docker("exec", name, "id", "-u")
        assert done.stdout == "0\n"
    finally:
        crun_daemon.docker("rm", "-f", name)
    built = classic_build(crun_daemon, "FROM busybox\nRUN echo built-on-crun\nRUN exit 7\n")
    assert built.returncode == 7
    assert "built-on-crun" in built.stdout


# --- containerd image store ----------------------------------------------------------------


def test_containerd_daemon_prints_manifest_digests(containerd_daemon: Endpoint) -> None:
    info = json.loads(containerd_daemon.docker("info", "--format", "{{json .}}").stdout)
    assert dict(info["DriverStatus"])["driver-type"] == "io.containerd.snapshotter.v1"
    built = classic_build(containerd_daemon, "FROM busybox\nRUN echo on-containerd\n")
    assert built.returncode == 0, built.stderr
    from_id = re.search(r"^Step 1/2 : FROM busybox\n ---> ([0-9a-f]{12})$", built.stdout, re.M)
    assert from_id is not None, built.stdout
    here = containerd_daemon.docker("image", "inspect", "--format", "{{.Id}}", "busybox")
    main = main_docker("image", "inspect", "--format", "{{.Id}}", "busybox")
    # Same image, loaded with docker save | docker load: another id on this store.
    assert here.stdout[7:19] == from_id.group(1)
    assert main.stdout[7:19] != from_id.group(1)
    built_id = re.search(r"^Successfully built ([0-9a-f]{12})$", built.stdout, re.M)
    assert built_id is not None
    done = containerd_daemon.docker("run", "--rm", built_id.group(1), "true", check=False)
    assert done.returncode == 0, done.stderr


# --- ssh:// to the main daemon -------------------------------------------------------------


def test_ssh_endpoint_reaches_the_main_daemon(ssh_endpoint: Endpoint) -> None:
    assert ssh_endpoint.host == f"ssh://root@127.0.0.1:{ssh_endpoint.facts['port']}"
    through_ssh = ssh_endpoint.docker("info", "--format", "{{.ID}}").stdout
    assert through_ssh == main_docker("info", "--format", "{{.ID}}").stdout


def test_ssh_endpoint_needs_its_private_key_and_known_hosts(ssh_endpoint: Endpoint) -> None:
    # The machine's own ssh configuration knows neither the key nor the host key.
    env = {**daemons.base_env(), "DOCKER_HOST": ssh_endpoint.host}
    done = main_docker(
        "-l", "error", "info", "--format", "{{.ID}}", env={**env, "SSH_AUTH_SOCK": ""}
    )
    assert done.returncode != 0
    assert re.search(r"Host key verification failed|Permission denied", done.stderr), done.stderr


# --- The private registry ------------------------------------------------------------------


def test_registry_serves_busybox_to_a_logged_in_client(registry: Endpoint) -> None:
    image = registry.facts["images"][0]
    assert image == f"{registry.facts['address']}/busybox"
    auths = json.loads(Path(registry.facts["config"], "config.json").read_text())["auths"]
    assert list(auths) == [registry.facts["address"]]
    assert registry.facts["password"] not in json.dumps(auths)  # base64 of user:password
    pulled = main_docker("pull", "-q", image, env=registry.client_env())
    try:
        assert pulled.returncode == 0, pulled.stderr
    finally:
        main_docker("rmi", image)  # untag: busybox:latest keeps the image


def test_registry_refuses_an_anonymous_client(registry: Endpoint) -> None:
    anonymous = registry.client_env(DOCKER_CONFIG=registry.facts["anonymous_config"])
    done = main_docker("pull", "-q", registry.facts["images"][0], env=anonymous)
    assert done.returncode != 0
    assert "no basic auth credentials" in done.stderr, done.stderr


def test_registry_speaks_tls_with_its_ca(registry: Endpoint) -> None:
    ca = Path(daemons.CERTS_D, registry.facts["address"], "ca.crt")
    assert ca.read_text() == Path(registry.facts["ca"]).read_text()
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            registry.facts["address"],
            "-CAfile",
            str(ca),
            "-verify_return_error",
            "-brief",
        ],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stderr


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    names = {line.split(": ")[1].split("@")[0] for line in out.stdout.splitlines()}
    # Ours and the main daemon's bridge; veths of other people's containers come and go.
    return {name for name in names if name == "docker0" or name.startswith("dbt")}


# --- Nothing left behind -------------------------------------------------------------------


def test_fixtures_leave_nothing_behind() -> None:
    endpoint = daemons.start_registry()
    pid = endpoint.cleanup.pids[0]
    ca = Path(daemons.CERTS_D, endpoint.facts["address"], "ca.crt")
    assert ca.exists() and endpoint.folder.exists()
    endpoint.stop()
    assert not ca.exists() and not ca.parent.exists()
    assert not endpoint.folder.exists()
    assert not Path(f"/proc/{pid}").exists()

    links_before = _links()
    dockerd = daemons.start_dockerd("leak-check")
    pids, bridge = list(dockerd.cleanup.pids), dockerd.cleanup.links[0]
    assert len(pids) == 2  # containerd, then dockerd
    assert bridge in _links()
    # The main daemon's bridge survives a second daemon (`--bridge none` deleted it).
    assert ("docker0" in _links()) == ("docker0" in links_before)
    dockerd.stop()
    assert _links() == links_before
    assert not dockerd.folder.exists()
    assert not any(Path(f"/proc/{p}").exists() for p in pids)
    assert str(dockerd.folder) not in Path("/proc/self/mountinfo").read_text()

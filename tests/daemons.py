"""Second Docker daemons, an sshd and a private registry on loopback, for endpoint tests.

Each server gets folders of its own under /run/dbugbuild-test/ (data-root, exec-root,
pidfile, socket, containerd namespaces, config file, certificates, logs), starts in a
few seconds, and is stopped and removed when the fixture ends: processes stopped,
folders removed, the registry's CA file under /etc/docker/certs.d removed. The
machine's main daemon, its /etc/docker/daemon.json and its sshd are never touched.

Fixtures (module scope; a test module imports the ones it uses, e.g.
`from daemons import tls_daemon`, and marks its tests `docker`):

    tls_daemon        Dockerd with --tlsverify on tcp://127.0.0.1:2376 (another port if
                      that one is taken); `.certs` has client/, wrong-ca/, untrusted-client/
                      folders in DOCKER_CERT_PATH layout (ca.pem, cert.pem, key.pem)
    tcp_daemon        Dockerd on plain tcp://127.0.0.1:2375
    crun_daemon       Dockerd on a unix socket whose default runtime is crun
    containerd_daemon Dockerd on a unix socket with the containerd image store
    ssh_endpoint      Sshd on 127.0.0.1:<port>: `ssh://root@127.0.0.1:<port>` reaches the
                      MAIN daemon through `docker system dial-stdio`
    registry          Distribution 2.8 on 127.0.0.1:5000 with TLS and htpasswd, holding
                      busybox as 127.0.0.1:5000/busybox; `.config` is a DOCKER_CONFIG
                      folder with the `docker login`, `.anonymous_config` one without
    tls_context       `docker context create` (TLS) pointing at tls_daemon, in a private
                      DOCKER_CONFIG folder whose current context it is

Every object has `.env`: the variables a client needs (DOCKER_HOST, DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH, DOCKER_CONFIG, HOME, PATH...), and `.client_env()`: os.environ with
every DOCKER_* variable replaced by those, ready for subprocess or dbugbuild's Console.
`.docker(*args)` runs the docker CLI against it.

Manual use (the server stays up until `down`; its state is in /run/dbugbuild-test/KIND.json):

    python tests/daemons.py up KIND [--image REF]...    # KIND: tls tcp crun containerd ssh registry
    python tests/daemons.py down KIND

`up containerd` listens on unix:///run/dbugbuild-test/ctrd.sock (tests/record_fixtures.py
--host records there). Busybox (and only what `--image` adds) is loaded into a second
daemon with `docker save | docker -H ... load`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path("/run/dbugbuild-test")
CERTS_D = Path("/etc/docker/certs.d")
BUSYBOX = "busybox:latest"
_DOCKER_VARS = (
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_API_VERSION",
)


class Unavailable(Exception):
    """What a server needs is missing here (not root, a tool not installed)."""


# --- What every server leaves behind, as data (so `down` can undo an `up`) -----------------


@dataclass
class Cleanup:
    """Processes to stop, then paths to remove, in that order; serialisable."""

    pids: list[int] = field(default_factory=list)
    trees: list[str] = field(default_factory=list)  # folders removed with what is in them
    files: list[str] = field(default_factory=list)
    empty_dirs: list[str] = field(default_factory=list)  # removed if empty, deepest first
    links: list[str] = field(default_factory=list)  # network interfaces we created

    def run(self) -> None:
        for pid in reversed(self.pids):
            _stop(pid)
        for tree in self.trees:
            _unmount_under(Path(tree))
            shutil.rmtree(tree, ignore_errors=True)
        for name in self.files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        for name in self.empty_dirs:
            with contextlib.suppress(OSError):
                os.rmdir(name)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        self.pids, self.trees, self.files, self.empty_dirs, self.links = [], [], [], [], []


# The servers this process started, so that they are reaped through their Popen (which
# would otherwise warn that they are "still running" when garbage-collected).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our child, now reaped
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _stop(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM (dockerd then stops its containerd and unmounts), SIGKILL if it hangs."""
    if not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)


def _unmount_under(folder: Path) -> None:
    """Lazily unmount what a killed daemon may have left mounted below `folder`."""
    prefix = str(folder.resolve()) + "/"
    points = [
        line.split()[4].replace("\\040", " ")
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


# --- Small helpers -------------------------------------------------------------------------


def _need(*tools: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable("second daemons need root")
    missing = [t for t in tools if shutil.which(t) is None and not Path(t).exists()]
    if missing:
        raise Unavailable(f"missing {', '.join(missing)}: run scripts/setup-test-tools.sh")


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _port(preferred: int) -> int:
    """`preferred` if nothing listens there on 127.0.0.1, else a free one."""
    for candidate in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(ready: Callable[[], bool], what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s; its log ends:\n{tail}")


def _folder(kind: str) -> Path:
    ROOT.mkdir(mode=0o755, exist_ok=True)
    while True:
        # Short (a containerd socket below it must fit in 108 bytes) and a valid containerd
        # namespace once prefixed: letters, digits and single dashes.
        folder = ROOT / f"{kind}-{secrets.token_hex(4)}"
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
            return folder


def _spawn(argv: list[str], log: Path) -> int:
    with log.open("ab") as out:
        # Own session: a manual `up` outlives this process; Ctrl-C in a test run reaches
        # pytest, whose fixture teardown stops the server.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    return process.pid


def base_env() -> dict[str, str]:
    """os.environ without the variables that choose a Docker endpoint."""
    return {k: v for k, v in os.environ.items() if k not in _DOCKER_VARS}


@dataclass
class Endpoint:
    """Something a docker client can be pointed at."""

    kind: str
    host: str
    env: dict[str, str]
    folder: Path
    cleanup: Cleanup
    facts: dict[str, Any] = field(default_factory=dict)

    def client_env(self, **extra: str) -> dict[str, str]:
        return {**base_env(), **self.env, **extra}

    def docker(
        self, *args: str, check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            check=False,
            env=self.client_env(),
            **kwargs,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} on {self.host}: {done.stderr.strip()}")
        return done

    def stop(self) -> None:
        self.cleanup.run()

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "host": self.host,
            "env": self.env,
            "folder": str(self.folder),
            "facts": self.facts,
            "cleanup": self.cleanup.__dict__,
        }


# --- Certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    """A CA, a server certificate for 127.0.0.1/localhost, and client material.

    client/            DOCKER_CERT_PATH that the TLS daemon accepts
    wrong-ca/          the right client certificate, but ca.pem is ANOTHER CA: the client
                       refuses the daemon's certificate
    untrusted-client/  the right ca.pem, but a client certificate of the other CA: the
                       daemon refuses the client
    server/            ca.pem, cert.pem, key.pem of the server side
    """

    folder: Path

    @property
    def client(self) -> Path:
        return self.folder / "client"

    @property
    def wrong_ca(self) -> Path:
        return self.folder / "wrong-ca"

    @property
    def untrusted_client(self) -> Path:
        return self.folder / "untrusted-client"

    @property
    def server(self) -> Path:
        return self.folder / "server"


def _openssl(*args: str, cwd: Path) -> None:
    _run(["openssl", *args], cwd=cwd)


def make_certs(folder: Path) -> Certs:
    """Make the certificates with openssl (EC P-256: fast) into `folder`."""
    work = folder / "work"
    work.mkdir(parents=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            *key,
            "-keyout",
            f"{ca}-key.pem",
            "-out",
            f"{ca}.pem",
            "-days",
            "2",
            "-subj",
            f"/CN=dbugbuild-test {ca}",
            cwd=work,
        )
    (work / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    (work / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (
        ("server", "ca", "server.ext"),
        ("client", "ca", "client.ext"),
        ("other-client", "other-ca", "client.ext"),
    ):
        _openssl(
            "req",
            *key,
            "-keyout",
            f"{name}-key.pem",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN=dbugbuild-test {name}",
            cwd=work,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            f"{ca}.pem",
            "-CAkey",
            f"{ca}-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            ext,
            "-out",
            f"{name}.pem",
            cwd=work,
        )
    layout = {
        "server": ("ca.pem", "server.pem", "server-key.pem"),
        "client": ("ca.pem", "client.pem", "client-key.pem"),
        "wrong-ca": ("other-ca.pem", "client.pem", "client-key.pem"),
        "untrusted-client": ("ca.pem", "other-client.pem", "other-client-key.pem"),
    }
    for target, (ca, cert, key_file) in layout.items():
        (folder / target).mkdir()
        for source, name in ((ca, "ca.pem"), (cert, "cert.pem"), (key_file, "key.pem")):
            shutil.copyfile(work / source, folder / target / name)
        os.chmod(folder / target / "key.pem", 0o600)
    return Certs(folder)


# --- Second dockerd ------------------------------------------------------------------------

# Bookworm's crun 1.8.1 cannot run what Engine 26 hands it on this machine: it refuses the
# OCI runtime spec version 1.2 ("unknown version specified") and hybrid cgroups whose v2
# hierarchy has a controller ("cgroups in hybrid mode not supported", crun's
# libcrun/cgroup.c). The wrapper, a test fixture only, writes ociVersion 1.1.0 into the
# bundle and runs crun in a private mount namespace where the v2 hierarchy is an empty
# tmpfs, so crun sees plain cgroup v1. Everything else is crun's own work; each call is
# logged, so a test can prove that crun ran its container.
_CRUN_WRAPPER = """\
#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(" ".join(args) + "\\n")
for flag, value in zip(args, args[1:]):
    if flag in ("--bundle", "-b"):
        path = os.path.join(value, "config.json")
        with open(path) as f:
            spec = json.load(f)
        if spec.get("ociVersion", "").startswith("1.2"):
            spec["ociVersion"] = "1.1.0"
            with open(path, "w") as f:
                json.dump(spec, f)
hide = "[ -d /sys/fs/cgroup/unified ] && mount -t tmpfs dbugbuild-no-cgroup2 /sys/fs/cgroup/unified"
os.execv("/usr/bin/unshare", ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         hide + '; exec /usr/bin/crun "$@"', "crun", *args])
"""


def _private_bridge(cleanup: Cleanup) -> str:
    """A bridge of this daemon's own, with a free 10.x.y.0/24, for `dockerd -b`.

    NOT `--bridge none`: a dockerd started with it deletes the interface `docker0`
    (moby daemon/daemon_unix.go, removeDefaultBridgeInterface), which is the MAIN
    daemon's bridge on this machine, and every container it starts then fails with
    "adding interface veth... to bridge docker0 failed: Device does not exist".
    """
    routes = _run(["ip", "-4", "route", "show"]).stdout
    for _ in range(50):
        name = f"dbt{secrets.token_hex(4)}"  # at most 15 characters
        subnet = f"10.{secrets.randbelow(50) + 200}.{secrets.randbelow(256)}"
        if f"{subnet}." not in routes:
            break
    else:
        raise RuntimeError("no free 10.x.y.0/24 for a private bridge")
    _run(["ip", "link", "add", name, "type", "bridge"])
    cleanup.links.append(name)
    _run(["ip", "addr", "add", f"{subnet}.1/24", "dev", name])
    _run(["ip", "link", "set", name, "up"])
    return name


def start_dockerd(
    kind: str,
    *,
    tls: bool = False,
    tcp_port: int | None = None,
    socket_path: Path | None = None,
    config: dict[str, Any] | None = None,
    runtime: str | None = None,
    images: tuple[str, ...] = (BUSYBOX,),
) -> Endpoint:
    """Start a dockerd of its own on loopback; load `images` into it from the main daemon."""
    _need("dockerd", "docker", "ip", *(["openssl"] if tls else []), *(["crun"] if runtime else []))
    folder = _folder(kind)
    cleanup = Cleanup(trees=[str(folder)])
    try:
        bridge = _private_bridge(cleanup)
    except BaseException:
        cleanup.run()
        raise
    namespace = f"dbugbuild-{folder.name}"
    log = folder / "dockerd.log"
    (folder / "daemon.json").write_text(json.dumps(config or {}))
    argv = [
        "dockerd",
        "--config-file",
        str(folder / "daemon.json"),
        "--data-root",
        str(folder / "data"),
        "--exec-root",
        str(folder / "x"),
        "--pidfile",
        str(folder / "dockerd.pid"),
        "--containerd-namespace",
        namespace,
        "--containerd-plugins-namespace",
        f"{namespace}-plugins",
        # The main daemon owns docker0 and the iptables rules: this one gets a bridge of
        # its own (see _private_bridge) and leaves iptables alone.
        "--bridge",
        bridge,
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
    ]
    env: dict[str, str] = {}
    facts: dict[str, Any] = {}
    if tcp_port is not None:
        port = _port(tcp_port)
        host = f"tcp://127.0.0.1:{port}"
        facts["port"] = port
    else:
        host = f"unix://{socket_path or folder / 'docker.sock'}"
    argv += ["-H", host]
    env["DOCKER_HOST"] = host
    if tls:
        certs = make_certs(folder / "certs")
        server = certs.server
        argv += [
            "--tlsverify",
            "--tlscacert",
            str(server / "ca.pem"),
            "--tlscert",
            str(server / "cert.pem"),
            "--tlskey",
            str(server / "key.pem"),
        ]
        env["DOCKER_TLS_VERIFY"] = "1"
        env["DOCKER_CERT_PATH"] = str(certs.client)
        facts["certs"] = str(certs.folder)
    if runtime == "crun":
        wrapper = folder / "crun"
        facts["runtime_log"] = str(folder / "crun-calls.log")
        wrapper.write_text(_CRUN_WRAPPER.format(log=facts["runtime_log"]))
        wrapper.chmod(0o755)
        argv += ["--add-runtime", f"crun={wrapper}", "--default-runtime", "crun"]
    if socket_path is not None:
        cleanup.files.append(str(socket_path))
    pid = _spawn(argv, log)
    cleanup.pids.append(pid)
    endpoint = Endpoint(kind, host, env, folder, cleanup, facts)
    try:
        _wait(
            lambda: endpoint.docker("version", check=False).returncode == 0,
            f"dockerd ({kind})",
            log,
        )
        containerd_pid = folder / "x" / "containerd" / "containerd.pid"
        if containerd_pid.exists():  # stopped by dockerd; killed here only if dockerd hung
            cleanup.pids.insert(0, int(containerd_pid.read_text().strip()))
        facts["version"] = endpoint.docker(
            "version", "--format", "{{.Server.Version}}"
        ).stdout.strip()
        load_images(endpoint, *images)
    except BaseException:
        cleanup.run()
        raise
    return endpoint


def load_images(endpoint: Endpoint, *refs: str) -> None:
    """`docker save REFS | docker -H ... load` from the main daemon (nothing is pulled)."""
    if not refs:
        return
    save = subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE, env=base_env())
    load = subprocess.run(
        ["docker", "load", "-q"],
        stdin=save.stdout,
        capture_output=True,
        text=True,
        env=endpoint.client_env(),
        check=False,
    )
    assert save.stdout is not None
    save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        raise RuntimeError(f"loading {' '.join(refs)} into {endpoint.host}: {load.stderr.strip()}")


# --- sshd reaching the main daemon ---------------------------------------------------------


def start_sshd() -> Endpoint:
    """An sshd of its own on 127.0.0.1 with a key made here; ssh://root@... -> main daemon.

    Clients: the docker CLI and docker-py's `use_ssh_client=True` run the `ssh` found on
    PATH, and OpenSSH reads ~/.ssh from the passwd entry, not $HOME: `.env` puts a
    wrapper first on PATH that adds `-F <private config>`. paramiko (docker-py's default)
    reads $HOME/.ssh/config and known_hosts: `.env` sets HOME to a private home holding
    the same config, key and known_hosts.
    """
    _need("/usr/sbin/sshd", "ssh", "ssh-keygen", "docker")
    folder = _folder("ssh")
    cleanup = Cleanup(trees=[str(folder)])
    privsep = Path("/run/sshd")  # sshd refuses to start without its privilege separation dir
    if not privsep.exists():
        privsep.mkdir(mode=0o755)
        cleanup.empty_dirs.append(str(privsep))
    try:
        home = folder / "home"
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(parents=True, mode=0o700)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key")])
        _run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "dbugbuild-test",
                "-f",
                str(ssh_dir / "id_ed25519"),
            ]
        )
        shutil.copyfile(ssh_dir / "id_ed25519.pub", folder / "authorized_keys")
        port = _port(2222)
        (folder / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
            f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n"
        )
        host_key = (folder / "host_key.pub").read_text().split()
        (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        (ssh_dir / "config").write_text(
            "Host 127.0.0.1\n"
            f"  User root\n  IdentityFile {ssh_dir / 'id_ed25519'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {ssh_dir / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n"
        )
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        wrapper = bin_dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {ssh_dir / "config"} "$@"\n')
        wrapper.chmod(0o755)
        log = folder / "sshd.log"
        cleanup.pids.append(
            _spawn(["/usr/sbin/sshd", "-D", "-e", "-f", str(folder / "sshd_config")], log)
        )
        _wait(lambda: _listening(port), "sshd", log)
    except BaseException:
        cleanup.run()
        raise
    host = f"ssh://root@127.0.0.1:{port}"
    env = {
        "DOCKER_HOST": host,
        "HOME": str(home),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    facts = {
        "port": port,
        "key": str(ssh_dir / "id_ed25519"),
        "ssh_config": str(ssh_dir / "config"),
    }
    return Endpoint("ssh", host, env, folder, cleanup, facts)


# --- Private registry ----------------------------------------------------------------------


def start_registry(push: tuple[str, ...] = (BUSYBOX,)) -> Endpoint:
    """Distribution 2.8 with TLS and htpasswd on 127.0.0.1:5000, `push` pushed into it.

    The CA goes to /etc/docker/certs.d/127.0.0.1:<port>/ca.crt (read at each pull: no
    daemon restart) and is removed afterwards. The push goes through the main daemon
    with a private DOCKER_CONFIG; the temporary tag is removed right away.
    """
    _need("docker-registry", "htpasswd", "openssl", "docker")
    folder = _folder("registry")
    cleanup = Cleanup(trees=[str(folder)])
    try:
        port = _port(5000)
        address = f"127.0.0.1:{port}"
        ca_dir = CERTS_D / address
        if (ca_dir / "ca.crt").exists():
            raise RuntimeError(f"{ca_dir}/ca.crt exists and is not ours: not overwriting it")
        certs = make_certs(folder / "certs")
        user, password = "dbugbuild", secrets.token_urlsafe(18)
        htpasswd = _run(["htpasswd", "-Bbn", user, password]).stdout
        (folder / "htpasswd").write_text(htpasswd)
        (folder / "config.yml").write_text(
            json.dumps(  # YAML is a superset of JSON
                {
                    "version": "0.1",
                    "log": {"level": "warn"},
                    "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
                    "http": {
                        "addr": address,
                        "secret": secrets.token_hex(16),
                        "tls": {
                            "certificate": str(certs.server / "cert.pem"),
                            "key": str(certs.server / "key.pem"),
                        },
                    },
                    "auth": {
                        "htpasswd": {"realm": "dbugbuild-test", "path": str(folder / "htpasswd")}
                    },
                }
            )
        )
        for directory in (CERTS_D.parent, CERTS_D, ca_dir):
            if not directory.exists():
                directory.mkdir(mode=0o755)
                cleanup.empty_dirs.insert(0, str(directory))
        shutil.copyfile(certs.server / "ca.pem", ca_dir / "ca.crt")
        cleanup.files.append(str(ca_dir / "ca.crt"))
        log = folder / "registry.log"
        cleanup.pids.append(_spawn(["docker-registry", "serve", str(folder / "config.yml")], log))
        _wait(lambda: _listening(port), "docker-registry", log)
        config, anonymous = folder / "docker-config", folder / "anonymous-config"
        config.mkdir()
        anonymous.mkdir()
        main = {**base_env(), "DOCKER_CONFIG": str(config)}
        _run(["docker", "login", address, "-u", user, "--password-stdin"], input=password, env=main)
        images = []
        for ref in push:
            name = ref.split("/")[-1].split(":")[0]
            target = f"{address}/{name}:latest"
            _run(["docker", "tag", ref, target], env=main)
            try:
                _run(["docker", "push", "-q", target], env=main)
            finally:
                _run(["docker", "rmi", target], env=main)  # untag: the image stays as `ref`
            images.append(f"{address}/{name}")
    except BaseException:
        cleanup.run()
        raise
    env = {"DOCKER_CONFIG": str(config)}
    facts = {
        "address": address,
        "port": port,
        "user": user,
        "password": password,
        "ca": str(certs.server / "ca.pem"),
        "images": images,
        "config": str(config),
        "anonymous_config": str(anonymous),
    }
    return Endpoint("registry", f"https://{address}", env, folder, cleanup, facts)


# --- A TLS context -------------------------------------------------------------------------


def create_tls_context(daemon: Endpoint) -> Endpoint:
    """`docker context create` with the TLS daemon's settings, in a private DOCKER_CONFIG."""
    certs = Certs(Path(daemon.facts["certs"]))
    folder = _folder("context")
    cleanup = Cleanup(trees=[str(folder)])
    name = f"dbugbuild-test-{folder.name}"
    env = {"DOCKER_CONFIG": str(folder / "config")}
    spec = (
        f"host={daemon.host},ca={certs.client / 'ca.pem'},"
        f"cert={certs.client / 'cert.pem'},key={certs.client / 'key.pem'}"
    )
    try:
        cli = {**base_env(), **env}
        _run(["docker", "context", "create", name, "--docker", spec], env=cli)
        _run(["docker", "context", "use", name], env=cli)
    except BaseException:
        cleanup.run()
        raise
    return Endpoint(
        "context", daemon.host, env, folder, cleanup, {"name": name, "daemon": daemon.host}
    )


# --- pytest fixtures -----------------------------------------------------------------------


def _started(start: Callable[[], Endpoint]) -> Iterator[Endpoint]:
    try:
        endpoint = start()
    except Unavailable as why:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(str(why))
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture(scope="module")
def tls_daemon() -> Iterator[Endpoint]:
    yield from _started(lambda: start_dockerd("tls", tls=True, tcp_port=2376))


@pytest.fixture(scope="module")
def tcp_daemon() -> Iterator[Endpoint]:
    yield from _started(lambda: start_dockerd("tcp", tcp_port=2375))


@pytest.fixture(scope="module")
def crun_daemon() -> Iterator[Endpoint]:
    yield from _started(lambda: start_dockerd("crun", runtime="crun"))


@pytest.fixture(scope="module")
def containerd_daemon() -> Iterator[Endpoint]:
    feature = {"features": {"containerd-snapshotter": True}}
    yield from _started(lambda: start_dockerd("containerd", config=feature))


@pytest.fixture(scope="module")
def ssh_endpoint() -> Iterator[Endpoint]:
    yield from _started(start_sshd)


@pytest.fixture(scope="module")
def registry() -> Iterator[Endpoint]:
    yield from _started(start_registry)


@pytest.fixture(scope="module")
def tls_context(tls_daemon: Endpoint) -> Iterator[Endpoint]:
    yield from _started(lambda: create_tls_context(tls_daemon))


# --- Manual use ----------------------------------------------------------------------------


def _start(kind: str, images: tuple[str, ...]) -> Endpoint:
    if kind == "tls":
        return start_dockerd("tls", tls=True, tcp_port=2376, images=images)
    if kind == "tcp":
        return start_dockerd("tcp", tcp_port=2375, images=images)
    if kind == "crun":
        return start_dockerd("crun", runtime="crun", images=images)
    if kind == "containerd":
        return start_dockerd(
            "containerd",
            socket_path=ROOT / "ctrd.sock",
            config={"features": {"containerd-snapshotter": True}},
            images=images,
        )
    if kind == "ssh":
        return start_sshd()
    if kind == "registry":
        return start_registry()
    raise SystemExit(f"unknown kind {kind!r}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Start or stop a test server on loopback.")
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("kind", choices=("tls", "tcp", "crun", "containerd", "ssh", "registry"))
    parser.add_argument("--image", action="append", default=[], help="also load this image")
    options = parser.parse_args(argv)
    state = ROOT / f"{options.kind}.json"
    if options.action == "down":
        if not state.exists():
            print(f"daemons: no {options.kind} is up (no {state})", file=sys.stderr)
            return 1
        Cleanup(**json.loads(state.read_text())["cleanup"]).run()
        state.unlink()
        return 0
    if state.exists():
        print(f"daemons: {options.kind} is already up; see {state}", file=sys.stderr)
        return 1
    try:
        endpoint = _start(options.kind, (BUSYBOX, *options.image))
    except Unavailable as why:
        print(f"daemons: {why}", file=sys.stderr)
        return 1
    state.write_text(json.dumps(endpoint.state(), indent=2) + "\n")
    for name, value in endpoint.env.items():
        print(f"export {name}={value}")
    print(f"# {options.kind} is up ({state}); stop: python tests/daemons.py down {options.kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

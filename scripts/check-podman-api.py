"""Prove what the docker SDK can do against Podman's Docker-compatible API (a fact sheet).

Usage (as root, after `export CONTAINERS_CONF=$(bash scripts/setup-podman.sh)`):

    .venv/bin/python scripts/check-podman-api.py

Starts `podman system service --time=0` on a private socket under /tmp, runs each call the
Podman backend needs through docker-py (create with labels/user/workdir/env/entrypoint/network,
start, logs, wait, kill, diff, commit with changes, remove, list with label filters,
inspect_image, exec), prints one line per fact (`ok` or `GAP`), then removes everything it made
(containers and images labelled with this run's id) and stops the service on every exit path.
Also checks what `podman build` keeps with --force-rm=false and whether BUILDAH_LAYERS=false
drops the per-step ids. Exit status: 0 when every check ran (gaps are facts, not failures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

RUN = uuid.uuid4().hex[:8]
LABEL = "dbugbuild.test.podman-api"
FACTS: list[tuple[str, bool, str]] = []
PRINTED: list[str] = []  # the ids `podman build` printed (`--> <id>`): intermediate images
_ARROW = re.compile(r"^--> (?:Using cache )?([0-9a-f]{11,64})$", re.MULTILINE)


def fact(name: str, check: Callable[[], str]) -> None:
    try:
        FACTS.append((name, True, check()))
    except Exception as error:  # a gap is a fact to report, not a crash
        FACTS.append((name, False, f"{type(error).__name__}: {error}"[:300]))


def podman(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if argv[:1] == ("build",):
        PRINTED.extend(_ARROW.findall(done.stdout))
    return done


def build(context: Path, dockerfile: str, tag: str, *args: str) -> str:
    (context / "Dockerfile").write_text(dockerfile)
    done = podman("build", "--label", f"{LABEL}={RUN}", *args, "-t", tag, str(context))
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    return tag


def main() -> int:
    sock = Path(tempfile.gettempdir()) / f"dbugbuild-podman-{RUN}.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    work = Path(tempfile.mkdtemp(prefix="dbugbuild-podman-api-"))
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.1)
        client = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=60)
        checks(client, work)
    finally:
        cleanup(work)
        service.terminate()
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        sock.unlink(missing_ok=True)
    width = max(len(name) for name, _, _ in FACTS)
    for name, ok, detail in FACTS:
        print(f"{'ok ' if ok else 'GAP'} {name:<{width}}  {detail}")
    return 0


def checks(client: Any, work: Path) -> None:
    labels = {LABEL: RUN}
    fact("version", lambda: json.dumps(_version(client)))
    fact("rootful default socket /run/podman/podman.sock", _default_socket)

    # Images built by podman: is SHELL kept in the image config?
    (work / "oci").mkdir()
    (work / "docker").mkdir()
    env_file = (
        'FROM busybox\nSHELL ["/bin/sh", "-xc"]\nENV A=1 B="two words"\nUSER 1234\nWORKDIR /w\n'
    )
    oci = build(work / "oci", env_file, f"dbugbuild-test-podman-api-oci-{RUN}")
    dkr = build(
        work / "docker", env_file, f"dbugbuild-test-podman-api-docker-{RUN}", "--format", "docker"
    )

    def config(tag: str) -> str:
        c = client.api.inspect_image(tag)["Config"]
        got = {k: c.get(k) for k in ("Env", "User", "WorkingDir", "Shell")}
        shells = [h["CreatedBy"] for h in client.api.history(tag) if "SHELL" in h["CreatedBy"]]
        native = json.loads(podman("image", "inspect", tag).stdout)[0]
        got["history's SHELL"] = shells
        got["podman image inspect .ManifestType"] = native.get("ManifestType")
        return json.dumps(got)

    fact("inspect_image Config, OCI format (podman's default)", lambda: config(oci))
    fact("inspect_image Config, --format docker", lambda: config(dkr))

    # create with everything the debug session sets
    def create() -> str:
        c = client.containers.create(
            "busybox:latest",
            command=["-c", 'echo "hi $A from $(pwd) as $(id -u)"; touch /tmp/made; ls /nope'],
            entrypoint=["/bin/sh"],
            labels=labels,
            user="1234",
            working_dir="/tmp",
            environment={"A": "x y"},
            network_mode="none",
            name=f"dbugbuild-test-podman-api-{RUN}",
        )
        a = client.api.inspect_container(c.id)
        got = {
            "Labels": a["Config"]["Labels"],
            "User": a["Config"]["User"],
            "WorkingDir": a["Config"]["WorkingDir"],
            "Entrypoint": a["Config"]["Entrypoint"],
            "Cmd": a["Config"]["Cmd"],
            "Env has A": "A=x y" in a["Config"]["Env"],
            "NetworkMode": a["HostConfig"]["NetworkMode"],
        }
        return f"{c.id[:12]} {json.dumps(got)}"

    fact(
        "containers.create(labels, user, working_dir, environment, entrypoint, network_mode)",
        create,
    )
    name = f"dbugbuild-test-podman-api-{RUN}"

    def start_logs_wait() -> str:
        c = client.containers.get(name)
        c.start()
        lines = b"".join(c.logs(stream=True, follow=True, stdout=True, stderr=True))
        status = c.wait(timeout=60)
        return f"logs={lines!r} wait={status}"

    fact("start, logs(stream=True, follow=True), wait", start_logs_wait)
    fact("diff", lambda: json.dumps(client.containers.get(name).diff()))

    def commit() -> str:
        c = client.containers.get(name)
        image = c.commit(
            repository=f"dbugbuild-test-podman-api-commit-{RUN}",
            changes=[f"LABEL {LABEL}={RUN}", 'LABEL committed="yes"'],
        )
        got = client.api.inspect_image(image.id)["Config"].get("Labels")
        return f"{image.id[:19]} labels={got}"

    fact('commit(changes=["LABEL ..."])', commit)

    def commit_conf() -> str:
        c = client.containers.get(name)
        image = c.commit(
            repository=f"dbugbuild-test-podman-api-commit2-{RUN}",
            conf={"Labels": {LABEL: RUN, "via": "conf"}},
        )
        return f"labels={client.api.inspect_image(image.id)['Config'].get('Labels')}"

    fact('commit(conf={"Labels": ...})', commit_conf)

    def lists() -> str:
        ctrs = client.containers.list(all=True, filters={"label": f"{LABEL}={RUN}"})
        imgs = client.images.list(filters={"label": f"{LABEL}={RUN}"})
        tags = sorted(t for i in imgs for t in i.tags)
        return f"containers={[c.name for c in ctrs]} images={tags}"

    fact("containers.list / images.list with label filters", lists)

    def kill() -> str:
        c = client.containers.run(
            "busybox:latest", ["sleep", "300"], detach=True, labels=labels, network_mode="none"
        )
        c.kill()
        return f"wait after kill={c.wait(timeout=30)}"

    fact("kill (SIGKILL), then wait", kill)

    def kill_term() -> str:
        trap = 'trap "echo got TERM; exit 143" TERM; sleep 300 & wait'
        c = client.containers.run(
            "busybox:latest", ["sh", "-c", trap], detach=True, labels=labels, network_mode="none"
        )
        time.sleep(1)  # let the shell set its trap
        c.kill(signal="SIGTERM")
        return f"wait after SIGTERM={c.wait(timeout=30)} logs={c.logs()!r}"

    fact("kill(signal='SIGTERM') to a shell that traps it, then wait", kill_term)

    def exec_() -> str:
        c = client.containers.run(
            "busybox:latest", ["sleep", "300"], detach=True, labels=labels, network_mode="none"
        )
        ex = client.api.exec_create(
            c.id,
            ["sh", "-c", "echo in exec $B; pwd; exit 3"],
            environment={"B": "b"},
            workdir="/tmp",
            user="1234",
        )
        out = client.api.exec_start(ex["Id"])
        code = client.api.exec_inspect(ex["Id"])["ExitCode"]
        c.remove(force=True)
        return f"output={out!r} exit={code}"

    fact("exec_create(environment, workdir, user) / exec_start / exec_inspect", exec_)

    def tty_exec_socket() -> str:
        c = client.containers.run(
            "busybox:latest", ["sleep", "300"], detach=True, labels=labels, network_mode="none"
        )
        ex = client.api.exec_create(c.id, ["sh", "-c", "read x; echo got $x"], stdin=True, tty=True)
        sock = client.api.exec_start(ex["Id"], tty=True, socket=True)
        raw = getattr(sock, "_sock", sock)
        raw.sendall(b"hello\n")
        time.sleep(1)
        data = raw.recv(4096)
        c.remove(force=True)
        return f"interactive exec over the socket: {data!r}"

    fact("exec_start(socket=True, tty=True) interactive", tty_exec_socket)

    def remove() -> str:
        c = client.containers.get(name)
        c.remove(v=True, force=True)
        left = client.containers.list(all=True, filters={"name": name})
        return f"left={left}"

    fact("remove(v=True, force=True)", remove)
    fact("force-rm=false keeps the failed build container", lambda: _kept_container(client, work))
    fact("BUILDAH_LAYERS=false drops the per-step ids", lambda: _layers_env(work))


def _version(client: Any) -> dict[str, Any]:
    v = client.version()
    return {
        "ApiVersion": v.get("ApiVersion"),
        "Version": v.get("Version"),
        "Components": [c.get("Name") for c in v.get("Components", [])],
    }


def _default_socket() -> str:
    path = Path("/run/podman/podman.sock")
    if path.exists():
        return "present"
    raise FileNotFoundError(f"{path} does not exist (no systemd podman.socket here)")


def _kept_container(client: Any, work: Path) -> str:
    ctx = work / "kept"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nENV KEPT=yes\nWORKDIR /kept\nUSER 1234\n"
        "RUN echo partial > /tmp/p && exit 9\n"
    )
    before = set(podman("ps", "-a", "--external", "-q", "--no-trunc").stdout.split())
    out = podman("build", "--force-rm=false", "--label", f"{LABEL}={RUN}", str(ctx))
    after = podman(
        "ps", "-a", "--external", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}"
    ).stdout.splitlines()
    new = [line for line in after if line.split()[0] not in before]
    details = []
    for line in new:
        cid, cname = line.split()[:2]
        meta = Path(f"/var/lib/containers/storage/overlay-containers/{cid}/userdata/buildah.json")
        config = json.loads(meta.read_text())["docker"]["config"] if meta.exists() else {}
        inspect = podman("container", "inspect", cid)
        api_seen = any(c.id == cid for c in client.containers.list(all=True))
        details.append(
            {
                "name": cname,
                "Env": config.get("Env"),
                "User": config.get("User"),
                "WorkingDir": config.get("WorkingDir"),
                "podman container inspect": "works" if inspect.returncode == 0 else "fails",
                "in the compat API's container list": api_seen,
                "partial file in its rootfs": _partial(cid),
            }
        )
        podman("rm", "-f", cid)
    # the build's own images (labelled) go in cleanup()
    return f"exit={out.returncode} kept={json.dumps(details)}"


def _partial(cid: str) -> str:
    done = podman("mount", cid)
    if done.returncode != 0:
        return f"podman mount fails: {done.stderr.strip()[:80]}"
    root = Path(done.stdout.strip())
    found = (root / "tmp" / "p").exists()
    podman("umount", cid)
    return f"podman mount works; /tmp/p present={found}"


def _layers_env(work: Path) -> str:
    ctx = work / "layers"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV A=1\nRUN true\nRUN exit 4\n")
    out = podman("build", "--label", f"{LABEL}={RUN}", str(ctx), env={"BUILDAH_LAYERS": "false"})
    arrows = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("-->")]
    return f"exit={out.returncode} '-->' lines={arrows}"


def cleanup(work: Path) -> None:
    ids = podman("ps", "-a", "-q", "--filter", f"label={LABEL}={RUN}").stdout.split()
    if ids:
        podman("rm", "-f", *ids)
    for _ in range(3):  # children first: repeat until no labelled image is left
        images = podman("images", "-a", "-q", "--filter", f"label={LABEL}={RUN}").stdout.split()
        tags = [
            t
            for t in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
            if RUN in t
        ]
        if not images and not tags:
            break
        podman("rmi", *tags, *images)
    for image in reversed(PRINTED):  # what failed builds left: no label reached them
        podman("rmi", image)
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())

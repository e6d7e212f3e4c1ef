"""The daemon's own storage and runtime, whatever they are: a dockerd with the containerd image
store (Engine 29's default: every id is a manifest digest) and one whose default runtime is
crun. Each gets a real failing build with --exec, and a debug session (its commands execs in
its container, which a commit then turns into an image read back by its id).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import own_label, run_cli
from daemons import Endpoint, containerd_daemon, crun_daemon
from dbugbuild.debug import stepenv
from dbugbuild.debug.workspace import Workspace
from dbugbuild.engine import Engine
from dbugbuild.options import RUN_LABELS
from scenarios import CTRL_U, ENTER, Scenario, expect, play_in_process, send

pytestmark = pytest.mark.docker

__all__ = ["containerd_daemon", "crun_daemon"]  # fixtures, by name

FAILING = "FROM busybox\nWORKDIR /work\nRUN echo made > made\nRUN cat missing-file\n"
SESSION = Scenario(
    name="runtime-session",
    dockerfile=FAILING,
    steps=[
        expect(r"dbugbuild> cat missing-file"),
        send(CTRL_U + "echo fixed > missing-file" + ENTER),
        expect(r"exit code 0 "),
        send(CTRL_U + ":diff" + ENTER),
        expect(r"A /work/missing-file\n"),  # the session container's diff
        send(CTRL_U + "cat missing-file made" + ENTER),
        expect(r"fixed\nmade\n"),
        send(CTRL_U + ":reset" + ENTER),
        expect(r"back to the last good layer"),
        send(CTRL_U + "cat missing-file" + ENTER),
        expect(r"exit code 1 "),
        send(CTRL_U + ":quit" + ENTER),
    ],
    exit_code=1,
    args=("--no-cache",),
)


def _docker(endpoint: Endpoint, *args: str) -> str:
    return endpoint.docker(*args).stdout


def _ours(endpoint: Endpoint) -> list[str]:
    label = f"label={own_label()}"
    return [
        *_docker(endpoint, "ps", "-aq", "--filter", label).split(),
        *_docker(endpoint, "images", "-aq", "--filter", label).split(),
    ]


def _exec_report(endpoint: Endpoint, tmp_path: Path) -> dict[str, object]:
    (tmp_path / "Dockerfile").write_text(FAILING)
    run = run_cli(
        ["--no-cache", "--format", "json", "--exec", "cat made", "--exec", "ls -d /work", "."],
        tmp_path,
        env=endpoint.client_env(),
    )
    assert run.code == 0, run.stderr
    report = run.json()
    assert isinstance(report, dict)
    assert [e["output"] for e in report["exec"]] == ["made\n", "/work\n"]
    assert _ours(endpoint) == []
    container = report["failed_container"]
    assert endpoint.docker("container", "inspect", container, check=False).returncode != 0
    return report


# --- The containerd image store ------------------------------------------------------------


def test_runtime_containerd_store_ids_everywhere(
    containerd_daemon: Endpoint, tmp_path: Path
) -> None:
    report = _exec_report(containerd_daemon, tmp_path)
    steps = report["steps"]
    assert isinstance(steps, list)
    # Every id in the report is the first 12 hex digits of the daemon's own id (a manifest
    # digest here), so `docker image inspect` of the short id is that image.
    base = _docker(containerd_daemon, "image", "inspect", "--format", "{{.Id}}", "busybox")
    assert steps[0]["image"] == base.strip()[7:19]
    last_good = report["last_good_image"]
    assert isinstance(last_good, str) and re.fullmatch(r"[0-9a-f]{12}", last_good)
    assert last_good == steps[2]["image"]
    full = _docker(containerd_daemon, "image", "inspect", "--format", "{{.Id}}", last_good)
    assert full.strip().startswith(f"sha256:{last_good}")
    parent = _docker(containerd_daemon, "image", "inspect", "--format", "{{.Parent}}", last_good)
    assert parent.strip().startswith(f"sha256:{steps[1]['image']}")
    info = _docker(containerd_daemon, "info", "--format", "{{json .DriverStatus}}")
    assert "io.containerd.snapshotter.v1" in info  # the store really is containerd's


def test_runtime_containerd_store_session(containerd_daemon: Endpoint, tmp_path: Path) -> None:
    play_in_process(SESSION, _workdir(tmp_path), env=containerd_daemon.client_env())
    assert _ours(containerd_daemon) == []


def test_runtime_containerd_store_commits_by_id(containerd_daemon: Endpoint) -> None:
    """What needs an image of a session's state gets a commit whose id (a manifest digest in
    this store) the daemon's own calls take back; close() removes it."""
    env = {**containerd_daemon.client_env(), RUN_LABELS: own_label()}
    engine = Engine.connect(env)
    try:
        base = engine.image_id("busybox")
        assert base is not None
        config = engine.image_config(base) or {}
        workspace = Workspace(engine, stepenv.reconstruct(base, config, None, (), None), "rt-ids")
        assert workspace.run(("/bin/sh", "-c", "echo made > /made")).exit_code == 0
        image = workspace.image()
        assert image != base and engine.image_id(image) == image
        shown = _docker(containerd_daemon, "run", "--rm", image, "cat", "/made")
        assert shown == "made\n"
        workspace.close()
        assert _ours(containerd_daemon) == []
    finally:
        engine.close()


# --- crun as the default runtime -----------------------------------------------------------


def _crun_created(endpoint: Endpoint) -> set[str]:
    calls = Path(endpoint.facts["runtime_log"]).read_text()
    return set(re.findall(r"\bcreate --bundle \S+ --pid-file \S+ ([0-9a-f]{64})$", calls, re.M))


def _crun_execs(endpoint: Endpoint) -> list[str]:
    """The container of every `crun exec` call, in order."""
    calls = Path(endpoint.facts["runtime_log"]).read_text()
    return re.findall(r"\sexec\s.*\s([0-9a-f]{64})$", calls, re.M)


def test_runtime_crun_exec(crun_daemon: Endpoint, tmp_path: Path) -> None:
    before, execs = _crun_created(crun_daemon), len(_crun_execs(crun_daemon))
    report = _exec_report(crun_daemon, tmp_path)
    created = _crun_created(crun_daemon) - before
    # The build's steps and the session's container ran on crun, both --exec commands as crun
    # execs in that container.
    assert str(report["failed_container"]) in {c[:12] for c in created}
    assert len(created) >= 2 + 1  # two RUN steps, the session's container
    ran_in = _crun_execs(crun_daemon)[execs:]
    assert len(ran_in) >= 2 and set(ran_in) <= created


def test_runtime_crun_session(crun_daemon: Endpoint, tmp_path: Path) -> None:
    before, execs = _crun_created(crun_daemon), len(_crun_execs(crun_daemon))
    play_in_process(SESSION, _workdir(tmp_path), env=crun_daemon.client_env())
    # Two RUN steps, the session's container and its successor after :reset; three commands.
    assert len(_crun_created(crun_daemon) - before) >= 2 + 2
    assert len(_crun_execs(crun_daemon)[execs:]) >= 3
    assert _ours(crun_daemon) == []
    runtime = _docker(crun_daemon, "info", "--format", "{{.DefaultRuntime}}")
    assert runtime.strip() == "crun"


def _workdir(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(FAILING)
    return tmp_path


def test_runtime_fixtures_are_separate_daemons(
    containerd_daemon: Endpoint, crun_daemon: Endpoint
) -> None:
    main = subprocess.run(
        ["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, check=True
    ).stdout
    ids = {main, _docker(containerd_daemon, "info", "--format", "{{.ID}}")}
    ids.add(_docker(crun_daemon, "info", "--format", "{{.ID}}"))
    assert len(ids) == 3

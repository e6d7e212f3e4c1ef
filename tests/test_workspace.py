"""The session's execution model on the real daemon: one long-lived container per session, each
command one exec in it, keeping what a RUN line promises: a new process each time, files
persist and shell state does not, what a command leaves running does not outlive it, Ctrl-C
kills the command and all it started (and only it), output streams, the exit code is exact;
a layer without `sleep` still gets its container, one without /bin/sh a container per command.
The same on Podman's Docker-compatible API (test_podman.py runs `podman_cases` there)."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from conftest import docker_api, own_label
from dbugbuild.debug import stepenv
from dbugbuild.debug.workspace import Workspace
from dbugbuild.engine import Engine
from dbugbuild.errors import NoShellError

pytestmark = pytest.mark.docker


@pytest.fixture
def daemon(engine: Engine) -> Iterator[Engine]:
    """An engine that labels what it makes with the running test's own label."""
    del engine  # the session's fixture: its clean-up of test images
    eng = Engine.connect(dict(os.environ))
    try:
        yield eng
    finally:
        eng.close()


def workspace_of(
    engine: Engine,
    image: str,
    user: str = "",
    workdir: str = "/",
    shell: tuple[str, ...] = ("/bin/sh", "-c"),
) -> Workspace:
    config = engine.image_config(image) or {}
    env = stepenv.reconstruct(image, config, None, (), None)
    env = replace(env, user=user or env.user, workdir=workdir, shell=shell)
    workspace = Workspace(engine, env, uuid.uuid4().hex[:12])
    workspace.prepare()
    return workspace


def sh(workspace: Workspace, text: str, sink: Callable[[str], None] | None = None) -> Any:
    return workspace.run(workspace.env.argv_for(text), sink)


def ctrl_c_after(go: threading.Event) -> None:
    """The terminal's Ctrl-C (SIGINT to the process) the moment `go` is set: the main thread is
    then on its way into a wait for the next output, the instant a SIGINT is taken without
    interrupting a blocking read begun just after it (a Ctrl-C lost until the command ended,
    before the output was handed over from a reader thread)."""

    def interrupt() -> None:
        if go.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()


def _busybox(engine: Engine) -> str:
    image = engine.image_id("busybox")
    assert image is not None
    return image


# Each case takes a workspace on busybox: they run on Docker here and on Podman in test_podman.


def case_files_persist_shell_state_does_not(ws: Workspace) -> None:
    first = sh(ws, "cd /tmp && export X=1 && umask 077 && alias ll=ls && echo data > /kept")
    assert first.exit_code == 0
    second = sh(ws, 'pwd; echo "X=[$X]"; umask; alias ll 2>/dev/null || echo no-alias; cat /kept')
    assert (second.exit_code, second.output) == (0, "/\nX=[]\n0022\nno-alias\ndata\n")
    assert [(c.kind, c.path) for c in ws.changes()] == [("A", "/kept")]


def case_background_process_does_not_outlive_its_command(ws: Workspace) -> None:
    started = time.monotonic()
    bg = sh(ws, "sleep 300 & echo $! > /bg.pid; nohup sleep 301 >/dev/null 2>&1 & echo left")
    assert (bg.exit_code, bg.output) == (0, "left\n")
    assert time.monotonic() - started < 30  # its children do not hold the command open
    after = sh(
        ws, "kill -0 $(cat /bg.pid) 2>/dev/null && echo alive; ps -o args | grep -c '^slee[p] 30'"
    )
    assert after.output == "0\n"  # neither sleep survived into the next command


def case_ctrl_c_kills_the_command_and_a_child_ignoring_sigint(ws: Workspace) -> None:
    seen: list[str] = []
    go = threading.Event()

    def sink(text: str) -> None:
        seen.append(text)
        if "go" in "".join(seen):
            go.set()

    ctrl_c_after(go)
    script = "trap '' INT; (trap '' INT; sleep 300) & echo go; wait; echo never"
    started = time.monotonic()
    ran = sh(ws, script, sink)
    assert ran.interrupted and ran.exit_code == 137
    assert "never" not in ran.output and time.monotonic() - started < 30
    after = sh(ws, "ps -o args | grep -c '^slee[p] 300'; echo still-here > /after")
    assert (after.exit_code, after.output) == (0, "0\n")  # the session's container goes on
    assert ("A", "/after") in [(c.kind, c.path) for c in ws.changes()]


def case_output_after_stdout_closes_and_the_exact_code(ws: Workspace) -> None:
    closed = sh(ws, "echo out; exec >&-; echo err >&2; sleep 1; echo late >&2; exit 4")
    assert (closed.exit_code, closed.output) == (4, "out\nerr\nlate\n")
    started = time.monotonic()
    silent = sh(ws, "exec >&- 2>&-; sleep 1; exit 5")
    assert (silent.exit_code, silent.output) == (5, "")
    assert time.monotonic() - started >= 1  # its end, not its closed output, is the end
    assert sh(ws, "kill -TERM $$").exit_code == 143


def case_missing_program_says_so(ws: Workspace) -> None:
    with pytest.raises(NoShellError, match="this layer has no /no/such-program to run"):
        ws.run(("/no/such-program", "--flag"))
    assert sh(ws, "echo fine").output == "fine\n"


PODMAN_CASES = (
    case_files_persist_shell_state_does_not,
    case_background_process_does_not_outlive_its_command,
    case_ctrl_c_kills_the_command_and_a_child_ignoring_sigint,
    case_output_after_stdout_closes_and_the_exact_code,
    case_missing_program_says_so,
)


@pytest.mark.parametrize("case", PODMAN_CASES, ids=lambda c: c.__name__.removeprefix("case_"))
def test_workspace_case(daemon: Engine, case: Callable[[Workspace], None]) -> None:
    ws = workspace_of(daemon, _busybox(daemon))
    try:
        case(ws)
    finally:
        ws.close()
    assert daemon.labelled(own_label()) == ([], [])


def test_workspace_one_container_for_the_session_and_no_commit(daemon: Engine) -> None:
    ws = workspace_of(daemon, _busybox(daemon))
    try:
        for text in ("touch /a", "touch /b", "rm /a"):
            assert sh(ws, text).exit_code == 0
        containers, images = daemon.labelled(own_label())
        assert (len(containers), images) == (1, [])  # one container, nothing committed
        assert [(c.kind, c.path) for c in ws.changes()] == [("A", "/b")]  # its diff
        ws.reset()
        assert ws.changes() == [] and sh(ws, "ls /b").exit_code != 0
        assert len(daemon.labelled(own_label())[0]) == 1  # the new one; the old one gone
    finally:
        ws.close()
    assert daemon.labelled(own_label()) == ([], [])


def test_workspace_user_without_a_home(daemon: Engine) -> None:
    """The failed step's USER with no passwd entry (so no home): commands run as that uid, their
    files are its own, and what it leaves running is still killed."""
    ws = workspace_of(daemon, _busybox(daemon), user="4321", workdir="/tmp")
    try:
        ran = sh(ws, 'id -u; echo "home=$HOME"; pwd; touch mine; stat -c %u mine; sleep 300 &')
        assert (ran.exit_code, ran.output.split()) == (0, ["4321", "home=/", "/tmp", "4321"])
        assert sh(ws, "ps -o args | grep -c '^slee[p] 300'").output == "0\n"
    finally:
        ws.close()


def test_workspace_layer_without_sleep(daemon: Engine) -> None:
    """No `sleep` in the layer (Debian's, without coreutils' sleep; busybox's ash has one of its
    own): the session's container waits on its open stdin instead, and Ctrl-C still kills."""
    api = docker_api()
    maker = api.create_container("debian:bookworm", ["rm", "/usr/bin/sleep"], labels=_labels())
    try:
        api.start(maker["Id"])
        api.wait(maker["Id"])
        image = str(api.commit(maker["Id"], changes=[f"LABEL {own_label()}"])["Id"])
    finally:
        api.remove_container(maker["Id"], force=True)
    ws = workspace_of(daemon, image)
    try:
        first = sh(
            ws, "command -v sleep || echo no-sleep; echo kept > /f; tr '\\0' ' ' </proc/1/cmdline"
        )
        assert first.output.startswith("no-sleep\n/bin/sh -c while :;"), first.output
        assert sh(ws, "cat /f").output == "kept\n"
        go = threading.Event()
        ctrl_c_after(go)
        busy = "(trap '' INT; while :; do :; done) & echo $! > /child; echo go; wait"
        ran = sh(ws, busy, lambda text: go.set() if "go" in text else None)
        assert ran.interrupted and ran.exit_code == 137
        gone = sh(ws, "test -d /proc/$(cat /child) && echo alive || echo gone")
        assert gone.output == "gone\n"
    finally:
        ws.close()
        api.remove_image(image, force=True)


def test_workspace_scratch_layer_runs_a_container_per_command(daemon: Engine) -> None:
    """FROM scratch (no /bin/sh): each command is its own container, committed, so exec form
    runs and files persist; a shell-form command says there is no shell."""
    api = docker_api()
    source = api.create_container("busybox", ["true"], labels=_labels())["Id"]
    try:
        stream, _ = api.get_archive(source, "/bin/busybox")
        data = b"".join(stream)
    finally:
        api.remove_container(source, force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmembers()[0]
        body = tar.extractfile(member)
        assert body is not None
        binary = body.read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("busybox")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
    made = api.import_image_from_data(buffer.getvalue(), changes=[f"LABEL {own_label()}"])
    image = str(api.inspect_image(json.loads(made)["status"])["Id"])
    ws = workspace_of(daemon, image)
    try:
        assert ws.run(("/busybox", "touch", "/made")).exit_code == 0
        assert ws.run(("/busybox", "ls", "/made")).output == "/made\n"
        assert [(c.kind, c.path) for c in ws.changes()] == [("A", "/made")]
        assert ws.current != image  # committed: a container per command
        with pytest.raises(NoShellError, match="no /bin/sh"):
            sh(ws, "ls /")
    finally:
        ws.close()
        api.remove_image(image, force=True)
    assert daemon.labelled(own_label()) == ([], [])


def test_workspace_shell_missing_from_the_layer(daemon: Engine) -> None:
    """SHELL ["/bin/bash", "-c"] in a busybox layer: the command says the layer has no bash."""
    ws = workspace_of(daemon, _busybox(daemon), shell=("/bin/bash", "-c"))
    try:
        with pytest.raises(NoShellError, match="this layer has no /bin/bash"):
            sh(ws, "echo hi")
    finally:
        ws.close()


def _labels() -> dict[str, str]:
    key, _, value = own_label().partition("=")
    return {key: value}

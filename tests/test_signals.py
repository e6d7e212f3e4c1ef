"""Signals, from the first moment to the last: SIGTERM, SIGHUP and a closed terminal end a
run with 128 + N and leave nothing, whatever dbugbuild was doing: the real dbugbuild in a
pty or with no terminal, on every backend, on the real daemon (test_signals_unit.py has
the delivery itself; test_soak.py, every way at random moments)."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from dbugbuild.engine import Engine
from endings import (
    BACKEND_PARAMS,
    BACKENDS,
    CTRL_U,
    PROMPT,
    PipeRun,
    PtyRun,
    alive,
    child_processes,
    docker_leftovers,
    podman_leftovers,
)

pytestmark = pytest.mark.docker


@pytest.fixture
def leaves_nothing(
    request: pytest.FixtureRequest, backend: str, marker: str
) -> Iterator[list[str]]:
    """Fail the test when the run left anything (the list: what it must wait for)."""
    if backend == "podman":
        request.getfixturevalue("podman_no_leaks")
        yield []
        assert podman_leftovers(marker) == []
        return
    engine: Engine = request.getfixturevalue("engine")
    yield []
    assert docker_leftovers(engine, marker) == []


@pytest.fixture
def marker() -> str:
    return f"rb-{uuid.uuid4().hex[:10]}"


def _project(tmp_path: Path, marker: str, failing: str | None = None) -> Path:
    run = failing or f"cat /missing-{marker}"
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:latest\nRUN echo {marker} > /one\nRUN {run}\n"
    )
    (tmp_path / "state").mkdir()
    return tmp_path


def _state(tmp_path: Path) -> dict[str, str]:
    return {"XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_signal_while_a_paste_is_processed_ends_the_session(
    backend: str, how: str, marker: str, leaves_nothing: None, tmp_path: Path
) -> None:
    run = PtyRun([*BACKENDS[backend], "."], _project(tmp_path, marker), _state(tmp_path))
    run.expect(PROMPT)
    run.send(CTRL_U + "echo " + "x" * 3000)
    time.sleep(0.05)
    run.end(how)
    assert run.wait() == 128 + getattr(signal, how)
    assert "Unhandled exception" not in run.log.getvalue()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_closed_terminal_while_typing_is_a_hang_up(
    backend: str, marker: str, leaves_nothing: None, tmp_path: Path
) -> None:
    """The terminal closes while a line is typed: 129 (it exited 3 with an EIO internal
    error, or with the build's status as if Ctrl-D was pressed)."""
    run = PtyRun([*BACKENDS[backend], "."], _project(tmp_path, marker), _state(tmp_path))
    run.expect(PROMPT)
    run.send(CTRL_U + "echo " + "y" * 2000)
    time.sleep(0.1)
    run.end("close")
    assert run.wait() == 128 + signal.SIGHUP


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_closed_terminal_in_shell_is_a_hang_up(
    backend: str, marker: str, leaves_nothing: None, tmp_path: Path
) -> None:
    """The terminal closes under :shell: 129 (it exited 1: pexpect's restoring the gone
    terminal raised termios.error over the hang-up, and the internal error's own message
    failed on the terminal too; the soak found it)."""
    run = PtyRun([*BACKENDS[backend], "."], _project(tmp_path, marker), _state(tmp_path))
    run.expect(PROMPT)
    run.send(CTRL_U + ":shell\r")
    run.expect(r"/ # \S*cat /missing-")  # busybox's prompt, the failed command pre-typed
    run.send(CTRL_U + "echo in-$((6*7))-shell\r")
    run.expect("in-42-shell")
    run.end("close")
    assert run.wait() == 128 + signal.SIGHUP


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_signal_during_the_build_stops_it_and_leaves_nothing(
    backend: str, how: str, marker: str, leaves_nothing: None, tmp_path: Path
) -> None:
    """`dbugbuild . --no-shell & sleep 5; kill $!`: the build CLI is stopped (it ran on, and
    the classic daemon kept its step's container), and what it left is removed."""
    failing = f"echo started-{marker}; sleep 60; exit 3"
    project = _project(tmp_path, marker, failing)
    run = PipeRun([*BACKENDS[backend], "--no-shell", "--no-cache", "."], project)
    run.wait_for(f"started-{marker}")
    clis = child_processes(run.proc.pid)
    assert clis, "the build CLI runs as dbugbuild's child"
    run.end(how)
    assert run.wait() == 128 + getattr(signal, how), run.output
    assert alive(clis) == []
    assert "cleaned up" in run.output


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.08])
@pytest.mark.parametrize("terminal", [True, False], ids=["session", "no-terminal"])
def test_signal_in_the_gap_after_the_failure_leaves_nothing(
    terminal: bool, delay: float, marker: str, engine: Engine, tmp_path: Path
) -> None:
    """Between the builder's failure line and the debug phase (0-80 ms), or the report: the
    failed container was nobody's to remove yet (the diagnosis' probe neither), and leaked."""
    project = _project(tmp_path, marker)
    args = ["--backend", "classic", "."]
    run = PtyRun(args, project, _state(tmp_path)) if terminal else PipeRun(args, project)
    if isinstance(run, PtyRun):
        run.expect("returned a non-zero code")
    else:
        run.wait_for("returned a non-zero code")
    time.sleep(delay)
    run.end("SIGTERM")
    code = run.wait()
    # Without a terminal the report may be out before the signal: the build's status then.
    assert code == 128 + signal.SIGTERM or (not terminal and code == 1)
    assert docker_leftovers(engine, marker) == []


def test_report_only_removes_the_failed_container(
    engine: Engine, no_leaks: None, marker: str, tmp_path: Path
) -> None:
    """A CI job or IDE task runs dbugbuild on every save: the classic builder (dbugbuild's
    choice) kept each failed container, which piled up. --keep keeps it."""
    project = _project(tmp_path, marker)
    run = run_cli(["--format", "json", "--no-shell", "."], project)
    report = run.json()
    cid = report["failed_container"]
    assert run.code == 1 and cid
    assert not engine.container_exists(cid)
    assert f"the failed container {cid} is removed (--keep keeps it)" in report["notes"]

    kept = run_cli(["--format", "json", "--no-shell", "--keep", "."], project)
    cid = kept.json()["failed_container"]
    try:
        assert engine.container_exists(cid)
        assert not any("is removed" in note for note in kept.json()["notes"])
    finally:
        engine.remove_container(cid)
    assert marked_left(engine, marker) == []


def test_a_signal_as_the_removal_thread_is_made_leaves_nothing(
    engine: Engine, marker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report-only run hands the failed container to a removal thread (Engine.let_go_soon):
    a SIGTERM landing as that thread is made raised out of it after the traces were cleared,
    and close() had nothing left to remove. The signal is raised there by the test (the
    window is a few bytecodes); the build, the daemon and the clean-up are real."""
    from dbugbuild.engine import later
    from dbugbuild.errors import Terminated

    real_init = later.Later.__init__
    landed: list[str] = []

    def init(self: later.Later[object], make: object, name: str = "dbugbuild-later") -> None:
        if name == "dbugbuild-removal" and not landed:
            landed.append(name)
            raise Terminated(signal.SIGTERM)
        real_init(self, make, name)  # type: ignore[arg-type]

    monkeypatch.setattr(later.Later, "__init__", init)
    run = run_cli(["--format", "json", "--no-shell", "."], _project(tmp_path, marker))
    assert landed and run.code == 128 + signal.SIGTERM, run.stderr
    assert marked_left(engine, marker) == []


def marked_left(engine: Engine, marker: str) -> list[str]:
    return docker_leftovers(engine, marker, wait=2)

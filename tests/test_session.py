"""The debug session, end to end on the real daemon: each scenario in-process and in a pty."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from conftest import note_build_output, own_label, own_leftovers
from dbugbuild.engine import Engine
from scenarios import (
    CTRL_C,
    CTRL_D,
    CTRL_U,
    ENTER,
    Scenario,
    expect,
    play_in_process,
    play_in_pty,
    send,
    session_in_pty,
)

PROMPT = r"dbugbuild>"  # no trailing space: with an empty buffer the cursor just moves there

pytestmark = pytest.mark.docker

FAILING = """\
FROM busybox
RUN echo one > /one
RUN cat /missing-file
"""

REPRODUCE_AND_EDIT = Scenario(
    name="reproduce-and-edit",
    dockerfile=FAILING,
    steps=[
        expect(r"debugging Dockerfile:3: RUN failed with exit code 1: cat: can't open"),
        expect(r"dbugbuild> cat /missing-file"),  # the failed command, pre-typed
        send(ENTER),
        expect(r"No such file or directory"),
        expect(r"exit code 1 "),  # the step's own exit code, reproduced
        send(CTRL_U + "cat /one" + ENTER),
        expect(r"one\n"),
        expect(r"exit code 0 "),
        send(CTRL_U + ":history" + ENTER),
        expect(r"1  cat /missing-file\n\s+2  cat /one"),
        expect(PROMPT),
        send(CTRL_U + ":quit" + ENTER),
    ],
    exit_code=1,  # the build's exit code: a session does not change it
)

RESET_AND_DIFF = Scenario(
    name="reset-and-diff",
    dockerfile=FAILING,
    steps=[
        expect(r"dbugbuild> "),
        send(CTRL_U + "touch /made-here && rm /one" + ENTER),
        expect(r"exit code 0 "),
        send(CTRL_U + ":diff" + ENTER),
        expect(r"A /made-here\nD /one\n"),
        expect(PROMPT),
        send(CTRL_U + "ls /made-here /one" + ENTER),
        expect(r"exit code 1 "),  # /one is gone: changes persist between commands
        send(CTRL_U + ":reset" + ENTER),
        expect(r"back to the last good layer"),
        expect(PROMPT),
        send(CTRL_U + "ls /one && ! ls /made-here" + ENTER),
        expect(r"exit code 0 "),
        send(CTRL_D),
    ],
    exit_code=1,
)

SHELL_STATE_DOES_NOT_PERSIST = Scenario(
    name="shell-state",
    dockerfile=FAILING,
    steps=[
        expect(r"dbugbuild> "),
        send(CTRL_U + "cd /tmp && export X=1 && pwd" + ENTER),
        expect(r"/tmp\n"),
        expect(PROMPT),
        send(CTRL_U + 'pwd; echo "X=[$X]"' + ENTER),
        expect(r"/\nX=\[\]\n"),
        expect(PROMPT),
        send(CTRL_U + ":quit" + ENTER),
    ],
    exit_code=1,
)

MULTI_LINE = Scenario(
    name="multi-line",
    dockerfile=(
        "FROM busybox\n"
        "RUN echo first && \\\n"
        "    # a comment the builder drops\n"
        "    echo second && \\\n"
        "    false\n"
    ),
    steps=[
        # Pre-typed as written: the lines and their continuations kept, the comment dropped.
        expect(r"echo first && \\\n"),
        expect(r"echo second && \\\n"),
        expect(r"false"),
        send(ENTER),
        expect(r"first\nsecond\n"),
        expect(r"exit code 1 "),
        expect(PROMPT),
        # Alt-Enter adds a line instead of running; Enter then runs all of it.
        send("\x1b" + ENTER + "echo third" + ENTER),
        expect(r"first\nsecond\nthird\n"),
        expect(r"exit code 0 "),
        expect(PROMPT),
        send(CTRL_D),
    ],
    exit_code=1,
)

SCENARIOS = [REPRODUCE_AND_EDIT, RESET_AND_DIFF, SHELL_STATE_DOES_NOT_PERSIST, MULTI_LINE]


def _workdir(tmp_path: Path, scenario: Scenario) -> Path:
    (tmp_path / "Dockerfile").write_text(scenario.dockerfile)
    return tmp_path


def _session_leftovers(engine: Engine) -> list[str]:
    containers, images = engine.labelled(own_label())
    return [c[:12] for c in containers] + [i[:19] for i in images]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("player", [play_in_process, play_in_pty], ids=["in-process", "pty"])
def test_session_scenario(
    engine: Engine,
    no_leaks: None,
    tmp_path: Path,
    scenario: Scenario,
    player: Callable[[Scenario, Path], str],
) -> None:
    player(scenario, _workdir(tmp_path, scenario))
    assert _session_leftovers(engine) == []


def test_session_shell_opens_and_returns(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    scenario = Scenario(
        name="shell",
        dockerfile=FAILING,
        steps=[
            expect(r"dbugbuild> "),
            send(CTRL_U + ":shell" + ENTER),
            expect(r"/ # "),  # busybox ash's prompt
            expect(r"cat /missing-file"),  # typed at the shell's own prompt
            send(CTRL_U + "echo in-the-shell-$((6*7))" + ENTER),
            expect(r"in-the-shell-42"),
            send("touch /from-shell; exit" + ENTER),
            expect(r"back at the dbugbuild prompt"),
            expect(PROMPT),
            send(CTRL_U + "ls /from-shell" + ENTER),
            expect(r"exit code 0 "),  # the shell's changes are kept
            send(CTRL_U + ":quit" + ENTER),
        ],
        exit_code=1,
    )
    play_in_pty(scenario, _workdir(tmp_path, scenario))
    assert _session_leftovers(engine) == []


def test_session_ctrl_c_stops_a_running_command(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="ctrl-c",
        dockerfile=FAILING,
        steps=[
            expect(r"dbugbuild> "),
            send(CTRL_U + "echo started; sleep 300" + ENTER),
            expect(r"started\n"),  # printed by the command, not the echo of its text
            send(CTRL_C),
            expect(r"exit code \d+ \(interrupted\)"),
            expect(PROMPT),
            send(CTRL_U + "echo still-here" + ENTER),
            expect(r"exit code 0 "),
            send(CTRL_U + ":quit" + ENTER),
        ],
        exit_code=1,
    )
    play_in_pty(scenario, _workdir(tmp_path, scenario))
    assert _session_leftovers(engine) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_session_signal_leaves_no_trace(
    engine: Engine, tmp_path: Path, signum: signal.Signals
) -> None:
    (tmp_path / "Dockerfile").write_text(FAILING)
    child, log = session_in_pty(tmp_path)
    child.send(CTRL_U + "touch /x" + ENTER)  # make the session own an image
    child.expect("exit code 0 ")
    child.expect("dbugbuild>")
    os.kill(child.pid, signum)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 128 + signum or child.signalstatus == signum
    note_build_output(log.getvalue())
    deadline = time.monotonic() + 10
    while own_leftovers(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert own_leftovers(engine) == []
    assert _session_leftovers(engine) == []


def test_session_failed_shows_what_the_step_left(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="failed",
        dockerfile="FROM busybox\nRUN touch /left-by-the-step && rm /bin/vi && exit 4\n",
        steps=[
            expect(PROMPT),
            send(CTRL_U + ":failed" + ENTER),
            expect(r"D /bin/vi\n"),
            expect(r"A /left-by-the-step\n"),
            expect(PROMPT),
            send(CTRL_U + ":diff" + ENTER),  # the session's own layer is untouched
            expect(r"this session changed nothing"),
            expect(PROMPT),
            send(CTRL_U + ":help" + ENTER),
            expect(r"shell state \(cd, export\) does not"),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=4,
    )
    play_in_process(scenario, _workdir(tmp_path, scenario))
    assert _session_leftovers(engine) == []


def test_session_history_lives_in_state_dir(
    engine: Engine, no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    project = tmp_path / "project"
    project.mkdir()
    scenario = Scenario(
        name="history",
        dockerfile=FAILING,
        steps=[
            expect(PROMPT),
            send(CTRL_U + "echo remembered" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=1,
    )
    play_in_process(scenario, _workdir(project, scenario))
    histories = list((state / "dbugbuild" / "history").iterdir())
    assert len(histories) == 1
    assert "+echo remembered" in histories[0].read_text()
    assert sorted(p.name for p in project.iterdir()) == ["Dockerfile"]  # nothing in the project


def test_session_failed_shell_opens_the_failed_state(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="failed-shell",
        dockerfile="FROM busybox\nRUN echo half-done > /state && exit 4\n",
        steps=[
            expect(PROMPT),
            send(CTRL_U + ":failed shell" + ENTER),
            expect(r"/ # "),
            send("cat /state" + ENTER),
            expect(r"half-done"),  # what the failing command left behind
            send("exit" + ENTER),
            expect(r"left the failed step's state"),
            expect(PROMPT),
            send(CTRL_U + "cat /state" + ENTER),  # the session's own layer never had it
            expect(r"exit code 1 "),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=4,
    )
    play_in_pty(scenario, _workdir(tmp_path, scenario))
    assert _session_leftovers(engine) == []

"""Interactive scenarios written once, played in-process (pipe input) and in a real pty (pexpect).

A scenario is a Dockerfile and a short script of `send` and `expect` steps. On a
timeout the failure shows what was expected, the end of the screen, and the whole log.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pexpect
import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from conftest import note_build_output
from dbugbuild.cli import main
from dbugbuild.console import Console

CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"  # kill the line before the cursor (emacs mode)
ENTER = "\r"
TIMEOUT = 60.0
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])|\r")


@dataclass(frozen=True)
class Step:
    kind: str  # "send" | "expect" | "do"
    text: str
    action: Callable[[], None] | None = None


def send(text: str) -> Step:
    return Step("send", text)


def expect(pattern: str) -> Step:
    return Step("expect", pattern)


def do(action: Callable[[], None], what: str = "") -> Step:
    """Do something outside the terminal at this point (edit a file, say)."""
    return Step("do", what, action)


@dataclass(frozen=True)
class Scenario:
    name: str
    dockerfile: str
    steps: Sequence[Step]
    exit_code: int
    args: Sequence[str] = field(default_factory=tuple)
    # What follows the args: the build context; none for `compose` (its args name services).
    context: Sequence[str] = (".",)


def screen_text(raw: str) -> str:
    return _ANSI.sub("", raw)


def _fail(scenario: Scenario, step: Step, log: str, where: str) -> None:
    screen = screen_text(log)
    pytest.fail(
        f"[{where}] scenario {scenario.name!r}: timed out waiting for {step.text!r}\n"
        f"--- end of screen ---\n{screen[-1500:]}\n--- whole log ---\n{screen}",
        pytrace=False,
    )


def session_in_pty(workdir: Path, timeout: float = 60) -> tuple[Any, io.StringIO]:
    """`python -m dbugbuild .` in a pseudo-terminal at its first prompt: the child and the
    log of its screen so far."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dbugbuild", "."],
        cwd=str(workdir),
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1", "PROMPT_TOOLKIT_NO_CPR": "1"},
        encoding="utf-8",
        timeout=timeout,
    )
    log = io.StringIO()
    child.logfile_read = log
    child.expect("dbugbuild> ")
    return child, log


def play_in_pty(scenario: Scenario, workdir: Path, env: dict[str, str] | None = None) -> str:
    """Run `python -m dbugbuild` in a pseudo-terminal and play the script; returns the log."""
    log = io.StringIO()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dbugbuild", *scenario.args, *scenario.context],
        cwd=str(workdir),
        # pexpect answers no cursor-position requests; without this prompt-toolkit
        # waits for one and warns.
        env={
            **os.environ,
            "TERM": "xterm",
            "NO_COLOR": "1",
            "PROMPT_TOOLKIT_NO_CPR": "1",
            **(env or {}),
        },
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 120),
    )
    child.logfile_read = log
    try:
        for step in scenario.steps:
            if step.kind == "send":
                child.send(step.text)
            elif step.kind == "do" and step.action is not None:
                step.action()
            else:
                try:
                    # A terminal ends lines with CRLF; scenarios are written with \n.
                    child.expect(step.text.replace("\\n", "\\r?\\n"))
                except pexpect.TIMEOUT:
                    _fail(scenario, step, log.getvalue(), "pty")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        if child.isalive():
            child.terminate(force=True)
    note_build_output(log.getvalue())
    assert child.exitstatus == scenario.exit_code, log.getvalue()
    return log.getvalue()


class _Screen(io.StringIO):
    """A buffer written by the main thread and read by the driver thread."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, s: str) -> int:
        with self.lock:
            return super().write(s)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()

    def isatty(self) -> bool:
        return True


def play_in_process(scenario: Scenario, workdir: Path, env: dict[str, str] | None = None) -> str:
    """Run dbugbuild's main() in this process with pipe input; a thread plays the script.
    `env` replaces the process environment (e.g. another daemon's endpoint)."""
    screen = _Screen()
    failure: list[Step] = []
    finished = threading.Event()  # the driver got through every step
    with create_pipe_input() as pipe:
        output = Vt100_Output(screen, lambda: Size(rows=40, columns=120), enable_cpr=False)
        console = Console(
            stdin=io.StringIO(),
            stdout=screen,
            stderr=screen,
            stdin_isatty=True,
            stdout_isatty=True,
            stderr_isatty=True,
            env={**(os.environ if env is None else env), "NO_COLOR": "1"},
            cwd=str(workdir),
            prompt_input=pipe,
            prompt_output=output,
        )

        def drive() -> None:
            seen = 0
            for step in scenario.steps:
                if step.kind == "send":
                    pipe.send_text(step.text)
                    continue
                if step.kind == "do" and step.action is not None:
                    step.action()
                    continue
                pattern = re.compile(step.text)  # as pexpect reads it in the pty
                deadline = time.monotonic() + TIMEOUT
                while True:
                    text = screen_text(screen.text())
                    match = pattern.search(text, seen)
                    if match:
                        seen = match.end()
                        break
                    if time.monotonic() > deadline:
                        failure.append(step)
                        pipe.send_text(CTRL_U + ":quit\r")
                        pipe.close()
                        return
                    time.sleep(0.05)
            finished.set()

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        code = main([*scenario.args, *scenario.context], console)
        # What the session printed last (after its end: a rebuild's output) is still being
        # matched: wait for the driver, which gives up on a step at its own deadline.
        driver.join(timeout=TIMEOUT + 5)
    note_build_output(screen.text())
    if failure:
        _fail(scenario, failure[0], screen.text(), "in-process")
    if not finished.is_set():  # pragma: no cover - the driver's own deadline comes first
        pytest.fail(f"[in-process] scenario {scenario.name!r}: the script did not finish")
    assert code == scenario.exit_code, screen_text(screen.text())
    return screen.text()

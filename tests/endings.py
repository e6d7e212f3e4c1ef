"""A real dbugbuild ended the hard ways: in a pty (pexpect), by SIGTERM, SIGHUP, SIGINT,
Ctrl-D or a closed terminal, at a chosen moment; or with no terminal, by a signal. Its exit
status, waited for with a deadline (a hang fails the test), and what it left.

What a run left is counted as the tests count it (conftest.own_leftovers): what carries the
running test's label and the builder's containers its builds printed, plus containers
whose command holds the marker the test put in its Dockerfile (a container the daemon
made after its `Running in` line could reach anyone). Shared by test_signals.py and
test_soak.py.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pexpect
import pytest

import podman_harness
from conftest import docker_api, note_build_output, own_label, own_leftovers
from dbugbuild.engine import Engine

CTRL_D = "\x04"
CTRL_U = "\x15"
ENTER = "\r"
PROMPT = "dbugbuild>"

BACKENDS = {
    "classic": ("--backend", "classic"),
    "buildkit": ("--backend", "buildkit"),
    "podman": ("--backend", "podman"),
}
# The backends as test parameters: podman's tests carry its mark (its own set-up, store).
BACKEND_PARAMS = [
    pytest.param("classic", id="classic"),
    pytest.param("buildkit", id="buildkit"),
    pytest.param("podman", id="podman", marks=pytest.mark.podman),
]

HANG = 60.0  # seconds a run may take to end once told to: more is a hang


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # pexpect answers no cursor-position request: without this prompt-toolkit waits for one.
    return {
        **os.environ,
        "TERM": "xterm",
        "NO_COLOR": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        **(extra or {}),
    }


class PtyRun:
    """`python -m dbugbuild ARGS` in a pseudo-terminal, with its screen kept."""

    def __init__(self, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None):
        self.log = io.StringIO()
        self.child: Any = pexpect.spawn(
            sys.executable,
            ["-m", "dbugbuild", *args],
            cwd=str(cwd),
            env=_env(env),
            encoding="utf-8",
            timeout=120,
            dimensions=(40, 120),
        )
        self.child.logfile_read = self.log
        self.closed = False

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def expect(self, pattern: str, timeout: float = 120) -> None:
        try:
            self.child.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            self.kill()
            pytest.fail(
                f"waiting for {pattern!r}: {type(exc).__name__}\n--- screen ---\n"
                f"{self.log.getvalue()[-3000:]}",
                pytrace=False,
            )

    def send(self, text: str) -> None:
        self.child.send(text)

    def end(self, how: str) -> None:
        """SIGTERM, SIGHUP or SIGINT (a kill), "ctrl-d" (typed), "close" (the terminal goes)."""
        if how == "ctrl-d":
            self.send(CTRL_D)
        elif how == "close":
            self.closed = True
            self.child.ptyproc.fileobj.close()  # the master side: the slave hangs up
        else:
            os.kill(self.pid, getattr(signal, how))

    def wait(self, timeout: float = HANG) -> int:
        """The exit status (128 + N when a signal killed it); fails on a hang."""
        deadline = time.monotonic() + timeout
        proc = self.child.ptyproc
        while proc.isalive():
            if not self.closed:
                try:  # keep reading: a full pty would block the child's writes
                    self.child.read_nonblocking(65536, timeout=0.1)
                except pexpect.TIMEOUT:
                    pass
                except pexpect.EOF:
                    self.closed = True
            else:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(
                    f"no exit {timeout:.0f}s after it was told to end (a hang)\n--- screen ---\n"
                    f"{self.log.getvalue()[-3000:]}",
                    pytrace=False,
                )
        note_build_output(self.log.getvalue())
        if proc.signalstatus is not None:
            return 128 + int(proc.signalstatus)
        return int(proc.exitstatus)

    def kill(self) -> None:
        if self.child.ptyproc.isalive():
            os.kill(self.pid, signal.SIGKILL)
            self.child.ptyproc.wait()


class PipeRun:
    """`python -m dbugbuild ARGS` with no terminal (a CI job, an IDE task): report-only."""

    def __init__(self, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbugbuild", *args],
            cwd=str(cwd),
            env=_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_for(self, text: str, timeout: float = 120) -> None:
        """Read its output until `text` appears."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while text not in self.output:
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"waiting for {text!r}; output:\n{self.output}", pytrace=False)
            self.output += line

    def end(self, how: str) -> None:
        self.proc.send_signal(getattr(signal, how))

    def wait(self, timeout: float = HANG) -> int:
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
            pytest.fail(f"no exit {timeout:.0f}s after a signal (a hang):\n{self.output}{rest}")
        self.output += rest
        note_build_output(self.output)
        code = self.proc.returncode
        return 128 - code if code < 0 else code


def marked_containers(marker: str) -> list[str]:
    """Docker's containers whose command holds `marker` (the test's own RUN lines)."""
    return [
        str(c["Id"])[:12]
        for c in docker_api().containers(all=True)
        if marker in str(c.get("Command", ""))
    ]


def podman_marked(marker: str) -> list[str]:
    """Podman's containers (Buildah's too) whose command holds `marker`."""
    out = podman_harness.podman(
        "ps", "-a", "--external", "--no-trunc", "--format", "{{.ID}} {{.Command}}"
    )
    return [line.split()[0][:12] for line in out.splitlines() if marker in line]


def docker_leftovers(engine: Engine, marker: str, wait: float = 10.0) -> list[str]:
    """What the run left in Docker (waiting `wait` seconds for the daemon to finish removing)."""
    deadline = time.monotonic() + wait
    while True:
        left = own_leftovers(engine) + marked_containers(marker)
        if not left or time.monotonic() > deadline:
            return sorted(set(left))
        time.sleep(0.2)


def podman_leftovers(marker: str) -> list[str]:
    return podman_harness.labelled(own_label()) + podman_marked(marker) + podman_harness.services()


def child_processes(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (the build CLI dbugbuild runs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pids: Sequence[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left

"""The soak: real sessions in a pty, each ended by SIGTERM, SIGHUP, SIGINT, Ctrl-D or a closed
terminal at a random moment (during the build, in the gap after its failure, at the prompt,
while typing or pasting, right after Enter, during a command, in `:shell`, during
`:continue`). None may hang, each exits with its documented status, and none leaves anything:
no container or image of the test's label, none its builds printed, none whose command holds
its marker, no process of its own (the build CLI names the session's own folder).

The suite runs a short seeded form (DBUGBUILD_SOAK sessions, 4 unless set; the seed
DBUGBUILD_SOAK_SEED, fixed unless set). The long form: DBUGBUILD_SOAK=100 (or more); every
pair of moment and ending comes once before any comes twice. The figures are printed
(pytest -s) and written to DBUGBUILD_SOAK_REPORT when set; DBUGBUILD_SOAK_MOMENTS=shell,gap
runs those moments only.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from conftest import own_label
from dbugbuild.engine import Engine
from endings import CTRL_D, CTRL_U, ENTER, PROMPT, PtyRun, docker_leftovers, processes_naming

pytestmark = pytest.mark.docker

MOMENTS = (
    "build",
    "gap",
    "prompt",
    "typing",
    "pasting",
    "enter",
    "command",
    "shell",
    "continue",
)
ENDINGS = ("SIGTERM", "SIGHUP", "SIGINT", "ctrl-d", "close")
BUILD_STATUS = 1  # `cat /missing` fails with 1: what Ctrl-D (leaving the session) exits with
FAILURE_LINE = "returned a non-zero code|did not complete successfully"


@dataclass(frozen=True)
class Trial:
    moment: str
    how: str
    backend: str
    delay: float  # seconds after the moment's cue

    def expected(self) -> set[int]:
        """The documented exit statuses (README's table)."""
        if self.how == "SIGTERM":
            return {128 + signal.SIGTERM}
        if self.how in ("SIGHUP", "close"):
            return {128 + signal.SIGHUP}
        if self.how == "ctrl-d":
            return {BUILD_STATUS}  # leaving the session (Ctrl-D in :shell leaves the shell first)
        if self.moment in ("build", "gap"):
            return {130}
        # Ctrl-C in a session stops a command or clears the line, and the session goes on:
        # then Ctrl-D leaves it. During :continue it stops the rebuild: interrupted.
        return {130, BUILD_STATUS}


def trials(count: int, seed: int, moments: tuple[str, ...] = MOMENTS) -> list[Trial]:
    rng = random.Random(seed)
    pairs = [(m, h) for m in moments for h in ENDINGS]
    chosen: list[tuple[str, str]] = []
    while len(chosen) < count:
        rng.shuffle(pairs)
        chosen += pairs
    return [
        Trial(m, h, rng.choice(("classic", "classic", "buildkit")), rng.random())
        for m, h in chosen[:count]
    ]


def _project(root: Path, marker: str) -> Path:
    project = root / marker
    project.mkdir()
    (project / "Dockerfile").write_text(
        f"FROM busybox:latest\nRUN echo {marker} > /one\n"
        f"RUN echo step-$((6*7))-{marker}; sleep 1; cat /missing-{marker}\n"
    )
    (project / "state").mkdir()
    return project


def _to_moment(run: PtyRun, trial: Trial, marker: str) -> None:
    """Drive the session to the trial's moment; its delay (0-1) spread over the moment."""
    delay = trial.delay
    if trial.moment == "build":
        run.expect(f"step-42-{marker}")
        time.sleep(delay * 0.8)
        return
    run.expect(FAILURE_LINE)
    if trial.moment == "gap":
        time.sleep(delay * 0.1)
        return
    run.expect(PROMPT)
    if trial.moment == "prompt":
        time.sleep(delay * 0.5)
    elif trial.moment == "typing":
        for char in CTRL_U + f"echo typed-{marker}"[: 3 + int(delay * 20)]:
            run.send(char)
            time.sleep(0.02)
    elif trial.moment == "pasting":
        run.send(CTRL_U + "echo " + "x" * 3000)
        time.sleep(delay * 0.05)
    elif trial.moment == "enter":
        run.send(CTRL_U + f"echo entered-{marker} > /two" + ENTER)
        time.sleep(delay * 0.15)
    elif trial.moment == "command":
        run.send(CTRL_U + f"echo cmd-$((6*7))-{marker}; sleep 30" + ENTER)
        run.expect(f"cmd-42-{marker}")
        time.sleep(delay * 0.5)
    elif trial.moment == "shell":
        run.send(CTRL_U + ":shell" + ENTER)
        # its prompt, with the failed command pre-typed (dbugbuild types it once the shell
        # is quiet): cleared, then a command of the test's
        run.expect(r"/ # \S*echo step-")  # busybox asks where the cursor is: ESC [6n
        run.send(CTRL_U + f"echo sh-$((6*7))-{marker}" + ENTER)
        run.expect(f"sh-42-{marker}")
        time.sleep(delay * 0.5)
    elif trial.moment == "continue":
        run.send(CTRL_U + ":continue" + ENTER)
        run.expect(":continue")
        time.sleep(0.3 + delay * 2.5)


def _finish(run: PtyRun, trial: Trial) -> int:
    """The ending's exit status. Ctrl-D and Ctrl-C may leave a session running (Ctrl-D typed
    during the build or in :shell, Ctrl-C stopping a command): Ctrl-D then, until it ends."""
    if trial.how in ("ctrl-d", "SIGINT"):
        for _ in range(20):
            if _ended_within(run, 2.5):
                break
            run.send(CTRL_U + CTRL_D)
    return run.wait()


def _ended_within(run: PtyRun, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while run.child.ptyproc.isalive() and time.monotonic() < deadline:
        try:  # reading, as PtyRun.wait does: a full pty would block the child's writes
            run.child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            time.sleep(0.05)
    return not run.child.ptyproc.isalive()


def _progress(line: str) -> None:
    """A line per session in DBUGBUILD_SOAK_REPORT + ".progress" (a long soak's figures
    survive an interrupted run)."""
    if os.environ.get("DBUGBUILD_SOAK_REPORT"):
        with open(os.environ["DBUGBUILD_SOAK_REPORT"] + ".progress", "a") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n")


def test_soak(engine: Engine, tmp_path: Path) -> None:
    count = int(os.environ.get("DBUGBUILD_SOAK", "4"))
    seed = int(os.environ.get("DBUGBUILD_SOAK_SEED", "1307"))
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    only = tuple(
        os.environ.get("DBUGBUILD_SOAK_MOMENTS", "").split(",")
        if os.environ.get("DBUGBUILD_SOAK_MOMENTS")
        else MOMENTS
    )  # a few moments only (a failure's again)
    for number, trial in enumerate(trials(count, seed, only), 1):
        marker = f"sk-{uuid.uuid4().hex[:10]}"
        project = _project(tmp_path, marker)
        args = ["--backend", trial.backend, "--no-cache", "."]
        run = PtyRun(args, project, {"XDG_STATE_HOME": str(project / "state")})
        where = f"#{number} {trial} (seed {seed})"
        try:
            _to_moment(run, trial, marker)
            run.end(trial.how)
            code = _finish(run, trial)
        except pytest.fail.Exception as exc:  # it never reached the moment, or it hung
            failures.append(f"{where}: {exc}")
            engine.sweep(own_label())  # what the SIGKILLed run left: counted, not kept
            outcomes[f"{trial.moment}/{trial.how}->FAILED"] += 1
            _progress(f"#{number} {trial.moment}/{trial.how}/{trial.backend} -> FAILED")
            continue
        left = docker_leftovers(engine, marker) + processes_naming(str(project))
        screen = run.log.getvalue()
        if code not in trial.expected():
            failures.append(f"{where}: exit {code}\n{screen[-1500:]}")
        if left:
            failures.append(f"{where}: left {left}")
        if "Traceback" in screen or "Unhandled exception" in screen:
            failures.append(f"{where}: an exception on screen\n{screen[-1500:]}")
        outcomes[f"{trial.moment}/{trial.how}->{code}"] += 1
        _progress(f"#{number} {trial.moment}/{trial.how}/{trial.backend} -> {code} left={left}")
    figures = {
        "sessions": count,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "failures": len(failures),
        "outcomes": dict(sorted(outcomes.items())),
    }
    print(json.dumps(figures, indent=1))
    if os.environ.get("DBUGBUILD_SOAK_REPORT"):
        Path(os.environ["DBUGBUILD_SOAK_REPORT"]).write_text(
            json.dumps({**figures, "failed": failures}, indent=1)
        )
    assert not failures, "\n\n".join(failures)

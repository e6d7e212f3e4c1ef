"""SIGTERM, SIGHUP and SIGINT as debug/signals.py delivers them, in this process: a deferred
section ends first, only the first signal is raised, an ignored one stays ignored, and a
prompt-toolkit prompt processing input ends with Terminated (not "Unhandled exception in
event loop ... Press ENTER to continue"). test_signals.py runs the real thing in a pty."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from dbugbuild.debug import signals
from dbugbuild.debug.session import prompt
from dbugbuild.errors import Terminated


def _kill_self_soon(signum: int, after: float) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_signals_a_deferred_section_ends_first() -> None:
    """A signal inside a deferred section (creating a container) is raised when it ends."""
    done = []
    with pytest.raises(Terminated) as ended, signals.ending_signals():
        with signals.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now, and raised nothing
            done.append("created")
        done.append("never")
    assert ended.value.signum == signal.SIGTERM
    assert done == ["created"]


def test_signals_only_the_first_ends_the_run() -> None:
    """A second signal during the clean-up the first started does not cut it short."""
    cleaned = []
    with pytest.raises(Terminated) as ended, signals.ending_signals():
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)  # pragma: no cover - the signal comes first
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            cleaned.append(True)
    assert ended.value.signum == signal.SIGHUP
    assert cleaned == [True]


def test_signals_ctrl_c_in_a_deferred_section() -> None:
    with pytest.raises(KeyboardInterrupt), signals.ending_signals(), signals.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)


def test_signals_an_ignored_signal_stays_ignored() -> None:
    """`nohup dbugbuild ...`: a hang-up was meant not to end it."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with signals.ending_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signals_end_a_prompt_processing_input(signum: int) -> None:
    """A signal while prompt-toolkit processes a paste ends the prompt with Terminated; it was
    raised inside the event loop's callback, where prompt-toolkit printed "Unhandled
    exception in event loop ... Press ENTER to continue" and carried on."""
    out = DummyOutput()
    with create_pipe_input() as pipe, signals.ending_signals():
        session: PromptSession[str] = PromptSession(input=pipe, output=out)
        # Keys arrive faster than they are processed: the signal comes while they are.
        feeder = threading.Thread(
            target=lambda: [pipe.send_text("echo " + "x" * 200) for _ in range(200)], daemon=True
        )
        feeder.start()
        timer = _kill_self_soon(signum, 0.2)
        try:
            with pytest.raises(Terminated) as ended:
                prompt(session, "> ")
        finally:
            timer.cancel()
            feeder.join(5)
    assert ended.value.signum == signum

"""SIGTERM, SIGHUP and SIGINT delivered so that every clean-up runs, from cli.main's first
moment to its last.

- SIGTERM and SIGHUP become `Terminated` (exit 128 + N) raised where the main thread is, so
  the `finally` clauses Ctrl-C runs run for them too; SIGINT stays KeyboardInterrupt.
- Only the first ending signal is raised. Later ones (a closed terminal sends SIGHUP to
  every process on it, a supervisor follows SIGTERM with another) are ignored, and so is
  Ctrl-C once a signal is ending the run: a clean-up in progress is never cut short.
- `deferred()`: a section a signal must not cut in two (creating or committing a container:
  the daemon finishes the request even when its client is gone, and what it makes then
  belongs to nobody; a clean-up). A signal arriving inside is raised when it ends.
- `redirected(deliver)`: while an event loop runs (prompt-toolkit's), a signal is handed to
  `deliver`, which ends the loop the way it expects (its application's exit with the
  exception). Raised inside one of the loop's callbacks, asyncio would give it to the loop's
  exception handler, and prompt-toolkit's prints "Unhandled exception in event loop ...
  Press ENTER to continue" and carries on.
- `hang_up()`: a terminal that answers EIO is gone: that is the hang-up SIGHUP says.

A signal that was ignored when dbugbuild started (`nohup`, a job started with `&`) stays
ignored. Imports nothing of dbugbuild but errors: bisect must not load prompt-toolkit.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dbugbuild.errors import Terminated

TYPE_CHECKING = False
if TYPE_CHECKING:  # dataclasses and typing cost 20 ms at start-up: --help pays it
    from types import FrameType
    from typing import Any

ENDING = (signal.SIGTERM, signal.SIGHUP)

Deliver = Callable[[int], bool]  # hands a signal to a running loop; False: none is running


class _State:
    """The process's signal state (a plain class: no dataclasses import at start-up)."""

    def __init__(self) -> None:
        self.depth = 0  # nested ending_signals()
        self.previous: dict[int, Any] = {}
        self.deferring = 0  # nested deferred()
        self.ending: int | None = None  # the first SIGTERM/SIGHUP
        self.raised = False  # its Terminated has been raised (or handed to a loop to raise)
        self.interrupted = False  # a Ctrl-C came in a deferred section
        self.deliver: Deliver | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    del frame
    state = _state
    if state.ending is not None:
        return  # already ending: the clean-up under way must finish
    if signum == signal.SIGINT:
        if state.deferring:
            state.interrupted = True
            return
        raise KeyboardInterrupt
    state.ending = signum
    if state.deferring:
        return  # raised when the section ends
    if state.deliver is not None and state.deliver(signum):
        return  # the loop ends with it (terminated()), or check() raises it after
    raise terminated()


def terminated() -> Terminated:
    """The Terminated of the ending signal, to raise now (an event loop's exit takes it)."""
    state = _state
    assert state.ending is not None
    state.raised = True
    return Terminated(state.ending)


def check() -> None:
    """Raise what a signal left pending (one that came while a loop was ending anyway)."""
    state = _state
    if state.ending is not None and not state.raised and not state.deferring:
        raise terminated()
    if state.interrupted and not state.deferring and state.ending is None:
        state.interrupted = False
        raise KeyboardInterrupt


def hang_up() -> None:
    """The terminal is gone (a write answered EIO): end as its SIGHUP would (which may come
    too); nothing when the run is ending already (its clean-up's messages are dropped)."""
    _handler(signal.SIGHUP, None)


def terminal_gone() -> Terminated:
    """The Terminated to raise where the terminal answered EIO: the signal ending the run,
    else the hang-up itself."""
    state = _state
    if state.ending is None:
        state.ending = signal.SIGHUP
    return terminated()


@contextmanager
def ending_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C, every clean-up running; nested, the
    outermost installs the handlers (cli.main, from the first moment) and restores them."""
    state = _state
    if state.depth == 0:
        try:
            installed = _install()
        except ValueError:  # not the main thread: signals are the main thread's business
            yield
            return
        state.previous = installed
        state.ending, state.raised, state.interrupted = None, False, False
    state.depth += 1
    try:
        yield
    finally:
        state.depth -= 1
        if state.depth == 0:
            for signum, previous in state.previous.items():
                signal.signal(signum, previous)
            state.previous = {}
            state.deliver = None


def _install() -> dict[int, Any]:
    """Our handler for the signals whose disposition is still the default; the previous ones."""
    installed: dict[int, Any] = {}
    for signum in (*ENDING, signal.SIGINT):
        current = signal.getsignal(signum)
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        if current is default:
            installed[signum] = signal.signal(signum, _handler)
    return installed


@contextmanager
def deferred() -> Iterator[None]:
    """A section no signal cuts in two: one arriving inside is raised when it ends."""
    state = _state
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
        check()  # the signal wins over an error the section ended with: the user asked to end


@contextmanager
def redirected(deliver: Deliver) -> Iterator[None]:
    """While an event loop runs: SIGTERM/SIGHUP go to `deliver`, not raised in a callback."""
    state = _state
    outer, state.deliver = state.deliver, deliver
    try:
        yield
    finally:
        state.deliver = outer

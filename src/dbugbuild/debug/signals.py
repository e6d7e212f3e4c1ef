"""SIGTERM and SIGHUP as an exception, so the clean-up that Ctrl-C runs runs for them too.

Shared by the debug session and bisect; imports nothing else (bisect must not load the
session's prompt-toolkit).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from dbugbuild.errors import Terminated


@contextmanager
def ending_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) end the session like Ctrl-C: clean-up runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

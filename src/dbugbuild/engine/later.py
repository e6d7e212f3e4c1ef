"""I/O: a value made in a thread while the caller goes on (the API client while a build runs).

`start()` begins making it; `get()` waits for it (starting it if nobody did) and raises
what making it raised, every time it is asked; `close()` waits for it and gives it to
its finisher. The thread stays until close(): a process it started with PDEATHSIG (a
private Podman service) is signalled when the thread that forked it ends, not the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Later(Generic[T]):
    """`make()` run once, in its own thread, from start() (or the first get())."""

    def __init__(self, make: Callable[[], T], name: str = "dbugbuild-later") -> None:
        self._make = make
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._release = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._closed = False

    @classmethod
    def ready(cls, value: T) -> Later[T]:
        """A value there already (made the usual way, before the caller went on)."""
        later: Later[T] = cls(lambda: value)
        later._value = value
        later._done.set()
        later._release.set()
        return later

    def start(self) -> None:
        """Begin making the value in a thread (nothing when it is made or being made)."""
        with self._lock:
            if self._thread is not None or self._done.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._make()
        except BaseException as exc:  # handed to whoever asks: get() raises it
            self._error = exc
        finally:
            self._done.set()
        self._release.wait()

    @property
    def started(self) -> bool:
        return self._thread is not None or self._done.is_set()

    def get(self) -> T:
        """The value, once made (made now, in its thread, if nobody started it)."""
        self.start()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # made: T (None when T allows it)

    def close(self, finish: Callable[[T], None]) -> None:
        """Wait for the value if it is being made, give it to `finish` (if it was made), and
        let the thread end. A value never started is never made."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._thread is not None or self._done.is_set()
        try:
            if started:
                self._done.wait()
                if self._error is None:
                    finish(self._value)  # type: ignore[arg-type]  # made, as get() says
        finally:
            self._release.set()

    def result(self) -> T:
        """get(), then close(): the value (or what making it raised), its thread let go."""
        try:
            return self.get()
        finally:
            self.close(lambda _value: None)

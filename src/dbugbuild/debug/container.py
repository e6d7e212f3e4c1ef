"""The session's container: one long-lived container per session, each command one exec in it.

A command runs as a RUN line would, in a new process with the step's Env, User and
WorkingDir (the container's), and its files stay in the container for the next one; shell
state does not carry over (each is a new process). What a RUN's end does to the processes
it leaves, the wrapper does: every process the command started is killed when it ends
(`kill -9 -1` spares only the container's first process and the caller). Ctrl-C kills the
command and everything it started, from a second exec as root; the container goes on.

The container's first process is a keep-alive that needs nothing from the layer but
/bin/sh: `sleep` in a loop that reaps what is killed, or, without `sleep`, a `read` of a
stdin that stays open. A layer without /bin/sh (FROM scratch, distroless) gets no such
container: workspace.py then runs one container per command, as before.
"""

from __future__ import annotations

import codecs
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from dbugbuild.debug.layer import OutputTail
from dbugbuild.engine import ContainerSpec, Engine
from dbugbuild.engine.containers import session_gone
from dbugbuild.errors import EngineError, NoShellError

SHELL = "/bin/sh"
# The first process: sleeps in the shell's `wait` (which reaps the orphans a killed command
# leaves; restarted when a clean-up's `kill -9 -1` hits the sleep), or, when the layer has no
# `sleep` (the shell says 127), waits the same way on a `read` of a stdin that is open and
# never written (in the background, so that `wait` still reaps; its end of input ends it).
KEEP_ALIVE = (
    "while :; do sleep 2147483647 & wait $!; [ $? -eq 127 ] && break; done 2>/dev/null; "
    "exec 3<&0; while :; do read _ <&3 & wait $!; [ $? -eq 1 ] && exit 1; done"
)
# Each command, under /bin/sh -c WRAPPER MARK ARGV...: its stderr the same pipe as its stdout
# (the order it wrote in is the order shown; one stream of the two may still close early), a
# missing program said by MARK alone (NoShellError), the command run as a child, then
# whatever it left running killed.
WRAPPER = (
    "exec 2>&1; "
    'command -v "$1" >/dev/null 2>&1 || { echo "$0"; exit 127; }; '
    '"$@"; s=$?; kill -9 -1 2>/dev/null; exit $s'
)
KILL_ALL = "kill -9 -1"  # from a root exec: every process but the container's first (and itself)


WAKE = 0.05  # seconds: how long a Ctrl-C may wait to be taken, at most


def relay(
    chunks: Iterator[bytes], sink: Callable[[str], None] | None, stop: Callable[[], None]
) -> tuple[OutputTail, bool]:
    """A command's output streamed to `sink` until it ends (its tail kept: memory bounded
    however much it prints), and whether Ctrl-C came: the
    first one calls `stop` (the command, as a RUN, is killed), its output is still read to
    its end; a second one while it dies does nothing.

    The output is read in a thread and handed over: the main thread waits on a queue in
    short slices, so a Ctrl-C is taken within one even when it lands in the instant
    before a blocking read of the socket begins (which it would not interrupt)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    captured = OutputTail()
    handed: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
    threading.Thread(target=_pump, args=(chunks, handed), daemon=True).start()
    interrupted = ended = False
    while not ended:
        try:
            while not ended:  # a SIGINT the queue's wait took is raised on this edge
                ended = _take(handed, decoder, captured, sink)
        except KeyboardInterrupt:
            if not interrupted:
                stop()
            interrupted = True
    captured.add(decoder.decode(b"", final=True))
    return captured, interrupted


def _pump(chunks: Iterator[bytes], into: queue.SimpleQueue[bytes | BaseException | None]) -> None:
    """The reader thread: every chunk, then what ended the stream (an error) and None."""
    try:
        for chunk in chunks:
            into.put(chunk)
    except BaseException as exc:  # handed to the main thread, which raises it
        into.put(exc)
    finally:
        into.put(None)


def _take(
    handed: queue.SimpleQueue[bytes | BaseException | None],
    decoder: codecs.IncrementalDecoder,
    captured: OutputTail,
    sink: Callable[[str], None] | None,
) -> bool:
    """Take what the reader handed over, if anything within WAKE seconds, to `captured` and
    `sink`; True once the output has ended."""
    try:
        item = handed.get(timeout=WAKE)
    except queue.Empty:
        return False
    if item is None:
        return True
    if isinstance(item, BaseException):
        raise item
    text = decoder.decode(item)
    captured.add(text)
    if sink is not None and text:
        sink(text)
    return False


@dataclass(frozen=True)
class Ran:
    """How one exec in the session's container ended, and its output's tail."""

    exit_code: int
    output: str  # its last OUTPUT_TAIL characters
    interrupted: bool
    timed_out: bool
    cut: int  # characters of output cut from the front


class SessionContainer:
    """A running container of the session's current image; commands are execs in it."""

    def __init__(self, engine: Engine, container_id: str, mark: str) -> None:
        self._engine = engine
        self.id = container_id
        self._mark = mark  # $0 of the wrapper: said alone when the program is missing

    @classmethod
    def start(cls, engine: Engine, spec: ContainerSpec, mark: str) -> SessionContainer | None:
        """Create and start the keep-alive container of `spec` (its image, Env, User,
        WorkingDir, network, mounts, labels); None when the layer has no /bin/sh."""
        keep = replace(spec, argv=(SHELL, "-c", KEEP_ALIVE), open_stdin=True)
        cid = engine.create_container(keep)
        try:
            engine.start(cid, keep.argv)
        except NoShellError:
            engine.remove_container(cid)
            return None
        except BaseException:
            engine.remove_container(cid)
            raise
        return cls(engine, cid, mark)

    def run(
        self, argv: Sequence[str], sink: Callable[[str], None] | None, timeout: float | None
    ) -> Ran:
        """Run argv as a command (see the module); its output streamed to `sink`. Ctrl-C (or
        `timeout` seconds) kills it and all it started; the container goes on."""
        engine = self._engine
        exec_id, chunks = engine.exec_start(self.id, (SHELL, "-c", WRAPPER, self._mark, *argv))
        expired = threading.Event()
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._expire, (expired,))
            timer.daemon = True
            timer.start()
        try:
            tail, interrupted = relay(chunks, sink, self.kill_all)
        finally:
            if timer is not None:
                timer.cancel()
                if timer.ident is not None:
                    timer.join()
        code = engine.exec_code(exec_id)
        if code == 127 and tail.text == self._mark + "\n":
            raise NoShellError(
                f"this layer has no {argv[0]} to run the command with",
                "It has no such program: give its path, or type the command in exec form, "
                'e.g. ["/app/server", "--check"]',
            )
        return Ran(code, tail.text, interrupted, expired.is_set(), tail.cut)

    def _expire(self, expired: threading.Event) -> None:
        expired.set()
        with contextlib.suppress(EngineError):  # it ended meanwhile, or the container did
            self.kill_all()

    def kill_all(self) -> None:
        """Kill every process but the keep-alive: a command's, and all it left running."""
        exec_id, chunks = self._engine.exec_start(self.id, (SHELL, "-c", KILL_ALL), user="0")
        for _ in chunks:
            pass
        self._engine.exec_code(exec_id)

    def terminal(self, argv: Sequence[str], pretype: str, echo: Callable[[str], None]) -> int:
        """An interactive shell in the container (`docker exec -it`); what it leaves running
        is killed when it exits, as after a command."""
        try:
            return self._engine.exec_terminal(self.id, argv, pretype, echo)
        finally:
            self.kill_all()

    def changes(self) -> list[tuple[str, str]]:
        """(kind, path) of what the session changed in the container's image."""
        changes = self._engine.diff(self.id)
        if changes is None:
            raise session_gone(self.id)
        return changes

    def remove(self) -> None:
        self._engine.remove_container(self.id)

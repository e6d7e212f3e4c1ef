"""I/O: run a build CLI (`docker build`, `docker buildx build`, `podman build`) and relay its
stdout and stderr as they come, decoded, in arrival order; nothing is re-rendered.

Ctrl-C reaches the CLI too (same process group) and it cancels the build; any other way
out stops it too, so no build goes on behind dbugbuild's back.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dbugbuild.errors import EngineUnavailableError

OutputSink = Callable[[str, bool], None]  # (text, from_stderr)


class StreamFilter(Protocol):
    """Drops what the user need not see from a stream, in whole lines (a backend's notice)."""

    def filter(self, text: str, final: bool) -> str: ...


@dataclass(frozen=True)
class BuildCommand:
    """One build: the CLI to run (`docker` is the engine's own), its argv, what it adds to the
    environment, its working directory and stdin, and a filter for its stderr."""

    program: str
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    stdin_data: bytes | None = None
    stderr_filter: Callable[[], StreamFilter] | None = None


def run_build(path: str, command: BuildCommand, env: Mapping[str, str], sink: OutputSink) -> int:
    """Run the CLI at `path` for `command`, its output to `sink`; returns its exit status."""
    try:
        proc = subprocess.Popen(
            [path, *command.argv],
            cwd=command.cwd,
            env={**env, **command.env},
            stdin=subprocess.PIPE if command.stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise EngineUnavailableError(
            f"could not run {path}: {exc.strerror}",
            f"Check the {'Docker' if command.program == 'docker' else command.program} CLI "
            "installation",
        ) from exc
    with proc:  # closes the pipes however we leave
        try:
            if command.stdin_data is not None and proc.stdin is not None:
                proc.stdin.write(command.stdin_data)
                proc.stdin.close()
            _relay(proc, sink, command.stderr_filter() if command.stderr_filter else None)
            return proc.wait()
        except BaseException:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise


def _relay(
    proc: subprocess.Popen[bytes], sink: OutputSink, stderr_filter: StreamFilter | None
) -> None:
    """Pass the CLI's stdout and stderr to `sink` in arrival order, decoded, as they come."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    decoders = {
        proc.stdout.fileno(): codecs.getincrementaldecoder("utf-8")(errors="replace"),
        proc.stderr.fileno(): codecs.getincrementaldecoder("utf-8")(errors="replace"),
    }
    err_fd = proc.stderr.fileno()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in sel.select():
            fd = key.fd
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                text = decoders[fd].decode(b"", final=True)
            else:
                text = decoders[fd].decode(data)
            if fd == err_fd and stderr_filter is not None:
                text = stderr_filter.filter(text, final=not data)
            if text:
                sink(text, fd == err_fd)
    sel.close()

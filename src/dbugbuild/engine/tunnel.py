"""I/O: a daemon the API client cannot dial itself (ssh://), reached through the docker CLI.

A private unix socket whose every connection is relayed to its own `docker system
dial-stdio`: the CLI dials the endpoint exactly as it does for `docker build` (for
ssh://, the system `ssh` with the user's whole OpenSSH configuration, agent and
known_hosts), and docker-py talks HTTP to the socket as to a local daemon, keeping
its connections alive, so one ssh connection serves many requests.

Why not docker-py's own ssh://: with paramiko it reads only part of ~/.ssh/config
(no Include, Match or ProxyJump, no -F) so a host that works for the build could
fail for the session; with `use_ssh_client=True` it starts one ssh per request and
leaves each one running (docker/transport/sshconn.py, docker-py 7.1-7.2).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import IO

_CHUNK = 65536


class StdioTunnel:
    """A unix socket in a private folder; each connection runs `docker system dial-stdio`."""

    def __init__(self, cli: str, env: Mapping[str, str]) -> None:
        self._cli = cli
        self._env = dict(env)
        self._folder = tempfile.mkdtemp(prefix="dbugbuild-tunnel-")  # mode 0700
        self.path = os.path.join(self._folder, "docker.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(16)
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._errors: list[str] = []
        # Each relay's process, and an event set once its stderr is all read.
        self._readers: list[tuple[subprocess.Popen[bytes], threading.Event]] = []
        self._closed = False
        threading.Thread(target=self._accept, name="dbugbuild-tunnel", daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def error(self, wait: float = 5.0) -> str | None:
        """The last line a `docker system dial-stdio` said on stderr (why it could not dial),
        once the relays whose process has ended have read all of it (at most `wait` s)."""
        with self._lock:
            readers = list(self._readers)
        start = time.monotonic()
        for process, read in readers:
            while not read.wait(0.05):
                now = time.monotonic()
                if now > start + wait or (process.poll() is None and now > start + 0.5):
                    break  # still relaying: it has nothing to say
        with self._lock:
            return self._errors[-1] if self._errors else None

    def close(self) -> None:
        """Stop accepting, end every relay's process, remove the socket's folder."""
        with self._lock:
            self._closed = True
            processes, self._processes = self._processes, []
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for process in processes:
            _end(process)
        shutil.rmtree(self._folder, ignore_errors=True)

    # -- relaying ----------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                process = subprocess.Popen(
                    [self._cli, "system", "dial-stdio"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=self._env,
                    start_new_session=True,  # Ctrl-C reaches dbugbuild, which closes the tunnel
                )
            except OSError as exc:
                with self._lock:
                    self._errors.append(f"{self._cli} system dial-stdio: {exc}")
                conn.close()
                continue
            read = threading.Event()
            with self._lock:  # before the relay runs: its client may ask error() at once
                if self._closed:
                    conn.close()
                    _end(process)
                    _pipe(process.stderr).close()
                    return
                self._processes.append(process)
                self._readers.append((process, read))
            for target, args in (
                (self._upstream, (conn, process)),
                (self._downstream, (conn, process)),
                (self._stderr, (process, read)),
            ):
                threading.Thread(target=target, args=args, daemon=True).start()

    def _upstream(self, conn: socket.socket, process: subprocess.Popen[bytes]) -> None:
        """The client's bytes to the process; its end (or the client's close) closes stdin."""
        stdin = _pipe(process.stdin)
        try:
            while data := conn.recv(_CHUNK):
                stdin.write(data)
                stdin.flush()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _downstream(self, conn: socket.socket, process: subprocess.Popen[bytes]) -> None:
        """The daemon's bytes back to the client; at their end the client sees the close."""
        stdout = _pipe(process.stdout)
        try:
            while data := os.read(stdout.fileno(), _CHUNK):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            stdout.close()
            _end(process)
            with self._lock:
                if process in self._processes:
                    self._processes.remove(process)

    def _stderr(self, process: subprocess.Popen[bytes], read: threading.Event) -> None:
        stderr = _pipe(process.stderr)
        try:
            text = stderr.read().decode("utf-8", "replace").strip()
            stderr.close()
            if text:
                with self._lock:
                    self._errors.append(text.splitlines()[-1])
        finally:
            read.set()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    assert stream is not None  # every stream is a PIPE here
    return stream


def _end(process: subprocess.Popen[bytes]) -> None:
    """End a relay's process (it exits by itself once its stdin is closed) and reap it."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()

"""The debug layer on the daemon: each command runs as a RUN would, its files carried to the next.

Like the builder, every command is a fresh container from the current image; afterwards
the container is committed and that image becomes current. So shell state does not carry
over between commands, files do, a command can be stopped by stopping its container, and
layers without a shell still run exec-form argv. Every container and image carries the
session's labels and is removed by close(). It talks to the daemon only through the
engine's public methods and writes nothing itself: output goes to the sinks it is given.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import threading
import time
from collections.abc import Callable, Sequence

from dbugbuild.debug import signals
from dbugbuild.debug.layer import Change, CommandResult, OutputTail
from dbugbuild.debug.stepenv import StepEnv
from dbugbuild.engine import LABEL, ContainerSpec, Engine, Mount
from dbugbuild.errors import EngineError


class Workspace:
    """A session's layer (debug.layer.Layer): the current image, the changes, reset, commit."""

    def __init__(
        self,
        engine: Engine,
        env: StepEnv,
        session_id: str,
        echo: Callable[[str], None] | None = None,
        *,
        mounts: Sequence[Mount] = (),
        secret_env: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self.env = env
        # A RUN's --mount flags as the backend emulates them, in every command's container;
        # the secrets it sees as variables are kept out of every commit.
        self._mounts = tuple(mounts)
        self._secret_env = tuple(secret_env)
        self.session_id = session_id
        self.current = env.image
        self._echo = echo or (lambda _: None)  # a :shell's start-up output, before its prompt
        self._images: list[str] = []  # committed by us, oldest first
        self._changes: dict[str, str] = {}
        self._serial = 0

    @property
    def labels(self) -> dict[str, str]:
        return self._engine.labels(self.session_id)

    def _spec(self, image: str, argv: Sequence[str]) -> ContainerSpec:
        self._serial += 1
        return ContainerSpec(
            image=image,
            argv=tuple(argv),
            env=self.env.env,
            user=self.env.user,
            workdir=self.env.workdir,
            network=self.env.network,
            labels=self.labels,
            name=f"dbugbuild-{self.session_id}-{self._serial}",
            mounts=self._mounts,
            secret_env=self._secret_env,
        )

    def run(
        self,
        argv: Sequence[str],
        sink: Callable[[str], None] | None = None,
        *,
        timeout: float | None = None,
        keep: bool = True,
    ) -> CommandResult:
        """Run argv in the current layer, streaming its output; the layer keeps its changes
        (unless not `keep`: bisect probes). After `timeout` seconds its container is killed."""
        started = time.monotonic()
        engine = self._engine
        shield = contextlib.ExitStack()
        shield.enter_context(signals.deferred())  # created and in the try below, or not at all
        try:
            cid = engine.create_container(self._spec(self.current, argv))
        except BaseException:
            shield.close()
            raise
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        captured = OutputTail()  # the output is the sink's; the result keeps its tail
        interrupted = False
        expired = threading.Event()
        timer: threading.Timer | None = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._expire, (cid, expired))
            timer.daemon = True
        try:
            shield.close()  # a signal that came while it was created: raised here, removed below
            try:
                engine.start(cid, argv)
                if timer is not None:
                    timer.start()
                with contextlib.closing(engine.output(cid)) as chunks:  # its stream, closed
                    for chunk in chunks:
                        text = decoder.decode(chunk)
                        captured.add(text)
                        if sink is not None and text:
                            sink(text)
            except KeyboardInterrupt:
                # Ctrl-C stops the command, as it would stop a RUN: kill its container.
                interrupted = True
                engine.kill(cid)
            finally:
                if timer is not None:
                    timer.cancel()
                    if timer.ident is not None:  # started: a kill in flight ends first
                        timer.join()
            code = engine.wait(cid)
            if keep:
                self._commit(cid)
        finally:
            engine.remove_container(cid)
        seconds = time.monotonic() - started
        return CommandResult(
            code, captured.text, seconds, interrupted, expired.is_set(), captured.cut
        )

    def _expire(self, cid: str, expired: threading.Event) -> None:
        """The timeout's thread: kill the command's container, which ends its log stream."""
        expired.set()
        self._engine.kill(cid)  # it may have ended meanwhile: no error

    def _commit(self, cid: str) -> None:
        changes = self._engine.diff(cid)
        if changes is None:
            raise EngineError(
                f"the debug container {cid[:12]} vanished before it was committed",
                "Check the daemon's state ('docker info') and retry",
            )
        if not changes:
            # Nothing to carry forward: no layer, so read-only commands cost no commit and do
            # not deepen the image (overlay2 refuses images deeper than about 125 layers).
            return
        for kind, path in changes:
            self._note_change(Change(kind, path))
        secrets = [item.split("=", 1)[0] for item in self._secret_env]
        with signals.deferred():  # committed and known to close(), or not committed
            image = self._engine.commit(cid, self.labels, blank_env=secrets)
            if image is not None:
                self._images.append(image)
        if image is None:
            raise EngineError(
                f"the debug container {cid[:12]} vanished before it was committed",
                "Check the daemon's state ('docker info') and retry",
            )
        self.current = image

    def _note_change(self, change: Change) -> None:
        before = self._changes.get(change.path)
        if change.kind == "D" and before == "A":
            del self._changes[change.path]  # made and removed within the session
        elif before == "A" and change.kind == "C":
            pass  # still new relative to the last good layer
        else:
            self._changes[change.path] = change.kind

    def changes(self) -> list[Change]:
        """Files the session changed relative to the last good layer, by path."""
        return [Change(k, p) for p, k in sorted(self._changes.items())]

    def reset(self) -> None:
        """Discard every change: the next command starts from the last good layer again."""
        self._drop_images()
        self.current = self.env.image
        self._changes.clear()

    def interactive(self, argv: Sequence[str], pretype: str = "", image: str | None = None) -> int:
        """A TTY shell in the layer (through `docker run -it`), with `pretype` at its prompt.

        The shell's changes are kept, as for a command, unless `image` names another
        layer to look at (then nothing is kept).
        """
        spec = self._spec(image or self.current, argv)
        assert spec.name is not None
        ended = True  # by the shell's exit, not from outside (then nothing is committed)
        try:
            return self._engine.terminal(spec, pretype, self._echo)
        except OSError as exc:
            ended = False
            if exc.errno == errno.EIO:  # the terminal closed under :shell: its hang-up (129)
                raise signals.terminal_gone() from None
            raise
        except BaseException:
            ended = False
            raise
        finally:
            cid = self._engine.container_by_name(spec.name)
            for _ in range(0 if ended else 10):  # an interrupted `docker run`: a create in flight
                if cid is not None:
                    break
                time.sleep(0.1)
                cid = self._engine.container_by_name(spec.name)
            if cid is not None:
                try:
                    if image is None and ended:
                        self._commit(cid)
                finally:
                    self._engine.remove_container(cid)

    def snapshot(self, container_id: str) -> str:
        """Commit another container (the builder's failed one) to a labelled temporary image."""
        with signals.deferred():  # committed and known to close(), or not committed
            image = self._engine.commit(container_id, self.labels)
            if image is not None:
                self._images.append(image)
        if image is None:
            raise _gone(container_id)
        return image

    def container_changes(self, container_id: str) -> list[Change]:
        changes = self._engine.diff(container_id)
        if changes is None:
            raise _gone(container_id)
        return sorted((Change(kind, path) for kind, path in changes), key=lambda c: c.path)

    def _drop_images(self) -> None:
        for image in reversed(self._images):
            self._engine.remove_image(image)
        self._images.clear()

    def close(self) -> None:
        """Remove every container, image and volume of this session (also ones a crash left)."""
        with signals.deferred():
            self._drop_images()
            self._engine.sweep(f"{LABEL}={self.session_id}")
            self._engine.sweep_volumes(f"{LABEL}={self.session_id}")


def _gone(container_id: str) -> EngineError:
    return EngineError(
        f"the failed build container {container_id[:12]} no longer exists",
        "Rebuild with dbugbuild to get it back",
    )

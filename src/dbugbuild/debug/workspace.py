"""The debug layer on the daemon: each command runs as a RUN would, its files carried to the next.

One long-lived container per session (container.py), started in the background when the
session opens, and each command one exec in it: a new process each time with the step's
Env, User, WorkingDir, network and mounts, its files kept in the container, shell state
not, whatever it left running killed when it ends, Ctrl-C killing it and only it. Nothing
is committed: `:diff` is the container's diff, `:reset` a new container from the last good
layer, `:shell` an exec with a TTY, the end of the session the container's removal; only
what needs an image of the session's state makes one (image()).

A layer without /bin/sh has no such container: each command is then a fresh container
from the current image, committed afterwards (that image becomes current), so exec-form
commands still run there. Bisect's probes (`keep=False`) are one container each, never
committed. Every container and image carries the session's labels and is removed by
close(). It talks to the daemon only through the engine's public methods and writes
nothing itself: output goes to the sinks it is given.
"""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from collections.abc import Callable, Sequence

from dbugbuild.debug import signals
from dbugbuild.debug.container import SessionContainer, relay
from dbugbuild.debug.layer import Change, CommandResult, OutputTail
from dbugbuild.debug.stepenv import StepEnv
from dbugbuild.engine import LABEL, ContainerSpec, Engine, Mount
from dbugbuild.engine.later import Later
from dbugbuild.errors import EngineError


class Workspace:
    """A session's layer (debug.layer.Layer): the current state, the changes, reset."""

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
        self.current = env.image  # the image the session's container (or next command) runs
        self._echo = echo or (lambda _: None)  # a :shell's start-up output, before its prompt
        self._images: list[str] = []  # committed by us, oldest first
        self._changes: dict[str, str] = {}  # of committed commands (a layer without /bin/sh)
        self._serial = 0
        self._box: Later[SessionContainer | None] | None = None
        self._no_shell = False  # the layer has no /bin/sh: a container per command

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

    # -- the session's container ------------------------------------------------------

    def prepare(self) -> None:
        """Start the session's container in the background (the prompt need not wait)."""
        if self._no_shell:
            return
        if self._box is None:
            spec = self._spec(self.current, ())
            mark = f"dbugbuild-{self.session_id}"
            self._box = Later(lambda: SessionContainer.start(self._engine, spec, mark))
        self._box.start()

    def _container(self) -> SessionContainer | None:
        """The session's container, started if need be; None for a layer without /bin/sh."""
        self.prepare()
        if self._box is None:
            return None
        try:
            box = self._box.get()
        except EngineError:
            self._drop_box()  # the next command tries again
            raise
        if box is None:
            self._no_shell, self._box = True, None
        return box

    def _drop_box(self) -> None:
        box, self._box = self._box, None
        if box is not None:
            box.close(lambda made: made.remove() if made is not None else None)

    # -- commands -------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        sink: Callable[[str], None] | None = None,
        *,
        timeout: float | None = None,
        keep: bool = True,
    ) -> CommandResult:
        """Run argv in the current layer, streaming its output; the layer keeps its changes
        (unless not `keep`: bisect probes). After `timeout` seconds it is killed."""
        started = time.monotonic()
        box = self._container() if keep else None
        if box is None:
            return self._run_alone(argv, sink, timeout, keep, started)
        try:
            ran = box.run(argv, sink, timeout)
        except EngineError:
            self._drop_box()  # gone: the next command starts a new one, from self.current
            raise
        seconds = time.monotonic() - started
        return CommandResult(
            ran.exit_code, ran.output, seconds, ran.interrupted, ran.timed_out, ran.cut
        )

    def _run_alone(
        self,
        argv: Sequence[str],
        sink: Callable[[str], None] | None,
        timeout: float | None,
        keep: bool,
        started: float,
    ) -> CommandResult:
        """A command in a container of its own, committed afterwards when `keep`."""
        engine = self._engine
        shield = contextlib.ExitStack()
        shield.enter_context(signals.deferred())  # created and in the try below, or not at all
        try:
            cid = engine.create_container(self._spec(self.current, argv))
        except BaseException:
            shield.close()
            raise
        captured, interrupted = OutputTail(), False  # the output is the sink's; its tail kept
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
                # Ctrl-C stops the command, as it would stop a RUN: kill its container.
                captured, interrupted = relay(engine.output(cid), sink, lambda: engine.kill(cid))
            except KeyboardInterrupt:  # while it was starting
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

    def _commit(self, cid: str) -> str | None:
        """Commit a container's changes (none: no image); the new image becomes current."""
        changes = self._engine.diff(cid)
        if changes is None:
            raise _vanished(cid)
        if not changes:
            # Nothing to carry forward: no layer, so read-only commands cost no commit and do
            # not deepen the image (overlay2 refuses images deeper than about 125 layers).
            return None
        for kind, path in changes:
            self._note_change(self._changes, Change(kind, path))
        secrets = [item.split("=", 1)[0] for item in self._secret_env]
        with signals.deferred():  # committed and known to close(), or not committed
            image = self._engine.commit(cid, self.labels, blank_env=secrets)
            if image is not None:
                self._images.append(image)
        if image is None:
            raise _vanished(cid)
        self.current = image
        return image

    @staticmethod
    def _note_change(into: dict[str, str], change: Change) -> None:
        before = into.get(change.path)
        if change.kind == "D" and before == "A":
            del into[change.path]  # made and removed within the session
        elif before == "A" and change.kind == "C":
            pass  # still new relative to the last good layer
        else:
            into[change.path] = change.kind

    def changes(self) -> list[Change]:
        """Files the session changed relative to the last good layer, by path."""
        changes = dict(self._changes)
        box = self._box.get() if self._box is not None and self._box.started else None
        if box is not None:
            for kind, path in box.changes():
                self._note_change(changes, Change(kind, path))
        return [Change(k, p) for p, k in sorted(changes.items())]

    def image(self) -> str:
        """The session's state as an image, for what needs one: its container committed now
        (secrets kept out of its Env; removed with the session), or the current image when
        the container changed nothing (or there is none)."""
        box = self._box.get() if self._box is not None and self._box.started else None
        if box is None or not box.changes():
            return self.current
        secrets = [item.split("=", 1)[0] for item in self._secret_env]
        with signals.deferred():  # committed and known to close(), or not committed
            image = self._engine.commit(box.id, self.labels, blank_env=secrets)
            if image is not None:
                self._images.append(image)
        if image is None:
            raise _vanished(box.id)
        return image

    def reset(self) -> None:
        """Discard every change: the next command starts from the last good layer again."""
        self._drop_box()
        self._drop_images()
        self.current = self.env.image
        self._changes.clear()
        self.prepare()

    def interactive(self, argv: Sequence[str], pretype: str = "", image: str | None = None) -> int:
        """A TTY shell in the layer, with `pretype` at its prompt: an exec in the session's
        container (its changes stay there, as a command's), or, for a layer without /bin/sh
        or when `image` names another layer to look at, `docker run -it` (committed as a
        command would be; nothing kept from `image`)."""
        box = self._container() if image is None else None
        if box is not None:
            try:
                return box.terminal(argv, pretype, self._echo)
            except OSError as exc:
                if exc.errno == errno.EIO:  # the terminal closed under :shell: a hang-up (129)
                    raise signals.terminal_gone() from None
                raise
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
            try:
                self._drop_box()
            finally:
                self._drop_images()
                self._engine.sweep(f"{LABEL}={self.session_id}")
                self._engine.sweep_volumes(f"{LABEL}={self.session_id}")


def _vanished(cid: str) -> EngineError:
    return EngineError(
        f"the debug container {cid[:12]} vanished before it was committed",
        "Check the daemon's state ('docker info') and retry",
    )


def _gone(container_id: str) -> EngineError:
    return EngineError(
        f"the failed build container {container_id[:12]} no longer exists",
        "Rebuild with dbugbuild to get it back",
    )

"""I/O: an interactive shell in a layer for `:shell`: `docker run -it` (or `docker exec -it` in
a session's running container) under pexpect, the command typed at the shell's own prompt
once its start-up output goes quiet, then the terminal handed over until the shell exits."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any

from dbugbuild.engine.specs import ContainerSpec


def run_terminal(
    cli: str,
    env: Mapping[str, str],
    spec: ContainerSpec,
    pretype: str,
    echo: Callable[[str], None],
) -> int:
    """Run `spec` with a TTY, `pretype` at its prompt; the shell's exit status. The start-up
    output before the prompt goes to `echo`; after it, the terminal is the shell's."""
    args = ["run", "-it"]
    if spec.name:
        args += ["--name", spec.name]
    for key, value in spec.labels.items():
        args += ["--label", f"{key}={value}"]
    for item in spec.env:
        args += ["-e", item]
    if spec.user:
        args += ["-u", spec.user]
    if spec.workdir:
        args += ["-w", spec.workdir]
    if spec.network:
        args += ["--network", spec.network]
    for mount in spec.mounts:
        args += ["--mount", mount.cli()]
    secrets = dict(item.split("=", 1) for item in spec.secret_env)
    for name in secrets:
        args += ["-e", name]  # the value comes from the CLI's environment, never its argv
    args += ["--entrypoint", spec.argv[0], spec.image, *spec.argv[1:]]
    return _interact(cli, args, {**env, **secrets}, pretype, echo)


def run_exec_terminal(
    cli: str,
    env: Mapping[str, str],
    container_id: str,
    argv: tuple[str, ...],
    pretype: str,
    echo: Callable[[str], None],
) -> int:
    """Run argv with a TTY in a running container (`docker exec -it`: its Env, User and
    WorkingDir, secrets included, are the container's), `pretype` at its prompt."""
    return _interact(cli, ["exec", "-it", container_id, *argv], env, pretype, echo)


def _interact(
    cli: str, args: list[str], env: Mapping[str, str], pretype: str, echo: Callable[[str], None]
) -> int:
    import termios

    import pexpect  # only :shell needs it

    size = shutil.get_terminal_size((80, 24))
    child = pexpect.spawn(
        cli,
        args,
        env=dict(env),
        encoding="utf-8",
        dimensions=(size.lines, size.columns),
    )
    try:
        if pretype:
            _type_at_prompt(child, pretype, echo)
        if child.isalive():
            try:
                child.interact(escape_character=None)
            except termios.error as exc:  # restoring a terminal that has gone: an OSError (EIO)
                raise OSError(*exc.args) from None
    except BaseException:
        # Ended from outside (a signal, the terminal gone): the CLI goes first, so that the
        # container it made (or is making) is there to be removed when it is looked up.
        child.terminate(force=True)
        raise
    child.close()
    status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
    return int(status)


def _type_at_prompt(child: Any, text: str, echo: Callable[[str], None]) -> None:
    """Relay the shell's start-up output until it goes quiet at its prompt, then type `text`
    there, so its line editor (bash, busybox ash) shows it ready to edit."""
    import pexpect

    seen = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data = child.read_nonblocking(4096, timeout=0.3 if seen else 1.0)
        except pexpect.TIMEOUT:
            if seen:
                break
            continue
        except pexpect.EOF:
            return
        echo(data)
        seen = True
    child.send(text)

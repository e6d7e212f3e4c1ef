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
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dbugbuild.errors import EngineUnavailableError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class StreamFilter(Protocol):
        """Drops what the user need not see from a stream, in whole lines (a notice)."""

        def filter(self, text: str, final: bool) -> str: ...


OutputSink = Callable[[str, bool], None]  # (text, from_stderr)


@dataclass(frozen=True)
class BuildCommand:
    """One build: the CLI to run (`docker` is the engine's own), its argv, what it adds to the
    environment, its working directory and stdin, and a filter for its stderr.

    `plugin` names a docker CLI plugin the argv needs (`buildx`); without it the engine
    runs `fallback` instead, or says what to install when there is none.
    """

    program: str
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    stdin_data: bytes | None = None
    stderr_filter: Callable[[], StreamFilter] | None = None
    plugin: str | None = None
    fallback: BuildCommand | None = None
    install_hint: str = ""  # how to get `plugin`, for the error when neither can run


# The docker CLI (23+) when BuildKit is asked for and the buildx plugin is not there
# (docker/cli cmd/docker/builder.go); recorded in tests/fixtures/buildkit/logs/.
_NO_BUILDX = "BuildKit is enabled but the buildx component is missing or broken"


# Where the docker CLI looks for its plugins (docker/cli cli-plugins/manager: the user's
# $DOCKER_CONFIG/cli-plugins first, then these), besides config.json's cliPluginsExtraDirs.
_SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def _plugin_dirs(env: Mapping[str, str]) -> tuple[str, ...]:
    config = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or "~", ".docker")
    return (os.path.join(os.path.expanduser(config), "cli-plugins"), *_SYSTEM_PLUGIN_DIRS)


def _plugin_file(name: str, env: Mapping[str, str]) -> bool:
    """Whether an executable docker-NAME is where the CLI looks for plugins (a file found is
    the plugin, as good as asking the CLI; none found: the CLI is asked)."""
    for folder in _plugin_dirs(env):
        candidate = os.path.join(folder, f"docker-{name}")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return True
    return False


def plugin_binary(name: str, env: Mapping[str, str]) -> str | None:
    """The file `docker NAME ...` would run: the first docker-NAME in the CLI's plugin folders,
    in its order (docker/cli cli-plugins/manager PluginRunCommand). None, and the CLI is run,
    when it could be another: config.json names folders of its own (cliPluginsExtraDirs,
    which CLIs have searched before or after the user's folder), or the first file there
    is not executable (the CLI's error, then).

    Running the plugin itself is what the CLI does after two process starts of its own (its
    start, then the plugin's metadata command): 40-100 ms of every `docker buildx build` on
    these machines. The plugin reads the same environment, config and contexts as the CLI
    (buildx runs standalone by design); dbugbuild passes the CLI no global flags."""
    config = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or "~", ".docker")
    try:
        with open(os.path.join(os.path.expanduser(config), "config.json"), "rb") as file:
            if b"cliPluginsExtraDirs" in file.read():
                return None
    except FileNotFoundError:
        pass
    except OSError:  # unreadable: the CLI says what it makes of it
        return None
    for folder in _plugin_dirs(env):
        candidate = os.path.join(folder, f"docker-{name}")
        if os.path.exists(candidate):
            runs = os.path.isfile(candidate) and os.access(candidate, os.X_OK)
            return candidate if runs else None
    return None


def standalone(
    path: str, command: BuildCommand, env: Mapping[str, str]
) -> tuple[str, BuildCommand]:
    """(what to run, its command): a `docker PLUGIN ...` build as the plugin's file itself with
    `...` (plugin_binary), else the docker CLI at `path` with the command as it is."""
    if command.plugin is None or command.argv[:1] != (command.plugin,):
        return path, command
    plugin = plugin_binary(command.plugin, env)
    if plugin is None:
        return path, command
    return plugin, replace(command, argv=command.argv[1:])


def has_plugin(path: str, name: str, env: Mapping[str, str]) -> bool:
    """Whether the docker CLI at `path` has the CLI plugin `name`: its file where the CLI looks
    for plugins, else `docker NAME version` (a process start: before a build, only if need be)."""
    if _plugin_file(name, env):
        return True
    try:
        done = subprocess.run(
            [path, name, "version"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def missing_plugin(command: BuildCommand) -> EngineUnavailableError:
    """The error for a build whose CLI lacks `command.plugin` (and has no fallback)."""
    return EngineUnavailableError(
        f"the docker CLI has no {command.plugin} plugin, which this build needs",
        command.install_hint or f"Install the docker {command.plugin} plugin and retry",
    )


def said_no_buildx(stderr: str) -> bool:
    """Whether a build's stderr is the CLI's refusal to use BuildKit without buildx."""
    return _NO_BUILDX in stderr


def run_build(
    path: str,
    command: BuildCommand,
    env: Mapping[str, str],
    sink: OutputSink,
    started: Callable[[], None] | None = None,
) -> int:
    """Run the CLI at `path` for `command`, its output to `sink`; returns its exit status.
    `started` is called once the CLI runs (what can wait for the build is done meanwhile)."""
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
            if started is not None:
                started()
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

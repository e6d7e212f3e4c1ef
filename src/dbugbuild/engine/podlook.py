"""I/O: the diagnosis' read-only look inside a layer of a local Podman store, through the podman
CLI: it needs no Podman service, so a report-only run on Podman starts none (a service costs
about half a second of CPU before it answers; the look alone is one `podman run`).

The look is read from the layer's overlay folders when the store is this machine's
(fastlook.py: no container); else it is probe.py's: a container with a read-only root, no
network, run as root, labelled (`dbugbuild clean` finds a leftover), killed at its time limit,
removed on every exit path and never committed. The image's config and folders come from the
store's own files where they say it exactly (podstore.py), else from `podman image inspect`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from dbugbuild.diagnosis import LayerFacts, Questions, parse_probe, probe_script
from dbugbuild.engine import podstore
from dbugbuild.engine.fastlook import fast_layer_facts
from dbugbuild.engine.podman import podman_output
from dbugbuild.engine.probe import ProbeResult

_CUT = 65536  # bytes of the look's output kept, as probe.py keeps
_BACKSTOP = 5  # seconds past the limit at which conmon kills the container if dbugbuild died
_PODMAN_FAILED = (125, 126, 127)  # podman's own error, a command it could not run or find
# What the look's shell runs: its script, read whole from stdin first (so that no command
# in it reads the rest of the script as its input), in the shell itself (no `cat` needed).
_READ_SCRIPT = 'eval "$(while IFS= read -r l || [ -n "$l" ]; do printf "%s\\n" "$l"; done)"'


class PodmanLook:
    """The look's engine calls (image_config, image_id, probe), as Engine makes them through
    the API, made with the podman CLI on the store its builds use (`env`)."""

    def __init__(
        self,
        cli: str,
        env: Mapping[str, str],
        labels: Callable[[str], dict[str, str]],
        deferred: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self._cli, self._env = cli, dict(env)
        self._labels = labels
        self._deferred = deferred

    def image_config(self, ref: str) -> dict[str, Any] | None:
        """The image's Config (User, WorkingDir, Env...), or None when the store has no such
        image."""
        out = self._inspect(ref, "{{json .Config}}")
        try:
            config = json.loads(out) if out else None
        except ValueError:
            return None
        return config if isinstance(config, dict) else None

    def image_id(self, ref: str) -> str | None:
        """The id of a local image (`sha256:`-prefixed, as the API gives it), or None."""
        out = self._inspect(ref, "{{.Id}}")
        return f"sha256:{out.removeprefix('sha256:')}" if out else None

    def _inspect(self, ref: str, template: str) -> str | None:
        out = podman_output(self._cli, self._env, "image", "inspect", "--format", template, ref)
        return out.strip() if out is not None else None

    def layer_facts(
        self, image: str, asked: Questions, timeout: float, fast: bool = True
    ) -> LayerFacts | None:
        """look.layer_facts's look: read from the layer's overlay folders when the store is
        local (the store's files name them, podstore.py, else one `podman image inspect`),
        else in a container (`fast` False: at once, the config read while it starts). None
        when nothing could be learnt."""
        if not fast:
            return self._container_facts(image, asked, timeout, lambda: self.image_config(image))
        local = not self._env.get("CONTAINER_HOST")  # else podman --remote: the store is not here
        found = podstore.image_inspect(image, self._env) if local else None
        if found is None:
            out = podman_output(self._cli, self._env, "image", "inspect", image)
            try:
                found = json.loads(out)[0] if out else None
            except (ValueError, IndexError, KeyError):
                return None
        if not isinstance(found, dict):
            return None
        config = dict(found.get("Config") or {})
        if local:
            arch = str(found.get("Architecture") or "")
            facts = fast_layer_facts(found.get("GraphDriver"), config, arch, image, asked)
            if facts is not None:
                return facts
        return self._container_facts(image, asked, timeout, lambda: config)

    def _container_facts(
        self,
        image: str,
        asked: Questions,
        timeout: float,
        read_config: Callable[[], dict[str, Any] | None],
    ) -> LayerFacts | None:
        """The look in a container: it starts while `read_config` runs (`podman image inspect`,
        ~40 ms), and the probe's script, made from that config, comes on its stdin. None when
        nothing could be learnt (no such image, no /bin/sh)."""
        where: list[tuple[str, str]] = []

        def script() -> str | None:
            config = read_config()
            if config is None:
                return None
            where.append((str(config.get("User") or ""), str(config.get("WorkingDir") or "/")))
            return probe_script(asked, where[0][1], where[0][0])

        session = f"probe-{os.urandom(6).hex()}"  # not uuid: 10-20 ms to import
        result = self.probe(image, ["/bin/sh", "-c", _READ_SCRIPT], session, timeout, script)
        if result is None or not where:
            return None
        user, workdir = where[0]
        return parse_probe(result.output, image=image, user=user, workdir=workdir)

    def probe(
        self,
        image: str,
        argv: Sequence[str],
        session_id: str,
        timeout: float = 10.0,
        stdin: Callable[[], str | None] | None = None,
    ) -> ProbeResult | None:
        """A short read-only look inside an image: `podman run --rm` (see the module). None
        when it could not run at all (no such image, no /bin/sh in the layer). `stdin`,
        called once the container is starting, gives what it reads (None: nothing to run)."""
        name = f"dbugbuild-{session_id}"
        labels = [f"--label={k}={v}" for k, v in self._labels(session_id).items()]
        command = [
            *("run", "--rm", "--name", name, "--pull", "never", "--sig-proxy=false"),
            *("--read-only", "--read-only-tmpfs=false", "--network", "none", "--user", "0"),
            *("--entrypoint", "", "--timeout", str(math.ceil(timeout) + _BACKSTOP), *labels),
            *(("--interactive",) if stdin is not None else ()),
            image,
            *argv,
        ]
        shield = contextlib.ExitStack()
        shield.enter_context(self._deferred())
        try:
            # Its own session: the terminal's Ctrl-C is dbugbuild's to handle (below), and
            # a dbugbuild killed with -9 leaves it to finish and remove the container.
            process = subprocess.Popen(
                [self._cli, *command],
                env=self._env,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            shield.close()
            return None
        except BaseException:
            shield.close()
            raise
        removed = False  # podman's --rm did it: it ran and ended on its own
        try:
            shield.close()  # a signal that came while it started is raised here: removed below
            given = stdin() if stdin is not None else ""
            started = time.monotonic()
            try:
                output, _ = process.communicate(
                    (given or "").encode() if stdin is not None else None, timeout=timeout
                )
            except subprocess.TimeoutExpired:
                self._remove(name)  # kills it now; podman run then ends
                removed = True
                output = b""
                with contextlib.suppress(subprocess.TimeoutExpired):
                    output, _ = process.communicate(timeout=30)
                return ProbeResult(None, _text(output), timed_out=True)
            code = process.returncode
            removed = code not in _PODMAN_FAILED and code >= 0
            if (code in _PODMAN_FAILED and not output) or given is None:
                return None
            if code == 255 and time.monotonic() - started >= timeout:  # conmon's kill
                return ProbeResult(None, _text(output), timed_out=True)
            return ProbeResult(code, _text(output))
        finally:
            with self._deferred():
                if process.poll() is None:  # interrupted: podman ends (it may hold the
                    process.terminate()  # container half made: SIGTERM lets it finish that)
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                if not removed:
                    self._remove(name)

    def _remove(self, name: str) -> None:
        """Remove the look's container, killing it at once; nothing when it is gone."""
        podman_output(self._cli, self._env, "rm", "--force", "--ignore", "--time", "0", name)


def _text(output: bytes | None) -> str:
    return (output or b"")[:_CUT].decode("utf-8", errors="replace")

"""I/O: a short, read-only look inside an image, for the diagnosis: a container with a read-only
root, no network, run as root, killed at its time limit, removed and never committed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineError


@dataclass(frozen=True)
class ProbeResult:
    """What a probe container printed (stdout), its exit code (None: killed at the timeout)."""

    exit_code: int | None
    output: str
    timed_out: bool = False


def run_probe(
    api: Any,
    image: str,
    argv: Sequence[str],
    labels: Mapping[str, str],
    timeout: float,
    remove: Callable[[str], bool],
    deferred: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> ProbeResult | None:
    """Run a short read-only look inside an image: a container that is removed, never committed.

    The container has a read-only root file system and no network, runs as root (to
    stat anything), carries the dbugbuild label (so `dbugbuild clean` finds a leftover),
    and is killed after `timeout` seconds. None when it could not run at all (no such
    image, no /bin/sh in the layer); the output is cut at 64 KiB. No signal comes between
    its creation and the `finally` that removes it (`deferred`: debug.signals').
    """
    import requests.exceptions  # docker-py's transport: its timeouts surface as these

    shield = contextlib.ExitStack()
    shield.enter_context(deferred())
    try:
        cid = str(
            api.create_container(
                image=image,
                command=list(argv),
                entrypoint=[""],
                user="0",
                labels=dict(labels),
                network_disabled=True,
                host_config=api.create_host_config(read_only=True, network_mode="none"),
            )["Id"]
        )
    except docker.errors.APIError:
        shield.close()
        return None
    except BaseException:
        shield.close()
        raise
    try:
        shield.close()  # a signal that came while it was created is raised here: removed below
        try:
            api.start(cid)
        except docker.errors.APIError:
            return None
        timed_out = False
        code: int | None = None
        try:
            code = int(api.wait(cid, timeout=timeout).get("StatusCode", -1))
        except (requests.exceptions.RequestException, docker.errors.APIError):
            timed_out = True
            with contextlib.suppress(docker.errors.APIError):
                api.kill(cid)
        raw = api.logs(cid, stdout=True, stderr=False) or b""
        output = raw[:65536].decode("utf-8", errors="replace")
        return ProbeResult(code, output, timed_out)
    except (requests.exceptions.RequestException, docker.errors.APIError):
        return None
    finally:
        with deferred(), contextlib.suppress(EngineError):
            remove(cid)

"""I/O: the step containers a classic build leaves, found by the build's own trace, removed.

The legacy builder keeps the container of a failing RUN (dbugbuild never passes
--force-rm). Its id is printed as the step starts (` ---> Running in <id>`), so the
clean-up is armed from that line on, before the container can become the failed one: a
signal that comes between the failure line and the debug phase (or a report-only run)
leaves nothing. The daemon also finishes what a request started after its client is gone:
a build cancelled while it created a step's container may create it after the CLI died,
before its `Running in` line reached us; such a container is found by the image it ran
from (the last ` ---> <id>` printed) and the step's command, created since the step began.
The build's own images are `docker build`'s cache and stay.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from dbugbuild.engine.sdk import docker

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

# The lines a step's container shows in, as the classic CLI prints them: moby
# builder/dockerfile/internals.go (`Running in %s`; `Removing intermediate container %s` up to
# Engine 20.10, ` ---> Removed intermediate container %s` on 26: tests/fixtures/logs/engine-26)
# and dispatchers.go (` ---> %s`, `Step %d/%d : %s`). One search over a chunk's whole lines finds
# them: the step's own output between them costs no Python per line.
_TRACE = re.compile(
    r"^(?:"
    r" ---> Running in (?P<running>[0-9a-f]{12,64})"
    r"|(?: ---> )?Remov(?:ing|ed) intermediate container (?P<removed>[0-9a-f]{12,64})"
    r"| ---> (?P<image>[0-9a-f]{12,64})"
    r"|Step \d+/\d+ : (?P<keyword>\S+)[ \t\r]?(?P<rest>.*?)"
    r")[ \t\r\f\v]*$",
    re.MULTILINE,
)
_MAX_LINE = 1 << 16  # a step's output line longer than this is not one of ours anyway

LET_GO = 10.0  # seconds to wait for the daemon to finish removing what it started removing
STRAY_WAIT = 1.5  # seconds a request in flight may take to create its container


@dataclass
class StepTrace:
    """What a classic build printed of its step containers, as its output arrives."""

    containers: list[str] = field(default_factory=list)  # `Running in` ids the daemon keeps
    parent: str | None = None  # the last image printed: where the next step's container starts
    pending: str | None = None  # a RUN step begun whose container was not printed yet
    pending_since: float = 0.0
    _line: str = ""

    def seen(self, text: str) -> None:
        """A piece of the build's output (any chunking)."""
        held = self._line + text
        end = held.rfind("\n") + 1
        self._line = held[end:][-_MAX_LINE:]
        for found in _TRACE.finditer(held, 0, max(end - 1, 0)):
            self._read(found)

    def _read(self, found: re.Match[str]) -> None:
        if (running := found.group("running")) is not None:
            self.containers.append(running)
            self.pending = None
        elif (gone := found.group("removed")) is not None:  # --rm's, after a step succeeded
            self.containers = [c for c in self.containers if not gone.startswith(c)]
        elif (image := found.group("image")) is not None:
            self.parent, self.pending = image, None
        else:
            keyword, rest = found.group("keyword").upper(), found.group("rest")
            self.pending = rest if keyword == "RUN" else None
            self.pending_since = time.time()


def remove_left(api: Any, containers: list[str], wait: float = LET_GO) -> list[str]:
    """Remove the containers that still exist, waiting while the daemon is removing one
    itself (a cancelled step: "removal ... is already in progress"); the ids removed. Best
    effort: a daemon that fails here must not hide why the run ended."""
    removed = []
    deadline = time.monotonic() + wait
    for cid in containers:
        while True:
            try:
                api.remove_container(cid, force=True, v=True)
                removed.append(cid)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # the daemon holds it (removing it, or still stopping it)
            except docker.errors.DockerException:
                break
    return removed


def strays(api: Any, trace: StepTrace, wait: float = STRAY_WAIT) -> list[str]:
    """Containers of a step whose `Running in` line never came: from the trace's last image,
    running the step's command, created since the step began (waiting `wait` seconds for a
    create request still in flight)."""
    if trace.pending is None or trace.parent is None:
        return []
    command = _command(trace.pending)
    deadline = time.monotonic() + wait
    while True:
        found = [c for c in _candidates(api, trace.parent) if _is_step(api, c, command, trace)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _candidates(api: Any, parent: str) -> list[str]:
    try:
        listed = api.containers(all=True, filters={"ancestor": parent})
    except docker.errors.APIError:
        return []
    return [
        str(c["Id"])
        for c in listed
        if str(c.get("ImageID", "")).removeprefix("sha256:").startswith(parent)
        and not (c.get("Labels") or {})  # the builder's containers carry no label
    ]


def _is_step(api: Any, cid: str, command: list[str], trace: StepTrace) -> bool:
    try:
        info = api.inspect_container(cid)
    except docker.errors.APIError:
        return False
    cmd = list((info.get("Config") or {}).get("Cmd") or [])
    created = str(info.get("Created", ""))
    # Docker's clock and ours are one machine's for a local daemon; allow a few seconds.
    return cmd[-len(command) :] == command and _epoch(created) >= trace.pending_since - 5


def _command(text: str) -> list[str]:
    """The end of the Cmd a RUN's container runs: its exec-form array, else its shell text."""
    if text.startswith("["):
        import json

        try:
            argv = json.loads(text)
        except ValueError:
            argv = None
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return argv
    return [text]


def _epoch(stamp: str) -> float:
    """An RFC 3339 time from the daemon (nanoseconds, `Z`) as seconds since the epoch."""
    from datetime import datetime

    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", stamp)
    if match is None:
        return 0.0
    zone = match.group(3) or "Z"
    base = datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    return base.timestamp() + float("0" + (match.group(2) or ""))

"""The look inside a layer on the real daemon: the probe answers the questions, cannot change
the layer, leaves nothing behind, and is killed at its time limit."""

from __future__ import annotations

import time
import uuid

import pytest

from conftest import own_label
from dbugbuild.diagnosis import PathInfo, Questions
from dbugbuild.engine import LABEL, Engine
from dbugbuild.engine.look import layer_facts

pytestmark = pytest.mark.docker


def _session() -> str:
    """A probe's own session id: what it labels is this test's alone."""
    return f"test-probe-{uuid.uuid4().hex[:12]}"


def _images(engine: Engine, session: str) -> list[str]:
    """Images carrying a probe's session label: a commit of its container would."""
    return engine.labelled(f"{LABEL}={session}")[1]


def test_probe_answers_about_a_busybox_layer(engine: Engine, no_leaks: None) -> None:
    asked = Questions(commands=("curl", "wget"), paths=("/etc/passwd",), names=("curl",))
    found = layer_facts(engine, "busybox:latest", asked, timeout=10)
    assert found is not None
    assert (found.os, found.package_managers, found.user, found.workdir) == ("busybox", (), "", "/")
    assert found.command("wget") == "/bin/wget"
    assert found.command("curl") is None
    assert found.path("/etc/passwd") == PathInfo(
        "/etc/passwd", True, "regular file", "root:root", "644"
    )
    assert found.path("/etc") is not None and found.path("/") is not None


def test_probe_cannot_change_the_layer(engine: Engine, no_leaks: None) -> None:
    """Read-only root file system, no network, never committed: the image is as it was."""
    session = _session()
    before = engine.image_id("busybox:latest")
    result = engine.probe(
        "busybox:latest",
        [
            "/bin/sh",
            "-c",
            "touch /made-by-probe; echo touch=$?; wget -q -T 2 -O- http://127.0.0.1:9/ ; "
            "echo wget=$?",
        ],
        session,
        timeout=10,
    )
    assert result is not None and not result.timed_out
    assert "touch=1" in result.output  # read-only
    assert "wget=1" in result.output  # no network, not even loopback's port 9
    assert _images(engine, session) == []
    assert engine.image_id("busybox:latest") == before
    again = engine.probe("busybox:latest", ["/bin/sh", "-c", "ls /made-by-probe"], session, 10)
    assert again is not None and again.exit_code != 0


def test_probe_is_killed_at_its_time_limit(engine: Engine, no_leaks: None) -> None:
    started = time.monotonic()
    session = _session()
    result = engine.probe("busybox:latest", ["/bin/sh", "-c", "echo up; sleep 60"], session, 1.0)
    assert time.monotonic() - started < 15
    assert result is not None
    assert result.timed_out and result.exit_code is None
    assert result.output == "up\n"
    engine.settle()  # its container is removed in a thread
    assert engine.labelled(f"{LABEL}={session}") == ([], [])
    assert engine.labelled(own_label()) == ([], [])


def test_probe_of_a_missing_image_or_shell_is_none(engine: Engine, no_leaks: None) -> None:
    assert engine.probe("dbugbuild-test/no-such-image:none", ["/bin/sh"], _session(), 5) is None
    assert engine.probe("busybox:latest", ["/no/such/shell"], _session(), 5) is None
    assert (
        layer_facts(engine, "dbugbuild-test/no-such-image:none", Questions(probe=True), 5) is None
    )


def test_probe_answers_before_its_container_is_gone(engine: Engine, no_leaks: None) -> None:
    """The look's answer does not wait for its container's removal (a failure's way to the
    report and the prompt): the removal runs in a thread, and settle() (close() too) waits
    until the container is gone."""
    session = _session()
    result = engine.probe("busybox:latest", ["/bin/sh", "-c", "echo up"], session, 10)
    assert result is not None and result.output == "up\n"
    engine.settle()
    assert engine.labelled(f"{LABEL}={session}") == ([], [])
    engine.settle()  # nothing left to wait for: returns at once

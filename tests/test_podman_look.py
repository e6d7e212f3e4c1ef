"""The diagnosis' look on real Podman through the podman CLI (engine/podlook.py): a report-only
run starts no Podman service and says what it said through the service (the layer's
evidence); the look's container is read-only, network-less, root, killed at its limit,
labelled, and gone after every ending (its limit, a SIGTERM, a kill -9 of dbugbuild)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

import podman_harness
from conftest import own_label, run_cli
from dbugbuild.engine import Engine

pytestmark = pytest.mark.podman

BENCH = (  # benchmarks/run.py's: ten steps, the last fails
    "FROM busybox\nENV A=1\nWORKDIR /work\nRUN echo one > one.txt\nRUN echo two > two.txt\n"
    "ENV B=2\nRUN mkdir -p /work/sub && echo three > sub/three.txt\nLABEL bench=dbugbuild\n"
    "RUN cat one.txt two.txt\nRUN ls /no/such/dir\n"
)
AFTER_FROM = "FROM busybox\nRUN ls /no/such/dir\n"  # the last good layer is the FROM's image


@contextmanager
def no_service_seen() -> Iterator[list[str]]:
    """What of a private Podman service appeared while the block ran (its folder lives as long
    as it does, half a second at least: looked for every 20 ms)."""
    before = podman_harness.service_dirs()
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            seen.extend(podman_harness.service_dirs() - before)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()
        seen.extend(podman_harness.service_dirs() - before)
        seen.extend(podman_harness.services())


@pytest.mark.parametrize("dockerfile", [BENCH, AFTER_FROM], ids=["ten-steps", "after-from"])
def test_podman_report_only_run_starts_no_service(
    podman_no_leaks: None, tmp_path: Path, dockerfile: str
) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    with no_service_seen() as seen:
        run = run_cli(
            ["--backend", "podman", "--no-shell", "--format", "json", "--no-cache", "."], tmp_path
        )
    report = run.json()
    assert run.code == 1, run.stderr
    assert seen == []
    diagnosis = report["diagnosis"]
    assert diagnosis["class"] == "missing-file", diagnosis
    assert "layer: no file named dir" in diagnosis["evidence"]  # the look in the last good layer
    last_good = report["last_good_image"]
    if dockerfile == AFTER_FROM:  # the store named the FROM's image, as the API did
        busybox = podman_harness.podman("image", "inspect", "--format", "{{.Id}}", "busybox")
        assert busybox.startswith(last_good) and len(last_good) >= 11
    else:
        assert last_good == report["steps"][-2]["image"]
    # A saved log of it is read the same way: its layer looked into, still no service.
    (tmp_path / "build.log").write_text(run.stderr)
    with no_service_seen() as seen:
        again = run_cli(["--format", "json", "--log", "build.log"], tmp_path)
    assert seen == []
    assert again.json()["diagnosis"] == diagnosis


def test_podman_look_is_read_only_root_without_network(podman_no_leaks: None) -> None:
    engine = Engine.connect_podman(dict(os.environ))
    try:
        look = engine.podman_look()
        assert look is not None
        config = look.image_config("busybox")
        assert config is not None and config["Cmd"] == ["sh"]
        assert look.image_config("dbugbuild-no-such-image") is None
        script = (
            "id -u; ls /sys/class/net; touch /probe-wrote 2>/dev/null || echo ro-root;"
            " touch /tmp/probe-wrote 2>/dev/null || echo ro-tmp; exit 3"
        )
        result = look.probe("busybox", ["/bin/sh", "-c", script], "probe-shape", timeout=30)
        assert result is not None
        assert (result.exit_code, result.output, result.timed_out) == (
            3,
            "0\nlo\nro-root\nro-tmp\n",
            False,
        )
        assert (
            look.probe("dbugbuild-no-such-image", ["/bin/sh", "-c", "true"], "probe-none") is None
        )
        assert look.probe("busybox", ["/no/such/shell"], "probe-noshell") is None
    finally:
        engine.close()
    assert podman_harness.services() == []  # the look needed none


def test_podman_look_is_killed_at_its_limit(podman_no_leaks: None) -> None:
    engine = Engine.connect_podman(dict(os.environ))
    try:
        look = engine.podman_look()
        assert look is not None
        started = time.monotonic()
        result = look.probe("busybox", ["/bin/sh", "-c", "echo early; sleep 60"], "probe-slow", 1.0)
        took = time.monotonic() - started
    finally:
        engine.close()
    assert result is not None
    assert (result.exit_code, result.output, result.timed_out) == (None, "early\n", True)
    assert took < 10, took


_CHILD = textwrap.dedent(
    """
    import os, sys
    from dbugbuild.debug import signals
    from dbugbuild.engine import Engine
    engine = Engine.connect_podman(dict(os.environ))
    engine.deferred = signals.deferred
    look = engine.podman_look()
    with signals.ending_signals():
        try:
            look.probe("busybox", ["/bin/sh", "-c", "sleep 120"], sys.argv[1], float(sys.argv[2]))
        finally:
            engine.close()
    """
)


def _looking(session: str, limit: float) -> subprocess.Popen[str]:
    """A dbugbuild process in the middle of a look (its container running)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, session, str(limit)], text=True, stderr=subprocess.PIPE
    )
    for _ in range(300):
        if podman_harness.podman("ps", "-q", "--filter", f"name=dbugbuild-{session}").strip():
            return child
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.05)
    child.kill()
    child.communicate()
    raise AssertionError("the look's container never ran")


def _gone(session: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while podman_harness.podman("ps", "-aq", "--filter", f"name=dbugbuild-{session}").strip():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_podman_look_leaves_nothing_after_sigterm(podman_no_leaks: None) -> None:
    child = _looking("probe-sigterm", 60)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0, err
    assert _gone("probe-sigterm", 0), "the look's container outlived the SIGTERM"


def test_podman_look_outlives_no_kill_9(podman_no_leaks: None) -> None:
    """dbugbuild killed with -9: conmon kills the look at its limit (plus a backstop) and
    podman's --rm removes it; meanwhile `dbugbuild clean` finds it by its labels."""
    child = _looking("probe-killed", 1)
    child.kill()
    child.communicate(timeout=30)
    assert _gone("probe-killed", 30), "the look's container outlived its limit"
    # A look that would run long after a kill -9 is dbugbuild's to clean: it is labelled.
    child = _looking("probe-labelled", 300)
    child.kill()
    child.communicate(timeout=30)
    mine = own_label()
    labels = podman_harness.podman(
        "ps", "-a", "--filter", "name=dbugbuild-probe-labelled", "--format", "{{.Labels}}"
    )
    assert "dbugbuild.session:probe-labelled" in labels and mine.replace("=", ":") in labels
    run = run_cli(["clean", "--label", mine], Path.cwd())
    assert run.code == 0, run.stderr
    assert "removed 1 container(s)" in run.stdout
    assert _gone("probe-labelled", 0)


def test_podman_look_answers_as_the_api_look(podman_no_leaks: None, tmp_path: Path) -> None:
    """The CLI's look (the script on stdin, the config read meanwhile) learns what the API's
    look through the service learns, in a layer with a USER, a WORKDIR and a file in /tmp
    (which only the CLI's look finds by name)."""
    from dbugbuild.diagnosis import Questions
    from dbugbuild.engine import look

    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN mkdir -p /srv/app /tmp/in && echo x > /tmp/in/x"
        " && echo app:x:1234:1234::/srv/app:/bin/sh >> /etc/passwd\nUSER app\nWORKDIR /srv/app\n"
    )
    tag = f"dbugbuild-test-podlook-{own_label().split('=')[1]}"
    podman_harness.podman("build", "-q", "-t", tag, str(tmp_path))
    asked = Questions(
        commands=("make", "sh"), paths=("data.txt", "/tmp/in/x"), names=("x",), probe=True
    )
    engine = Engine.connect_podman(dict(os.environ))
    try:
        podman = engine.podman_look()
        assert podman is not None
        by_cli = podman.layer_facts(tag, asked, 30, fast=False)  # its container
        assert podman.layer_facts(tag, asked, 30) == by_cli  # the layer's folders read
        assert podman.layer_facts("dbugbuild-no-such-image", asked, 30) is None
        assert engine.image_id(tag) is not None  # the API is reached now: the service's look
        by_api = look.api_layer_facts(engine, tag, asked, 30, fast=False)
        # Through the service the layer's folders are read too (fastlook.py): the layer's /tmp.
        assert look.api_layer_facts(engine, tag, asked, 30) == by_cli
        assert look.layer_facts(engine, tag, asked, 30) == by_cli  # a session's look too
    finally:
        engine.close()
        podman_harness.podman("rmi", tag)
    assert by_cli is not None and by_api is not None
    # The service's read-only root has Podman's writable tmpfs over /tmp (a copy of the
    # layer's, which `find -xdev` does not enter): the CLI's look has none, and finds the file,
    # as does the look in the layer's folders.
    assert by_cli.elsewhere == ("/tmp/in/x",) and by_api.elsewhere == ()
    assert replace(by_cli, elsewhere=()) == by_api
    assert (by_cli.user, by_cli.workdir) == ("app", "/srv/app")

"""Shared fixtures: an in-process CLI runner, the real Docker daemon and real Podman.

Tests marked `docker` talk to the real daemon, tests marked `podman` to real Podman (its
private test set-up: podman_harness.py). Without them they skip on a developer's machine
but FAIL under CI=true: a green CI must mean they ran.
Every other test is hermetic: it runs with no Docker endpoint at all (DOCKER_HOST
names a socket that does not exist, and no context or CLI configuration is read), so
it cannot reach a daemon even when one is running.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import podman_harness
from dbugbuild.cli import main
from dbugbuild.console import Console
from dbugbuild.engine import Engine
from dbugbuild.errors import DbugbuildError
from dbugbuild.options import RUN_LABELS

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"


# Ids of what test builds made: the images of steps they ran (" ---> <image>" not after
# "Using cache", which may be another client's image) and the containers of those steps
# ("Running in <container>"). At the end of the session, images the daemon did not have
# before are removed only when a test build made them, so a developer's (or another
# client's) images built meanwhile are left alone.
_BUILD_LINE = re.compile(r"---> (Using cache|Running in ([0-9a-f]{12})|([0-9a-f]{12}))\s*$")
BUILT: set[str] = set()
# The step containers the running test's builds printed: the builder keeps a failed one.
PRINTED_CONTAINERS: set[str] = set()

# Every container and image dbugbuild makes for a docker test carries this label, with a
# value of the test's own (DBUGBUILD_LABELS), so leak checks and `clean` count only its own.
TEST_LABEL = "dbugbuild.test"
_test_value = ""

# Where an unmarked test's Docker endpoint points: nowhere. Its Podman endpoint too: with
# CONTAINER_HOST set, dbugbuild starts no private Podman service and podman builds nothing.
NO_ENDPOINT = "unix:///nonexistent/dbugbuild-test/docker.sock"
NO_PODMAN = "unix:///nonexistent/dbugbuild-test/podman.sock"
_hermetic = False  # the running test has no docker mark


@pytest.fixture(autouse=True)
def _no_endpoint_without_the_docker_mark(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any
) -> Iterator[None]:
    """A test without the docker mark gets an environment with no endpoint: DOCKER_HOST at a
    socket that does not exist (it wins over any context), no DOCKER_CONTEXT, and an empty
    DOCKER_CONFIG (no contexts, credential helpers or CLI settings of the machine's)."""
    global _hermetic, _test_value
    PRINTED_CONTAINERS.clear()
    if request.node.get_closest_marker("podman") is not None:
        # Real Podman through the tests' own containers.conf; no CONTAINER_HOST, so each run
        # finds no service listening and starts (and stops) its private one.
        monkeypatch.setenv("CONTAINERS_CONF", podman_harness.conf())
        request.getfixturevalue("_podman_session")
        monkeypatch.delenv("CONTAINER_HOST", raising=False)
        _test_value = uuid.uuid4().hex[:12]
        monkeypatch.setenv(RUN_LABELS, own_label())
        try:
            yield
        finally:
            _test_value = ""
        return
    if request.node.get_closest_marker("docker") is not None:
        _test_value = uuid.uuid4().hex[:12]
        monkeypatch.setenv(RUN_LABELS, own_label())
        try:
            yield
        finally:
            _test_value = ""
        return
    monkeypatch.setenv("DOCKER_HOST", NO_ENDPOINT)
    monkeypatch.setenv("CONTAINER_HOST", NO_PODMAN)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))
    _hermetic = True
    try:
        yield
    finally:
        _hermetic = False


@pytest.fixture(scope="session")
def _podman_session() -> Iterator[None]:
    """At the end of the session, the images the podman tests' builds made are removed."""
    before = podman_harness.images()
    yield
    podman_harness.remove_session_images(before)


@pytest.fixture
def podman_no_leaks() -> Iterator[None]:
    """Fail a podman test that leaves anything: a container or image with its label, a
    container that appeared while it ran (a Buildah build container too) or the process of
    one, a private Podman service still running or its folder."""
    containers = podman_harness.containers()
    dirs = podman_harness.service_dirs()
    monitors = podman_harness.container_monitors()
    services = set(podman_harness.services())  # another run's, already there: not this test's
    yield
    left = podman_harness.labelled(own_label())
    left += sorted(podman_harness.container_monitors() - monitors)
    left += sorted(podman_harness.containers() - containers)
    left += sorted(set(podman_harness.services()) - services)
    left += sorted(podman_harness.service_dirs() - dirs)
    assert not left, f"left behind: {left}"


def note_build_output(text: str) -> None:
    podman_harness.note_build_output(text)
    cached = False
    for line in text.splitlines():
        found = _BUILD_LINE.search(line)
        if found is None:
            continue
        if found.group(1) == "Using cache":
            cached = True
        elif found.group(2):
            PRINTED_CONTAINERS.add(found.group(2))
            BUILT.add(found.group(2))  # ONBUILD trigger images are known by their container
        else:
            if not cached:
                BUILT.add(found.group(3))
            cached = False


def own_label() -> str:
    """The running docker test's own label filter, `dbugbuild.test=<value>`."""
    assert _test_value, "own_label() outside a docker test"
    return f"{TEST_LABEL}={_test_value}"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as JSON; when it is none, the failure says the exit code and stderr's end
        (CI run 9 failed once on an empty stdout whose stderr was not shown)."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            tail = "\n".join(self.stderr.splitlines()[-8:])
            raise AssertionError(
                f"no JSON on stdout (exit {self.code}); stderr ends:\n{tail}"
            ) from None


def captured_console(
    cwd: Path | str, stdin: str = "", env: dict[str, str] | None = None, tty: bool = False
) -> tuple[Console, io.StringIO, io.StringIO]:
    """A Console on captured streams (and its stdout and stderr), as run_cli runs with."""
    out, err = io.StringIO(), io.StringIO()
    environment = dict(os.environ if env is None else env)
    if _hermetic:
        environment.setdefault("DOCKER_HOST", NO_ENDPOINT)
        environment.setdefault("CONTAINER_HOST", NO_PODMAN)
        environment.pop("DOCKER_CONTEXT", None)
    console = Console(
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        stdin_isatty=tty,
        stdout_isatty=tty,
        stderr_isatty=tty,
        env=environment,
        cwd=str(cwd),
    )
    return console, out, err


def run_cli(
    args: Sequence[str],
    cwd: Path | str,
    stdin: str = "",
    env: dict[str, str] | None = None,
    tty: bool = False,
) -> Run:
    """Run dbugbuild in-process with captured streams (stdin not a TTY unless asked).

    In a test without the docker mark, an `env` given without DOCKER_HOST gets the
    harness's endpoint that does not exist, like the process environment.
    """
    console, out, err = captured_console(cwd, stdin, env, tty)
    code = main(list(args), console)
    note_build_output(out.getvalue() + err.getvalue())
    return Run(code, out.getvalue(), err.getvalue())


def _daemon_or_fail() -> Engine:
    try:
        # The tests' own engine labels nothing: each test's runs label theirs (RUN_LABELS).
        return Engine.connect({k: v for k, v in os.environ.items() if k != RUN_LABELS})
    except DbugbuildError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and no Docker daemon: {exc}", pytrace=False)
        pytest.skip(f"no Docker daemon: {exc} (run 'make test' to set one up)")


_api: list[Any] = []


def docker_api() -> Any:
    """A docker-py API client of the tests' own, to look at the daemon as it is (the engine's
    client is its own business)."""
    if not _api:
        import docker

        _api.append(docker.from_env().api)
    return _api[0]


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The real daemon. At the end, images the test session made and left are removed:
    intermediate images of test builds and images ONBUILD triggers commit unnamed."""
    eng = _daemon_or_fail()
    before = eng.image_ids()
    yield eng
    parents: dict[str, str] = {}
    for image in eng.image_ids() - before:
        try:
            parents[image] = str(docker_api().inspect_image(image).get("Parent") or "")
        except Exception:  # removed meanwhile (by the daemon's other clients too)
            continue
    # An image a test build made, or one committed on top of one (ONBUILD triggers commit
    # images no log line names; API 1.45 no longer says which container they came from).
    ours = {image for image in parents if image[7:19] in BUILT}
    while more := {
        i for i, p in parents.items() if i not in ours and p and (p in ours or p[7:19] in BUILT)
    }:
        ours |= more
    eng.remove_images(ours)
    eng.close()
    if _api:
        _api.pop().close()


def own_leftovers(engine: Engine) -> list[str]:
    """What the running test left in the daemon: containers and images carrying its label
    value, and the builder's containers its own builds printed that still exist."""
    containers, images = engine.labelled(own_label())
    printed = sorted(c for c in PRINTED_CONTAINERS if engine.container_exists(c))
    return [c[:12] for c in containers] + printed + [i[:19] for i in images]


@pytest.fixture
def no_leaks(engine: Engine) -> Iterator[None]:
    """Fail the test if it leaves a container behind (of its own: see own_leftovers, so a
    shared daemon's other clients cannot fail it)."""
    yield
    engine.settle()  # what the test's probes are removing in a thread is gone first
    containers, _ = engine.labelled(own_label())
    left = {c[:12] for c in containers}
    left |= {c for c in PRINTED_CONTAINERS if engine.container_exists(c)}
    assert not left, f"containers left behind: {sorted(left)}"


def remove_build(engine: Engine, report: dict[str, Any]) -> None:
    """Remove what a --no-cache test build made: the failed container, step images, tags.

    Children before parents; an image another client's build has taken as its cache (and
    built on) is left to that client (Engine.remove_images)."""
    if report.get("failed_container"):
        engine.remove_container(report["failed_container"])
    images = set()
    for ref in [
        *report.get("tags", []),
        # FROM steps show the base image, which is not ours; --no-cache made every other one.
        *(s["image"] for s in report.get("steps", []) if s["instruction"] != "FROM"
          and s["image"] and not s["cached"]),
        report.get("image"),
    ]:  # fmt: skip
        full = engine.image_id(ref) if ref else None
        if full is not None:
            images.add(full)
    engine.remove_images(images)

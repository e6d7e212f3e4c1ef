"""Shared fixtures: an in-process CLI runner and the real Docker daemon.

Tests marked `docker` talk to the real daemon. Without one they skip on a
developer's machine but FAIL under CI=true: a green CI must mean they ran.
Every other test is hermetic: it runs with no Docker endpoint at all (DOCKER_HOST
names a socket that does not exist, and no context or CLI configuration is read), so
it cannot reach a daemon even when one is running.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dbugbuild.cli import main
from dbugbuild.console import Console
from dbugbuild.engine import Engine
from dbugbuild.errors import DbugbuildError

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"


# Ids of what test builds printed (" ---> <image>", "Running in <container>"): at the end of
# the session, images the daemon did not have before are removed only when a test build
# made them, so a developer's own images built meanwhile are left alone.
_BUILD_IDS = re.compile(r"(?:--->(?: Running in)? |Successfully built )([0-9a-f]{12})\b")
BUILT: set[str] = set()

# Where an unmarked test's Docker endpoint points: nowhere.
NO_ENDPOINT = "unix:///nonexistent/dbugbuild-test/docker.sock"
_hermetic = False  # the running test has no docker mark


@pytest.fixture(autouse=True)
def _no_endpoint_without_the_docker_mark(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any
) -> Iterator[None]:
    """A test without the docker mark gets an environment with no endpoint: DOCKER_HOST at a
    socket that does not exist (it wins over any context), no DOCKER_CONTEXT, and an empty
    DOCKER_CONFIG (no contexts, credential helpers or CLI settings of the machine's)."""
    global _hermetic
    if request.node.get_closest_marker("docker") is not None:
        yield
        return
    monkeypatch.setenv("DOCKER_HOST", NO_ENDPOINT)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))
    _hermetic = True
    try:
        yield
    finally:
        _hermetic = False


def note_build_output(text: str) -> None:
    BUILT.update(_BUILD_IDS.findall(text))


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


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
    out, err = io.StringIO(), io.StringIO()
    environment = dict(os.environ if env is None else env)
    if _hermetic:
        environment.setdefault("DOCKER_HOST", NO_ENDPOINT)
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
    code = main(list(args), console)
    note_build_output(out.getvalue() + err.getvalue())
    return Run(code, out.getvalue(), err.getvalue())


def _daemon_or_fail() -> Engine:
    try:
        return Engine.connect(os.environ)
    except DbugbuildError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and no Docker daemon: {exc}", pytrace=False)
        pytest.skip(f"no Docker daemon: {exc} (run 'make test' to set one up)")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The real daemon. At the end, images the test session made and left are removed:
    intermediate images of test builds and images ONBUILD triggers commit unnamed."""
    eng = _daemon_or_fail()
    before = eng.image_ids()
    yield eng
    api = eng._client.api
    ours = set()
    for image in eng.image_ids() - before:
        info = api.inspect_image(image)
        # An image a test build printed, or one committed from a container it printed
        # (ONBUILD triggers commit images no log line names).
        if image[7:19] in BUILT or str(info.get("Container", ""))[:12] in BUILT:
            ours.add(image)
    eng.remove_images(ours)
    eng.close()


@pytest.fixture
def no_leaks(engine: Engine) -> Iterator[None]:
    """Fail the test if it leaves a container behind."""
    before = engine.container_ids()
    yield
    left = engine.container_ids() - before
    assert not left, f"containers left behind: {sorted(c[:12] for c in left)}"


def remove_build(engine: Engine, report: dict[str, Any]) -> None:
    """Remove what a --no-cache test build made: the failed container, step images, tags."""
    if report.get("failed_container"):
        engine.remove_container(report["failed_container"])
    for tag in report.get("tags", []):
        engine.remove_image(tag)
    for step in reversed(report.get("steps", [])):
        # FROM steps show the base image, which is not ours; --no-cache made every other one.
        if step["image"] and step["instruction"] != "FROM" and not step["cached"]:
            engine.remove_image(step["image"])
    if report.get("image"):
        engine.remove_image(report["image"])

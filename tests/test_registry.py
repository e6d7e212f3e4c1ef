"""A private registry, as the seed runs one: Distribution 2.8 on loopback with TLS and htpasswd.

The pure tests read what the classic builder printed when a FROM could not be pulled
(tests/record_registry.py recorded them on Engine 26); the docker tests build through
dbugbuild against the `registry` fixture (tests/daemons.py) with the credentials that
`docker login` stored, and without them. No password may appear in any output.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import daemons
from conftest import FIXTURES, remove_build, run_cli
from daemons import Endpoint, registry
from dbugbuild import diagnosis, dockerfile, logs
from dbugbuild.engine import Engine
from dbugbuild.report import Diagnosis, locate

__all__ = ["registry"]  # the fixture, used by name below

RECORDED = FIXTURES / "logs" / "registry"


def _meta(case: str) -> dict[str, Any]:
    loaded = json.loads((RECORDED / f"{case}.meta.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _diagnosis(case: str) -> tuple[logs.BuildLog, Diagnosis]:
    text = _meta(case)["dockerfile"]
    log = logs.parse([(RECORDED / f"{case}.txt").read_text()])
    report = locate(
        log,
        dockerfile=dockerfile.parse(text),
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    )
    assert report.failed_step is not None
    return log, diagnosis.diagnose(report.failed_step, diagnosis.Facts(dockerfile_text=text))


def test_registry_recordings_are_engine_26s() -> None:
    for case in ("anonymous-pull", "wrong-password", "tag-not-found"):
        meta = _meta(case)
        assert meta["versions"]["engine"].startswith("26.1.5")
        assert meta["registry"]["address"] == "127.0.0.1:5000"
        assert meta["exit_code"] == 1


def test_registry_anonymous_pull_is_a_base_image_failure_with_the_login_to_run() -> None:
    log, found = _diagnosis("anonymous-pull")
    assert log.failure == logs.Failure(
        'Head "https://127.0.0.1:5000/v2/busybox/manifests/latest": no basic auth credentials',
        None,
        None,
        None,
        False,
    )
    assert [s.instruction for s in log.steps] == ["FROM"]
    assert log.steps[0].output_tail == ()  # the error is not the step's output
    assert found == Diagnosis(
        "base-image",
        "The registry 127.0.0.1:5000 wants credentials to pull `127.0.0.1:5000/busybox`, and "
        "the docker CLI has none stored for it.",
        (
            "Log in: `docker login 127.0.0.1:5000` (the build uses the docker CLI's stored "
            "credentials, credential helpers included), then run dbugbuild again.",
        ),
        (
            'builder: "Head "https://127.0.0.1:5000/v2/busybox/manifests/latest": no basic auth '
            'credentials"',
        ),
    )


def test_registry_refused_credentials_name_the_registry_from_the_from_line() -> None:
    # The daemon's message names no registry: it comes from the reference.
    log, found = _diagnosis("wrong-password")
    assert log.failure is not None
    assert log.failure.message == "unauthorized: authentication required"
    assert found.class_ == "base-image"
    assert (
        found.summary
        == "The registry 127.0.0.1:5000 refused to let `127.0.0.1:5000/busybox` be pulled."
    )
    assert found.hints[0].startswith("Log in: `docker login 127.0.0.1:5000` ")


def test_registry_missing_tag_is_no_login_problem() -> None:
    log, found = _diagnosis("tag-not-found")
    assert log.failure is not None and log.failure.message.startswith("manifest for ")
    assert found.class_ == "base-image"
    assert not any("docker login" in hint for hint in found.hints)


@pytest.mark.parametrize(
    ("ref", "message", "registry"),
    [
        ("busybox", "pull access denied for busybox, repository does not exist", "docker.io"),
        ("me/private:1", "unauthorized: authentication required", "docker.io"),
        ("localhost/app", "unauthorized: authentication required", "localhost"),
        ("ghcr.io/me/app", 'Head "https://ghcr.io/v2/me/app/manifests/latest": denied', "ghcr.io"),
        ("registry.example:5000/a/b", "unauthorized: x", "registry.example:5000"),
    ],
)
def test_registry_login_hint_names_the_registry(ref: str, message: str, registry: str) -> None:
    step = locate(
        logs.BuildLog(
            steps=(logs.Step(1, 1, f"FROM {ref}", "FROM", None, False, None, 0, ()),),
            failure=logs.Failure(message, None, None, None, False),
            image=None,
            tags=(),
        ),
        dockerfile=dockerfile.parse(f"FROM {ref}\n"),
        source=f"FROM {ref}\n",
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    ).failed_step
    assert step is not None
    found = diagnosis.diagnose(step, diagnosis.Facts(dockerfile_text=f"FROM {ref}\n"))
    login = "docker login" if registry == "docker.io" else f"docker login {registry}"
    assert found.class_ == "base-image"
    assert f"Log in: `{login}` " in found.hints[0]


# --- Through dbugbuild, against the registry fixture ---------------------------------------

FAILING = "FROM {image}\nRUN echo from-the-registry && exit 4\n"


@pytest.fixture
def image(registry: Endpoint, engine: Engine) -> Iterator[str]:
    """The registry's busybox, not pulled into the main daemon before nor left after."""
    del engine  # the main daemon, whose tag of the pulled image is removed
    ref = f"{registry.facts['images'][0]}:latest"
    _untag(ref)
    yield ref
    _untag(ref)


def _untag(ref: str) -> None:
    # The pulled image is busybox:latest's (pushed from it): removing the tag keeps the image.
    subprocess.run(["docker", "rmi", ref], env=daemons.base_env(), capture_output=True, check=False)


def _secrets(registry: Endpoint) -> list[str]:
    password = registry.facts["password"]
    pair = f"{registry.facts['user']}:{password}".encode()
    return [password, base64.b64encode(pair).decode()]


def _build(registry: Endpoint, config: str, tmp_path: Path, image: str, *args: str) -> Any:
    (tmp_path / "Dockerfile").write_text(FAILING.format(image=image))
    env = registry.client_env(DOCKER_CONFIG=config)
    run = run_cli(["--no-cache", "--format", "json", *args, "."], tmp_path, env=env)
    for secret in _secrets(registry):
        assert secret not in run.stdout + run.stderr
    return run


@pytest.mark.docker
def test_registry_build_with_the_stored_login(
    registry: Endpoint, engine: Engine, no_leaks: None, tmp_path: Path, image: str
) -> None:
    for args in ((), ("--pull",)):
        run = _build(
            registry, registry.facts["config"], tmp_path, image, "--exec", "echo ok", *args
        )
        report = run.json()
        try:
            assert run.code == 0, run.stderr
            pulled = engine.image_id(image)  # the build pulled it with the stored login
            assert pulled is not None and report["steps"][0]["image"] == pulled[7:19]
            assert report["failed_step"]["exit_code"] == 4
            assert report["exec"][0]["output"] == "ok\n"
        finally:
            remove_build(engine, report)


@pytest.mark.docker
def test_registry_build_with_a_credential_helper(
    registry: Endpoint, engine: Engine, no_leaks: None, tmp_path: Path, image: str
) -> None:
    # The CLI's credential helpers: `docker-credential-NAME get` answers for the registry.
    helper_dir, config = tmp_path / "bin", tmp_path / "config"
    helper_dir.mkdir()
    config.mkdir()
    asked = tmp_path / "asked.log"
    answer = json.dumps({"Username": registry.facts["user"], "Secret": registry.facts["password"]})
    helper = helper_dir / "docker-credential-dbugbuildtest"
    helper.write_text(f"#!/bin/sh\necho \"$1\" >> {asked}\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(0o755)
    (config / "config.json").write_text(
        json.dumps({"credHelpers": {registry.facts["address"]: "dbugbuildtest"}})
    )
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(FAILING.format(image=image))
    env = registry.client_env(
        DOCKER_CONFIG=str(config), PATH=f"{helper_dir}:{registry.client_env()['PATH']}"
    )
    run = run_cli(["--no-cache", "--pull", "--format", "json", "."], context, env=env)
    report = run.json()
    try:
        assert run.code == 4, run.stderr
        assert report["failed_step"]["exit_code"] == 4
        assert "get" in asked.read_text().split()
        for secret in _secrets(registry):
            assert secret not in run.stdout + run.stderr
    finally:
        remove_build(engine, report)


@pytest.mark.docker
def test_registry_without_login_names_the_login_to_run(
    registry: Endpoint, engine: Engine, no_leaks: None, tmp_path: Path, image: str
) -> None:
    address = registry.facts["address"]
    for args in ((), ("--pull",)):
        run = _build(registry, registry.facts["anonymous_config"], tmp_path, image, *args)
        report = run.json()
        assert run.code == 1, run.stderr
        assert report["failed_step"]["instruction"] == "FROM"
        assert report["failed_step"]["line"] == 1
        assert "no basic auth credentials" in report["failed_step"]["message"]
        found = report["diagnosis"]
        assert found["class"] == "base-image"
        assert f"The registry {address} wants credentials" in found["summary"]
        assert found["hints"][0].startswith(f"Log in: `docker login {address}` ")
        assert report["notes"] == []  # recognised: no "did not recognise this error"
        assert "Traceback" not in run.stderr

"""dbugbuild reaches the daemon the docker CLI would: DOCKER_HOST, then the current context."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import remove_build, run_cli
from dbugbuild.engine import Engine

pytestmark = pytest.mark.docker


def _context(config: Path, name: str, host: str) -> None:
    subprocess.run(
        ["docker", "--config", str(config), "context", "create", name, "--docker", f"host={host}"],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))  # read by the CLI and by docker-py
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return config


def test_endpoint_context_is_honoured(
    engine: Engine, no_leaks: None, tmp_path: Path, docker_config: Path
) -> None:
    _context(docker_config, "nowhere", f"unix://{tmp_path}/nobody-listens.sock")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
    env = {**os.environ, "DOCKER_CONTEXT": "nowhere"}
    run = run_cli(["--no-cache", "."], tmp_path, env=env)
    assert run.code == 69
    assert run.stderr.startswith("dbugbuild: error: no Docker daemon is reachable")
    assert f"{tmp_path}/nobody-listens.sock" in run.stderr

    _context(docker_config, "here", "unix:///var/run/docker.sock")
    env = {**os.environ, "DOCKER_CONTEXT": "here"}
    run = run_cli(["--no-cache", "--format", "json", "--exec", "echo via-context", "."],
                  tmp_path, env=env)  # fmt: skip
    report = run.json()
    try:
        assert run.code == 0
        assert report["failed_step"]["exit_code"] == 3
        assert report["exec"][0]["output"] == "via-context\n"
        assert report["notes"] == [
            "the failed container is removed when the commands are done (--keep keeps it)"
        ]
        assert not engine.container_exists(report["failed_container"])
    finally:
        remove_build(engine, report)


def test_endpoint_docker_host_wins_over_context(
    engine: Engine, tmp_path: Path, docker_config: Path
) -> None:
    _context(docker_config, "here", "unix:///var/run/docker.sock")
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    env = {
        **os.environ,
        "DOCKER_CONTEXT": "here",
        "DOCKER_HOST": f"unix://{tmp_path}/no.sock",
    }
    run = run_cli(["."], tmp_path, env=env)
    assert run.code == 69
    assert f"unix://{tmp_path}/no.sock" in run.stderr

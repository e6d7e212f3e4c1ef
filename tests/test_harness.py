"""The fast suite is hermetic: a test without the docker mark cannot reach a daemon, even when
one is running, neither by the process environment nor by an `env` it hands to run_cli."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import NO_ENDPOINT, run_cli
from dbugbuild.engine import Engine
from dbugbuild.errors import EngineUnavailableError


def test_harness_unmarked_test_has_no_endpoint() -> None:
    assert os.environ["DOCKER_HOST"] == NO_ENDPOINT
    assert "DOCKER_CONTEXT" not in os.environ
    with pytest.raises(EngineUnavailableError, match="no Docker daemon is reachable"):
        Engine.connect(os.environ)


def test_harness_run_cli_env_without_endpoint_gets_none(tmp_path: Path) -> None:
    """`clean` must connect; with an env naming no DOCKER_HOST it still finds no daemon."""
    run = run_cli(["clean"], tmp_path, env={"PATH": os.environ.get("PATH", "")})
    assert run.code == 69
    assert NO_ENDPOINT.removeprefix("unix://") in run.stderr

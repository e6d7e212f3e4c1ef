"""The fast suite is hermetic: a test without the docker mark cannot reach a daemon, even when
one is running, neither by the process environment nor by an `env` it hands to run_cli."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def test_harness_unmarked_test_has_no_podman_endpoint() -> None:
    """CONTAINER_HOST names nowhere: no Podman service is found, and none is started."""
    from conftest import NO_PODMAN

    assert os.environ["CONTAINER_HOST"] == NO_PODMAN
    with pytest.raises(EngineUnavailableError, match="no Podman service is reachable"):
        Engine.connect_podman(os.environ)


def test_harness_podman_mark_fails_under_ci_without_podman(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the docker mark: without a usable podman a podman test skips, but under CI=true
    it fails (a green CI must mean the Podman tests ran)."""
    import podman_harness

    broken = tmp_path / "setup-podman.sh"
    broken.write_text("echo 'setup-podman: podman is not installed' >&2; exit 1\n")
    monkeypatch.setattr(podman_harness, "SETUP", broken)
    monkeypatch.setattr(podman_harness, "_conf", [])
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no usable podman"):
        podman_harness.conf()
    monkeypatch.setenv("CI", "")
    # The set-up's own last word is the reason; without bash, that bash is missing.
    why = "podman is not installed" if shutil.which("bash") else "No such file .*'bash'"
    with pytest.raises(pytest.skip.Exception, match=f"no usable podman: .*{why}"):
        podman_harness.conf()


def test_harness_podman_session_clean_up_reads_the_store_once_a_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """remove_session_images lists the store once per removal round, not once per image: with
    a few hundred images in the store, each `podman images -a` takes about a second (this
    cost the suite minutes at its end). Only the harness's own bookkeeping is under test."""
    import podman_harness

    store = {f"{n:064x}" for n in range(40)}
    monkeypatch.setattr(podman_harness, "PRINTED", {i[:12] for i in store})
    listed: list[int] = []

    def images() -> set[str]:
        listed.append(len(store))
        return set(store)

    def rmi(argv: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv[:3] == ["podman", "rmi", "-f"]
        store.difference_update(argv[3:])
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(podman_harness, "conf", lambda: "containers.conf")
    monkeypatch.setattr(podman_harness, "images", images)
    monkeypatch.setattr(podman_harness.subprocess, "run", rmi)
    podman_harness.remove_session_images(set())
    assert (store, listed) == (set(), [40, 0])

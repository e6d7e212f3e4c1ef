"""The BuildKit backend without a daemon: the CLI it runs for the user's options (docker's
spelling), the fallback for a CLI without buildx, and the debug layer it cannot make yet."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from dbugbuild import backends
from dbugbuild.backends.buildkit import INSTALL_BUILDX
from dbugbuild.errors import EngineError
from dbugbuild.options import BuildOptions

EVERY = BuildOptions(
    context="app",
    file="app/Dockerfile.ci",
    tags=("app:1", "app:latest"),
    build_args=("VERSION=1.2", "TOKEN"),
    target="test",
    no_cache=True,
    pull=True,
    network="host",
    platform="linux/amd64,linux/arm64",
    labels=("org.example.ci=1",),
    secrets=("id=npmrc,src=.npmrc", "id=token,env=TOKEN"),
    ssh=("default",),
)
OPTIONS = (
    "--progress=plain", "--file", "app/Dockerfile.ci", "--tag", "app:1", "--tag", "app:latest",
    "--build-arg", "VERSION=1.2", "--build-arg", "TOKEN", "--target", "test", "--no-cache",
    "--pull", "--network", "host", "--platform", "linux/amd64,linux/arm64", "--label",
    "org.example.ci=1", "--secret", "id=npmrc,src=.npmrc", "--secret", "id=token,env=TOKEN",
    "--ssh", "default", "app",
)  # fmt: skip


def test_buildkit_backend_runs_buildx_with_the_options_as_given() -> None:
    command = backends.backend("buildkit").build_command(EVERY, "/work", None)
    assert (command.program, command.cwd, command.plugin) == ("docker", "/work", "buildx")
    assert command.argv == ("buildx", "build", "--load", *OPTIONS)
    assert dict(command.env) == {}
    assert command.install_hint == INSTALL_BUILDX


def test_buildkit_backend_falls_back_to_the_clis_own_buildkit() -> None:
    """A CLI without the buildx plugin (before 23: BuildKit built in) runs `docker build`."""
    command = backends.backend("buildkit").build_command(EVERY, "/work", b"FROM x\n")
    fallback = command.fallback
    assert fallback is not None
    assert (fallback.argv, dict(fallback.env)) == (("build", *OPTIONS), {"DOCKER_BUILDKIT": "1"})
    assert fallback.stdin_data == command.stdin_data == b"FROM x\n"
    assert fallback.plugin is None


@pytest.mark.parametrize(
    "build",
    [BuildOptions(builder="farm"), BuildOptions(build_contexts=("src=../src",))],
)
def test_buildkit_backend_buildx_only_options_have_no_fallback(build: BuildOptions) -> None:
    command = backends.backend("buildkit").build_command(build, "/work", None)
    assert command.fallback is None
    if build.builder:
        assert command.argv[:5] == ("buildx", "build", "--builder", "farm", "--load")


def test_buildkit_backend_reads_its_own_log_family() -> None:
    parser = backends.backend("buildkit").log_parser()
    parser.feed((FIXTURES / "buildkit" / "logs" / "success.log").read_text())
    log = parser.close()
    assert (log.family, log.succeeded, len(log.steps)) == ("buildkit", True, 4)


def test_buildkit_backend_debug_layer_says_what_is_missing() -> None:
    # Its last good layer is a prefix build (bk-debug: tests/test_buildkit_layer.py); with no
    # inputs to rebuild from, it says so before it touches the daemon.
    from dbugbuild.backends import FailureSite
    from dbugbuild.logs import BuildLog
    from dbugbuild.report import Report

    site = FailureSite(
        Report("failed", "Dockerfile", None, (), None, None, None, (), 1, builder="buildkit"),
        BuildLog((), None, None, ()),
        None,
        {},
        None,
    )
    with pytest.raises(EngineError, match="no build inputs reached the BuildKit backend"):
        backends.backend("buildkit").debug_layer(None, site, {})  # type: ignore[arg-type]

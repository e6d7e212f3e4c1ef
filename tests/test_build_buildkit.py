"""`dbugbuild PATH` building with BuildKit on the real daemon (Engine 26, buildx 0.13): each
failure of issue 11 built live, in-process (`--format json --no-shell`), reports the right
step (i/n per stage), lines, stage, exit code and class; the builder is chosen as docs say
(auto, --backend, DOCKER_BUILDKIT); the live report is the --log report of its output.

The cases are tests/fixtures/buildkit/cases/ (whose recorded logs test the parser), each
built from a copy with a line `ENV DBUGBUILD_TEST_RUN=<unique>` after every FROM: BuildKit
merges identical vertices of builds that run at once on a shared builder (the vertex then
carries the other build's name, and its output goes to the other build), and the ENV
makes every RUN of ours unique without changing its `i/n`. Lines are checked against the
copy. A failed BuildKit build leaves no image and no container; a successful one leaves
its tagged image, removed here. The build cache is never pruned (the builder is shared).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, TESTS, Run, remove_build, run_cli
from dbugbuild.engine import Engine
from dbugbuild.engine.build import plugin_binary

pytestmark = pytest.mark.docker

CASES = FIXTURES / "buildkit" / "cases"
TAG = "dbugbuild-test-bkbuild"

# (case, extra options): (index, total, instruction, line, end_line, stage, exit code, class).
# `--backend buildkit` where the Dockerfile builds the same with both builders.
BK = ("--backend", "buildkit")
FAILURES: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {
    "heredoc-fail": ((), (2, 3, "RUN", 2, 7, None, 1, "command-failed")),
    "cache-mount-fail": ((), (2, 2, "RUN", 2, 5, None, 5, "cache-mount")),
    "secret": ((), (2, 2, "RUN", 2, 3, None, 1, "missing-secret")),
    "secret-required": ((), (2, 2, "RUN", 2, 2, None, 1, "missing-secret")),
    "mount-from-missing-stage": ((), (None, None, "RUN", 5, 6, None, 1, "mount-source")),
    "copy-chmod-missing": ((), (3, 3, "COPY", 3, 3, None, 1, "build-context")),
    "platform-arg-partial": ((), (2, 2, "RUN", 3, 4, None, 3, "platform-arg")),
    "platform-arg-undeclared": (BK, (3, 3, "RUN", 3, 3, None, 3, "platform-arg")),
    "parallel-stage-fail": (BK, (3, 3, "RUN", 6, 6, "compile", 2, "command-failed")),
    "unnamed-stage-fail": (BK, (3, 3, "RUN", 3, 3, None, 9, "command-failed")),
    "copy-missing": (BK, (3, 3, "COPY", 3, 3, None, 1, "build-context")),
    "copy-dockerignored": (BK, (3, 3, "COPY", 3, 3, None, 1, "build-context")),
    "syntax-unknown-instruction": (BK, (None, None, "RUNN", 3, 3, None, 1,
                                        "dockerfile-syntax")),
    "pull-missing-base": (BK, (None, None, "FROM", 1, 1, None, 1, "base-image")),
    "run-exit-127": (BK, (3, 3, "RUN", 3, 3, None, 127, "command-not-found")),
    "multiline-run-fail": (BK, (2, 2, "RUN", 3, 8, None, 2, "missing-file")),
    "exec-form-fail": (BK, (2, 2, "RUN", 2, 2, None, 6, "command-failed")),
    "onbuild-fail": (BK, (2, 2, "FROM", 1, 1, None, 4, "command-failed")),
}  # fmt: skip
ONBUILD_BASE = "dbugbuild-test-bklogs-onbuild-base:latest"  # the name its Dockerfile uses


def _isolated(case: str, tmp_path: Path) -> tuple[Path, Callable[[int | None], int | None]]:
    """A copy of the case whose RUNs no other build shares, and how its lines moved."""
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    lines = (folder / "Dockerfile").read_text().splitlines(keepends=True)
    out, froms = [], []
    for number, line in enumerate(lines, start=1):
        out.append(line)
        if line.upper().startswith("FROM "):
            out.append(f"ENV DBUGBUILD_TEST_RUN={uuid.uuid4().hex}\n")
            froms.append(number)
    (folder / "Dockerfile").write_text("".join(out))

    def moved(line: int | None) -> int | None:
        return None if line is None else line + sum(1 for f in froms if f < line)

    return folder, moved


def _summary(report: dict[str, Any]) -> tuple[Any, ...]:
    step = report["failed_step"]
    return (step["index"], step["total"], step["instruction"], step["line"], step["end_line"],
            step["stage"], report["exit_code"], report["diagnosis"]["class"])  # fmt: skip


def _build(folder: Path, *options: str, env: dict[str, str] | None = None) -> Run:
    return run_cli(["--no-cache", "--no-shell", "--format", "json", *options, "."], folder, env=env)


@pytest.fixture
def onbuild_base(engine: Engine) -> Iterator[None]:
    done = subprocess.run(
        ["docker", "buildx", "build", "--progress=plain", "--load", "-t", ONBUILD_BASE, "."],
        cwd=CASES / "onbuild-fail" / "base",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        subprocess.run(["docker", "rmi", ONBUILD_BASE], capture_output=True, check=False)


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_buildkit_failure_live(
    engine: Engine, no_leaks: None, request: pytest.FixtureRequest, tmp_path: Path, name: str
) -> None:
    if name == "onbuild-fail":
        request.getfixturevalue("onbuild_base")
    options, expected = FAILURES[name]
    folder, moved = _isolated(name, tmp_path)
    expected = (*expected[:3], moved(expected[3]), moved(expected[4]), *expected[5:])
    run = _build(folder, *options)
    report = run.json()
    try:
        assert _summary(report) == expected, run.stderr[-3000:]
        assert run.code == expected[6]  # the RUN's code, though BuildKit's CLI exits 1
        assert report["builder"] == "buildkit"
        choice = report["builder_choice"]
        assert choice["by"] == ("--backend" if options else "auto")
        if not options:  # the Dockerfile's own line decided it
            assert choice["line"] is not None
        assert report["last_good_image"] is None and report["failed_container"] is None

        # The same output, saved and read back with --log, gives the same report.
        log = tmp_path / "build.log"
        log.write_text(run.stderr)
        again = run_cli(["--log", str(log), "--format", "json", "--no-shell"], folder)
        from_log = again.json()
        assert from_log["builder_choice"]["by"] == "log"
        if name.startswith("secret"):  # a saved log does not say which secrets were given
            report.pop("diagnosis")
            from_log.pop("diagnosis")
        report.pop("builder_choice")
        from_log.pop("builder_choice")
        assert from_log == report
        assert again.code == run.code
    finally:
        remove_build(engine, report)


def test_buildkit_heredoc_is_no_longer_a_success(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    """The classic builder drops a heredoc's body and says `build succeeded`; auto builds it
    with BuildKit, which runs the script, and the report says which line decided that."""
    run = _build(_isolated("heredoc-fail", tmp_path)[0])
    report = run.json()
    assert (run.code, report["status"], report["builder"]) == (1, "failed", "buildkit")
    assert report["builder_choice"] == {
        "by": "auto",
        "reason": "line 3 has a heredoc in RUN, which the classic builder does not run",
        "line": 3,
    }
    assert report["failed_step"]["output_tail"] == ["heredoc step starts"]


def test_buildkit_success_with_target_and_tag(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    folder, _ = _isolated("target-middle", tmp_path)
    run = _build(folder, *BK, "--target", "middle", "-t", f"{TAG}-middle")
    report = run.json()
    try:
        assert (run.code, report["status"], report["failed_step"]) == (0, "succeeded", None)
        assert report["tags"] == [f"docker.io/library/{TAG}-middle"]  # as BuildKit names it
        image = engine.image_id(f"{TAG}-middle")
        assert image is not None and image.removeprefix("sha256:")[:12] == report["image"]
        # The FROM is BuildKit's shared vertex: another build running at once may name it.
        ran = [(s["stage"], s["index"], s["line"]) for s in report["steps"]]
        assert [r for r in ran if r[1] != 1 or r[0] == "middle"] == [
            ("base", 2, 3), ("middle", 1, 7), ("middle", 2, 8)
        ]  # fmt: skip
    finally:
        remove_build(engine, report)
    assert engine.image_id(f"{TAG}-middle") is None


def test_buildkit_secret_passed_builds(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    folder, _ = _isolated("secret", tmp_path)
    run = _build(folder, "--secret", "id=tok,src=tok.txt", "-t", f"{TAG}-secret")
    report = run.json()
    try:
        assert (run.code, report["status"]) == (0, "succeeded"), run.stderr[-2000:]
        assert "secret bytes: 17" in run.stderr
    finally:
        remove_build(engine, report)


def test_buildkit_plain_dockerfile_keeps_the_classic_builder(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    run = _build(_isolated("run-exit-127", tmp_path)[0])
    report = run.json()
    try:
        assert (report["builder"], report["builder_choice"]["by"]) == ("classic", "auto")
        assert report["builder_choice"]["line"] is None
        assert report["failed_container"] is not None  # the classic builder keeps it
        assert report["failed_step"]["index"] == 4 and run.code == 127
    finally:
        remove_build(engine, report)


@pytest.mark.parametrize(
    ("env", "options", "builder", "by"),
    [
        ({"DOCKER_BUILDKIT": "1"}, (), "buildkit", "DOCKER_BUILDKIT"),
        ({}, BK, "buildkit", "--backend"),
        ({"DOCKER_BUILDKIT": "1"}, ("--backend", "classic"), "classic", "--backend"),
    ],
)
def test_buildkit_chosen_by_the_environment_or_the_option(
    engine: Engine, no_leaks: None, tmp_path: Path, env: dict[str, str],
    options: tuple[str, ...], builder: str, by: str,
) -> None:  # fmt: skip
    folder, _ = _isolated("run-exit-100", tmp_path)
    run = _build(folder, *options, env={**os.environ, **env})
    report = run.json()
    try:
        assert (report["builder"], report["builder_choice"]["by"]) == (builder, by)
        assert (run.code, report["failed_step"]["line"]) == (100, 5)
        assert report["failed_step"]["index"] == (3 if builder == "buildkit" else 5)
        # BuildKit can lose a failing step's output under load (its own race between the
        # process's logs and its error: docker/cli#1291); the report then has nothing to tell
        # apt's error by. With apt's line, the class is package-not-found.
        said = any("Unable to locate package" in ln for ln in report["failed_step"]["output_tail"])
        expected = "package-not-found" if said or builder == "classic" else "command-failed"
        assert report["diagnosis"]["class"] == expected, (
            report["failed_step"]["output_tail"], report["diagnosis"])  # fmt: skip
    finally:
        remove_build(engine, report)


def test_buildkit_forced_classic_on_a_buildkit_dockerfile(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    """DOCKER_BUILDKIT=0 is obeyed as docker obeys it; the report says why it failed."""
    folder, _ = _isolated("cache-mount-fail", tmp_path)
    run = _build(folder, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    report = run.json()
    try:
        assert (run.code, report["builder"]) == (1, "classic")
        assert report["diagnosis"]["class"] == "dockerfile-syntax"
        assert report["diagnosis"]["summary"] == (
            "Line 3 uses `--mount`, which only BuildKit runs, and the classic builder was "
            "asked for."
        )
        assert any(n.startswith("the classic builder was asked for") for n in report["notes"])
    finally:
        remove_build(engine, report)


def test_buildkit_option_refused_on_the_classic_builder(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    run = run_cli(["--backend", "classic", "--secret", "id=a,src=a", "."], tmp_path)
    assert (run.code, run.stderr) == (
        2,
        "dbugbuild: error: --secret is a BuildKit option, and the classic builder was chosen "
        "(--backend classic). Build with BuildKit: --backend buildkit (or unset "
        "DOCKER_BUILDKIT=0)\n",
    )


def test_buildkit_builder_is_passed_to_buildx(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    run = _build(_isolated("run-exit-127", tmp_path)[0], "--builder", "default")
    report = run.json()
    assert (report["builder"], report["builder_choice"]["reason"]) == (
        "buildkit",
        "--builder names a buildx builder",
    )
    assert run.code == 127
    assert '#0 building with "default" instance' in run.stderr
    nope = _build(CASES / "run-exit-127", "--builder", "dbugbuild-no-such-builder")
    assert nope.code == 2
    assert nope.stderr.splitlines()[-1] == (
        "dbugbuild: error: docker build failed before the build started (exit 1): ERROR: no "
        'builder "dbugbuild-no-such-builder" found. See docker\'s message above'
    )


def test_buildkit_text_report_says_which_builder_and_why(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    run = run_cli(["--no-cache", "--no-shell", "."], _isolated("cache-mount-fail", tmp_path)[0])
    assert run.code == 5
    assert (
        "  built with: buildkit (auto: line 3 uses `RUN --mount`, which the classic builder "
        "refuses)\n" in run.stdout
    )


def test_buildkit_exec_and_bisect_run_in_prefix_builds(engine: Engine, no_leaks: None) -> None:
    """BuildKit keeps no layer: --exec runs in a prefix build of the Dockerfile (its cache
    mount emulated), and bisect's probes are prefix builds (tests/test_buildkit_debug.py)."""
    run = run_cli(
        ["--no-shell", "--exec", "ls /root/.cache", "--format", "json", "."],
        CASES / "cache-mount-fail",
    )
    assert run.code == 0, run.stderr
    assert run.json()["exec"][0]["output"] == ""  # the emulated cache starts empty
    assert "it starts empty, unlike BuildKit's cache" in run.stderr
    bisect = run_cli(["bisect", "--check", "false", "."], CASES / "cache-mount-fail")
    assert bisect.code == 5, bisect.stderr  # the only layer before the failure fails it too
    assert "making the layer of step 1 (prefix build, cached) ... done" in bisect.stderr


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root")
def test_buildkit_without_buildx_is_exit_69_with_the_install_hint(engine: Engine) -> None:
    """The docker CLI 28 without its buildx plugin (hidden by a private mount namespace, as
    tests/record_buildkit.py records it): `DOCKER_BUILDKIT=1 docker build` refuses, and
    dbugbuild says what to install."""
    plugins = Path("/usr/libexec/docker/cli-plugins")
    script = (
        f"mount -t tmpfs none {plugins} && "
        f"exec {sys.executable} -m dbugbuild --no-shell --format json --backend buildkit ."
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=CASES / "run-exit-127",
        env={**os.environ, "PYTHONPATH": str(TESTS.parent / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 69, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "dbugbuild: error: the docker CLI has no buildx plugin, which this build needs. Install "
        "the buildx plugin (Debian: 'apt-get install docker-buildx'; elsewhere "
        "https://github.com/docker/buildx#installing), or build with --backend classic"
    )
    assert "BuildKit is enabled but the buildx component is missing or broken" in done.stderr
    assert json.loads(done.stdout or "null") is None


def test_buildkit_runs_the_buildx_plugin_the_docker_cli_would(tmp_path: Path) -> None:
    """`docker buildx build` is the buildx plugin's file, run by the CLI after two process
    starts of its own; dbugbuild runs that file itself (the one the CLI would: the user's
    plugin folder first), unless config.json names plugin folders of its own, where the CLI
    decides. A plugin in a private DOCKER_CONFIG records how it is run, then is the real one."""
    real = plugin_binary("buildx", {"DOCKER_CONFIG": str(tmp_path / "none")})
    assert real is not None, "no buildx plugin in the system plugin folders"
    config = tmp_path / "config"
    (config / "cli-plugins").mkdir(parents=True)
    calls = tmp_path / "calls"
    wrapper = config / "cli-plugins" / "docker-buildx"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(f"FROM busybox\nRUN echo {uuid.uuid4().hex} && exit 4\n")
    env = {**os.environ, "DOCKER_CONFIG": str(config)}

    def build() -> list[str]:
        calls.unlink(missing_ok=True)
        run = run_cli(["--no-shell", "--format", "json", *BK, "."], project, env=env)
        report = run.json()
        assert (run.code, report["failed_step"]["line"]) == (4, 2), run.stderr
        return calls.read_text().splitlines()

    assert build() == ["build --load --progress=plain ."]  # no CLI: no metadata call either
    (config / "config.json").write_text('{"cliPluginsExtraDirs": []}')
    assert build() == ["docker-cli-plugin-metadata", "buildx build --load --progress=plain ."]

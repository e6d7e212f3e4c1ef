"""--exec and --retry run in the failed step's exact environment (SHELL, USER, WORKDIR, ENV,
build ARGs, exec form), whether the builder's failed container is there or rebuilt from a
saved log; and nothing dbugbuild made is left behind."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, docker_api, own_label, remove_build, run_cli
from dbugbuild.engine import LABEL, Engine

pytestmark = pytest.mark.docker


def _dockerfile(tmp_path: Path, text: str) -> None:
    (tmp_path / "Dockerfile").write_text(text)


def _dbugbuild(tmp_path: Path, *args: str) -> tuple[Run, dict[str, Any]]:
    """A --no-cache build of tmp_path with a json report (stderr holds the build's output)."""
    run = run_cli(["--no-cache", "--format", "json", *args, "."], tmp_path)
    return run, run.json()


def _results(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["exit_code"], e["output"]) for e in report["exec"]]


def _ours(engine: Engine, report: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Labelled containers and images that grew from this build's own layers.

    Other sessions may share the daemon, so only descendants of images this build made
    count: not of a FROM image, which is why no test here fails right after its FROM.
    """
    api = docker_api()
    own = {s["image"] for s in report["steps"] if s["instruction"] != "FROM"}
    roots = own | {report["last_good_image"]}  # an ONBUILD parent's is ours too
    found = {engine.image_id(r) for r in roots if r}
    layers = {i for i in found if i is not None}
    images = {
        i["Id"]: i.get("ParentId", "") for i in api.images(all=True, filters={"label": own_label()})
    }
    grown: set[str] = set()
    while True:
        more = {i for i, parent in images.items() if parent in layers | grown} - grown
        if not more:
            break
        grown |= more
    containers = {
        c["Id"]
        for c in api.containers(all=True, filters={"label": own_label()})
        if c["ImageID"] in layers | grown
    }
    return containers, grown


def _assert_no_trace(engine: Engine, report: dict[str, Any]) -> None:
    """The failed container is gone and no labelled container or image of ours remains."""
    if report["failed_container"]:
        assert not engine.container_exists(report["failed_container"])
    assert _ours(engine, report) == (set(), set())


def _docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


# -- 1-6: the failed container is there ---------------------------------------------------


def test_fidelity_shell_pipefail(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """`false | true` fails only under pipefail: the build, the retry and a typed command all
    fail, so all three ran through the step's SHELL."""
    _dockerfile(
        tmp_path,
        'FROM debian:bookworm\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN false | true\n',
    )
    run, report = _dbugbuild(tmp_path, "--retry", "--exec", "false | true")
    try:
        assert report["failed_step"]["exit_code"] == 1
        assert report["retry"] == {"command": "false | true", "exit_code": 1, "output": ""}
        assert _results(report) == [(1, "")]
        assert run.code == 1
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_user(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM busybox\nUSER 1234\nRUN id -u && exit 3\n")
    run, report = _dbugbuild(tmp_path, "--retry", "--exec", "id -u")
    try:
        assert report["failed_step"]["output_tail"] == ["1234"]
        assert report["retry"]["exit_code"] == 3
        assert report["retry"]["output"] == "1234\n"
        assert _results(report) == [(0, "1234\n")]
        assert run.code == 0  # the last command's status
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_workdir(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM busybox\nWORKDIR /some/dir\nRUN exit 2\n")
    run, report = _dbugbuild(tmp_path, "--exec", "pwd")
    try:
        assert _results(report) == [(0, "/some/dir\n")]
        assert run.code == 0
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_build_args(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """--build-arg, an ARG default, a redeclared meta ARG (its default); an undeclared meta ARG
    stays invisible in the stage."""
    _dockerfile(
        tmp_path,
        "ARG M=meta-default\nARG HIDDEN=meta-only\nFROM busybox\n"
        "ARG M\nARG A\nARG B=b-default\nRUN exit 4\n",
    )
    run, report = _dbugbuild(
        tmp_path, "--build-arg", "A=from-cli", "--exec", 'echo "$A|$B|$M|$HIDDEN"'
    )
    try:
        assert report["failed_step"]["exit_code"] == 4
        assert _results(report) == [(0, "from-cli|b-default|meta-default|\n")]
        assert run.code == 0
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_env_old_syntax(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    _dockerfile(tmp_path, "FROM busybox\nENV K some value\nRUN exit 5\n")
    run, report = _dbugbuild(tmp_path, "--exec", 'echo "[$K]"')
    try:
        assert _results(report) == [(0, "[some value]\n")]
        assert run.code == 0
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_exec_form_retry(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """An exec-form RUN retries as its exec array: `$HOME` reaches ls unexpanded, so no shell
    ran it; the retry's code and output are the build's."""
    _dockerfile(tmp_path, 'FROM busybox\nENV X=1\nRUN ["/bin/ls", "/no-such-$HOME"]\n')
    run, report = _dbugbuild(tmp_path, "--retry")
    try:
        code = report["failed_step"]["exit_code"]
        assert code != 0
        assert report["failed_step"]["output_tail"] == [
            "ls: /no-such-$HOME: No such file or directory"
        ]
        assert report["retry"] == {
            "command": '["/bin/ls", "/no-such-$HOME"]',
            "exit_code": code,
            "output": "ls: /no-such-$HOME: No such file or directory\n",
        }
        assert run.code == code
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


# -- 7-8: from a saved log ----------------------------------------------------------------

_ALL_IN_ONE = """\
ARG M=meta-default
FROM busybox
ARG M
ARG A
ARG B=b-default
ENV K some value
SHELL ["/bin/sh", "-o", "pipefail", "-c"]
WORKDIR /some/dir
USER 1234
RUN false | true
"""
_PROBE = 'echo "$(id -u) $PWD $A|$B|$M|$K"'


def test_fidelity_from_log_container_gone(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """--log --exec gives the same results from the failed container as when it is gone and
    the environment is rebuilt from the Dockerfile, the build args and the last good image."""
    _dockerfile(tmp_path, _ALL_IN_ONE)
    options = ["--build-arg", "A=from-cli"]
    debug = ["--retry", "--exec", "false | true", "--exec", _PROBE]
    expected_exec = [(1, ""), (0, "1234 /some/dir from-cli|b-default|meta-default|some value\n")]
    build, report = _dbugbuild(tmp_path, *options, "--no-shell", "--keep")
    try:
        assert build.code == 1
        cid = report["failed_container"]
        assert engine.container_exists(cid)
        log = tmp_path / "build.log"
        log.write_text(build.stderr)

        # The failed container is there: its config is the truth (--keep keeps it for below).
        kept, from_kept = _dbugbuild(tmp_path, *options, "--log", str(log), "--keep", *debug)
        assert f"kept failed container {cid}" in kept.stderr
        assert engine.container_exists(cid)
        assert from_kept["retry"]["exit_code"] == 1
        assert _results(from_kept) == expected_exec
        assert _ours(engine, report) == (set(), set())

        # The failed container is gone: rebuilt from the log, the Dockerfile and the options.
        _docker("rm", cid)
        rebuilt, from_log = _dbugbuild(tmp_path, *options, "--log", str(log), *debug)
        assert rebuilt.code == 0
        assert from_log["retry"] == from_kept["retry"]
        assert from_log["exec"] == from_kept["exec"]
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


def test_fidelity_stale_log(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A log whose last good layer was removed since: one error line, exit 65."""
    _dockerfile(tmp_path, "FROM busybox\nENV X=1\nRUN exit 3\n")
    build, report = _dbugbuild(tmp_path, "--no-shell")
    remove_build(engine, report)
    assert report["last_good_image"] is not None
    assert engine.image_id(report["last_good_image"]) is None
    log = tmp_path / "build.log"
    log.write_text(build.stderr)
    run = run_cli(["--log", str(log), "--exec", "pwd", "--format", "json", "."], tmp_path)
    assert run.code == 65
    assert run.stdout == ""
    assert re.fullmatch(r"dbugbuild: error: [^\n]*Rebuild[^\n]*\n", run.stderr), run.stderr


# -- 9-11: steps that are not a plain RUN -------------------------------------------------


def test_fidelity_copy_missing_source(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A failed COPY ran no command: commands run in the last good layer as the stage's USER in
    its WORKDIR, and --retry says there is nothing to retry (it used to run the `ls`)."""
    _dockerfile(
        tmp_path,
        "FROM busybox\nRUN mkdir /dest && touch /dest/already-here\n"
        "WORKDIR /w\nUSER 1234\nCOPY missing.txt /dest/\n",
    )
    run, report = _dbugbuild(tmp_path, "--retry", "--exec", "ls -la /dest", "--exec", _PROBE)
    try:
        assert report["failed_step"]["instruction"] == "COPY"
        assert report["failed_container"] is None
        assert "retry" not in report, report.get("retry")
        assert "dbugbuild: warning: --retry:" in run.stderr
        assert "nothing to retry" in run.stderr
        listing, probe = _results(report)
        assert listing[0] == 0
        assert "already-here" in listing[1]
        assert probe == (0, "1234 /w |||\n")
        assert run.code == 0
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


PARENT = "dbugbuild-test/fid-parent:latest"


def test_fidelity_onbuild_trigger(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A parent's ONBUILD RUN fails in the child's FROM step: the retry runs it in the parent,
    from the failed container and, once that is gone, from the log and the parent's triggers."""
    parent_dir = tmp_path / "parent"
    parent_dir.mkdir()
    _dockerfile(parent_dir, "FROM busybox\nRUN echo parent > /marker\nONBUILD RUN exit 5\n")
    _docker("build", "-q", "--no-cache", "-t", PARENT, str(parent_dir))
    report: dict[str, Any] = {}
    try:
        parent = engine.image_id(PARENT)
        assert parent is not None
        _dockerfile(tmp_path, f"FROM {PARENT}\nRUN true\n")
        build, report = _dbugbuild(tmp_path, "--no-shell", "--keep")
        assert build.code == 5
        assert report["failed_step"]["instruction"] == "FROM"
        assert report["last_good_image"] == parent.removeprefix("sha256:")[:12]
        log = tmp_path / "build.log"
        log.write_text(build.stderr)
        debug = ["--log", str(log), "--retry", "--exec", "cat /marker"]
        # The container is there, then gone; last, not even the Dockerfile is at hand.
        for case, extra in (("kept", []), ("rebuilt", []), ("no Dockerfile", ["-f", "none"])):
            assert engine.container_exists(report["failed_container"]) == (case == "kept")
            run, again = _dbugbuild(tmp_path, *extra, *debug)
            assert again.get("retry") == {"command": "exit 5", "exit_code": 5, "output": ""}, case
            assert _results(again) == [(0, "parent\n")]
            assert run.code == 0
            _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)
        subprocess.run(["docker", "rmi", PARENT], check=False, capture_output=True)


def test_fidelity_layer_without_shell(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """FROM scratch: the exec-form retry runs; a typed command says in one line there is no
    /bin/sh (no traceback)."""
    _dockerfile(
        tmp_path,
        "FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin/busybox /busybox\n"
        'RUN ["/busybox", "false"]\n',
    )
    run, report = _dbugbuild(tmp_path, "--retry", "--exec", "ls")
    try:
        assert report["retry"] == {"command": '["/busybox", "false"]', "exit_code": 1, "output": ""}
        # Like a shell's "command not found": no shell to run the typed command with.
        assert _results(report) == [(127, "")]
        assert run.code == 127
        said = [line for line in run.stderr.splitlines() if line.startswith("dbugbuild:")]
        assert len(said) == 1
        assert "no /bin/sh" in said[0]
        assert "Traceback" not in run.stderr
        _assert_no_trace(engine, report)
    finally:
        remove_build(engine, report)


# -- 12-13: no trace ----------------------------------------------------------------------


def test_fidelity_keep(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """--keep keeps the builder's failed container (and says so), but none of the session's."""
    _dockerfile(tmp_path, "FROM busybox\nENV X=1\nRUN exit 3\n")
    run, report = _dbugbuild(tmp_path, "--retry", "--keep")
    try:
        cid = report["failed_container"]
        assert run.code == 3
        assert f"dbugbuild: kept failed container {cid}\n" in run.stderr
        assert engine.container_exists(cid)
        assert _ours(engine, report) == (set(), set())
    finally:
        remove_build(engine, report)


def test_fidelity_clean(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """`dbugbuild clean` removes whatever carries the label and the labels it is scoped to
    (here ours, made by hand), and nothing else: another run's objects stay."""
    mine = own_label()
    other = f"{mine}-someone-else"
    cid = _docker("create", "--label", f"{LABEL}=test-clean", "--label", mine, "busybox", "true")
    theirs = _docker("create", "--label", f"{LABEL}=test-clean", "--label", other, "busybox")
    image = ""
    try:
        image = _docker("commit", "--change", f"LABEL {LABEL}=test-clean {mine}", cid)
        # The harness sets DBUGBUILD_LABELS to this test's label: clean is scoped by it, and
        # --label says the same again (both must match).
        run = run_cli(["clean", "--label", mine], tmp_path)
        assert run.code == 0
        lines = run.stdout.splitlines()
        assert f"removed container {cid[:12]}" in lines
        assert f"removed image {image.removeprefix('sha256:')[:12]}" in lines
        counts = re.fullmatch(
            r"dbugbuild clean: removed (\d+) container\(s\), (\d+) image\(s\)", lines[-1]
        )
        assert counts is not None
        assert int(counts[1]) == sum(line.startswith("removed container ") for line in lines)
        assert int(counts[2]) == sum(line.startswith("removed image ") for line in lines)
        assert not engine.container_exists(cid)
        assert engine.image_id(image) is None
        assert engine.container_exists(theirs)  # not this run's: left alone
    finally:
        engine.remove_container(cid)
        engine.remove_container(theirs)
        if image:
            engine.remove_image(image)

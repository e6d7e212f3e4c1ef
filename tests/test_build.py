"""`dbugbuild PATH` on real builds: the report names the right step, lines, stage, codes and ids;
`--log` on the same output gives the same report."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, Run, note_build_output, remove_build, run_cli
from dbugbuild.engine import Engine

pytestmark = pytest.mark.docker

BUILDS = FIXTURES / "builds"

# What the report must say for each recorded case, read off its Dockerfile.
EXPECTED: dict[str, dict[str, Any]] = {
    "run-exit-100": dict(index=5, total=6, instruction="RUN", line=5, end_line=5, stage=None,
                         exit_code=100, command="apt-get -y update-all", container=True),
    "run-exit-127": dict(index=3, total=3, instruction="RUN", line=3, end_line=3, stage=None,
                         exit_code=127, command="dbugbuild-no-such-command --version",
                         container=True),
    "multistage-nonfinal": dict(index=4, total=7, instruction="RUN", line=4, end_line=4,
                                stage="builder", exit_code=1, container=True,
                                command='echo "checking the artifact" && cat '
                                "/build/missing-artifact.txt"),
    "multiline-run": dict(index=3, total=3, instruction="RUN", line=3, end_line=7, stage=None,
                          exit_code=1, container=True,
                          command='echo "$GREETING from line one" &&     echo "line two" && '
                          '    ls /no/such/dir &&     echo "never printed"'),
    "copy-dockerignored": dict(index=4, total=4, instruction="COPY", line=4, end_line=4,
                               stage=None, exit_code=None, command="secret.txt /app/secret.txt",
                               container=False),
    "onbuild-trigger": dict(index=1, total=2, instruction="FROM", line=1, end_line=1, stage=None,
                            exit_code=3, container=True),
    "subdir-target": dict(index=5, total=5, instruction="RUN", line=6, end_line=6, stage="test",
                          exit_code=1, container=True,
                          command='echo "running tests" && test -f /app/test-report.txt'),
    "build-arg": dict(index=3, total=3, instruction="RUN", line=3, end_line=3, stage=None,
                      exit_code=4, container=True,
                      command='echo "GREETING is $GREETING" && exit 4'),
    "exec-form": dict(index=2, total=2, instruction="RUN", line=2, end_line=2, stage=None,
                      exit_code=1, command='["false"]', container=True),
    "label": dict(index=2, total=3, instruction="RUN", line=2, end_line=2, stage=None,
                  exit_code=2, command='echo "labelled build" && exit 2', container=True),
}  # fmt: skip


def _case(name: str) -> dict[str, Any]:
    return json.loads((BUILDS / name / "case.json").read_text())  # type: ignore[no-any-return]


def _args(case: dict[str, Any]) -> list[str]:
    args = ["-f", case["dockerfile"]]
    if case["target"]:
        args += ["--target", case["target"]]
    args += [f"--build-arg={k}={v}" for k, v in case["build_args"].items()]
    args += [f"--label={k}={v}" for k, v in case["labels"].items()]
    if case["tag"]:
        args += ["-t", case["tag"]]
    return args


@pytest.fixture
def pre_built(request: pytest.FixtureRequest, engine: Engine) -> Iterator[None]:
    case = _case(request.param)
    for pre in case["pre_builds"]:
        done = subprocess.run(
            ["docker", "build", "--no-cache", "-f", pre["dockerfile"], "-t", pre["tag"], "."],
            cwd=BUILDS / request.param / pre["context"],
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=True,
            capture_output=True,
            text=True,
        )
        # Its layers may outlive the tag (trigger images are their children): the session's
        # clean-up removes them once it knows their ids.
        note_build_output(done.stdout)
    yield
    for pre in case["pre_builds"]:
        subprocess.run(["docker", "rmi", pre["tag"]], check=False, capture_output=True)


def _build(name: str, *extra: str) -> Run:
    case = _case(name)
    return run_cli(
        [*_args(case), "--no-cache", "--no-shell", *extra, case["context"]], BUILDS / name
    )


def _stage_base_image(report: dict[str, Any], index: int) -> str | None:
    """The image of the last step before `index` in the same stage (what last_good_image means)."""
    for step in reversed(report["steps"][: index - 1]):
        if step["image"]:
            return str(step["image"])
    return None


@pytest.mark.parametrize("pre_built", sorted(EXPECTED), indirect=True)
def test_build_failure_report(
    engine: Engine, no_leaks: None, pre_built: None, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    name = request.node.callspec.params["pre_built"]
    expected = EXPECTED[name]
    run = _build(name, "--format", "json")
    report = run.json()
    try:
        assert run.code == _case(name)["expected_exit_code"]
        assert report["status"] == "failed"
        assert report["image"] is None
        failed = report["failed_step"]
        for key in ("index", "total", "instruction", "line", "end_line", "stage", "exit_code"):
            assert failed[key] == expected[key], key
        if "command" in expected:
            assert failed["command"] == expected["command"]
        assert failed["message"]
        # Steps before the failure each carry their image; the failing one has none.
        assert [s["index"] for s in report["steps"]] == list(range(1, failed["index"] + 1))
        assert report["steps"][-1]["image"] is None
        if name == "onbuild-trigger":
            parent = engine.image_id("dbugbuild-test/onbuild-parent:latest")
            assert parent is not None
            assert report["last_good_image"] == parent.removeprefix("sha256:")[:12]
        else:
            assert report["last_good_image"] == _stage_base_image(report, failed["index"])
            assert report["last_good_image"] is not None
        removed = f"the failed container {report['failed_container']} is removed (--keep keeps it)"
        if expected["container"]:
            # The report names the builder's failed container; a report-only run removes it
            # (dbugbuild chose the classic builder, which keeps it; docker's own build never
            # left it), and says so.
            assert report["failed_container"] is not None
            assert not engine.container_exists(report["failed_container"])
            assert report["notes"][-1] == removed
            report["notes"].remove(removed)  # the saved log's report has no such note
        else:
            assert report["failed_container"] is None
            assert removed not in report["notes"]

        # The same build output, saved and read back, gives the same report.
        log = tmp_path / "build.log"
        log.write_text(run.stderr)
        again = run_cli([*_args(_case(name)), "--log", str(log), "--format", "json"], BUILDS / name)
        assert again.code == run.code
        from_log = again.json()
        # Only who chose the builder differs: the live build's choice, the log's family.
        assert from_log.pop("builder_choice") == {
            "by": "log",
            "reason": "the log is the classic builder's output",
            "line": None,
        }
        assert report.pop("builder_choice")["by"] == "auto"
        assert from_log == report
    finally:
        remove_build(engine, report)


def test_build_tool_output_formats(engine: Engine, no_leaks: None) -> None:
    run = _build("run-exit-100", "--format", "gcc")
    report = run_cli(["--log", "-", "--format", "json"], BUILDS / "run-exit-100", stdin=run.stderr)
    try:
        assert run.code == 100
        # The error line, then the diagnosis as `note:` lines (tests/test_report.py has them).
        assert run.stdout.splitlines()[0] == (
            "Dockerfile:5:1: error: RUN failed with exit code 100: E: Invalid operation update-all"
        )
        assert run.stdout.splitlines()[1].startswith("Dockerfile:5:1: note: package-manager-misuse")
        # The build's own output went to stderr, whole.
        assert "Step 5/6 : RUN apt-get -y update-all" in run.stderr
        text = run_cli(
            ["--log", "-", "--color", "never"], BUILDS / "run-exit-100", stdin=run.stderr
        )
        assert text.code == 100
        assert (
            "error: RUN failed with exit code 100: E: Invalid operation update-all" in text.stdout
        )
        assert "> 5 | RUN apt-get -y update-all" in text.stdout
        assert f"last good image: {report.json()['last_good_image']}" in text.stdout
    finally:
        remove_build(engine, report.json())


def test_build_succeeds(engine: Engine, no_leaks: None) -> None:
    run = _build("success", "--format", "json")
    report = run.json()
    try:
        assert run.code == 0
        assert report["status"] == "succeeded"
        assert report["failed_step"] is None
        assert report["tags"] == ["dbugbuild-test/success:latest"]
        image = engine.image_id("dbugbuild-test/success:latest")
        assert image is not None and image.removeprefix("sha256:").startswith(report["image"])
        assert [(s["index"], s["instruction"], s["line"]) for s in report["steps"]] == [
            (1, "FROM", 1), (2, "RUN", 2), (3, "CMD", 3)
        ]  # fmt: skip
        assert report["steps"][-1]["image"] == report["image"]
    finally:
        remove_build(engine, report)


# The daemon's own wording, kept as is in the report: Engine 20.10 and Engine 23+ (BuildKit's
# parser, vendored) word it differently (tests/test_logs_engines.py shows both recorded).
PARSE_ERRORS = (
    "dockerfile parse error line 3: unknown instruction: FOO",
    "dockerfile parse error on line 3: unknown instruction: FOO (did you mean FROM?)",
)


def test_build_syntax_error(engine: Engine, no_leaks: None) -> None:
    run = _build("syntax-error", "--format", "json")
    report = run.json()
    message = report["failed_step"]["message"]
    assert message in PARSE_ERRORS
    assert run.code == 1
    assert report["status"] == "failed"
    assert report["steps"] == []
    assert report["failed_step"] == {
        "index": None,
        "total": None,
        "instruction": "FOO",
        "line": 3,
        "end_line": 3,
        "stage": None,
        "command": "bar",
        "exit_code": None,
        "message": message,
        "output_tail": [],
    }
    assert report["diagnosis"]["class"] == "dockerfile-syntax"
    gcc = run_cli(["--log", "-", "--format", "gcc"], BUILDS / "syntax-error", stdin=run.stderr)
    assert gcc.stdout.splitlines()[0] == f"Dockerfile:3:1: error: {message}"


def test_build_dockerignore_is_dockers(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """The context is docker's own: an ignored file is absent, a `!` exception is present."""
    (tmp_path / ".dockerignore").write_text("*.log\n!keep.log\nsecret/\n**/tmp-*\n")
    for name in ("a.log", "keep.log", "secret/x", "sub/tmp-1", "sub/ok"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | sort && exit 9\n"
    )
    run = run_cli(["--no-cache", "--format", "json", "."], tmp_path)
    report = run.json()
    try:
        assert run.code == 9
        assert report["failed_step"]["output_tail"] == [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/keep.log",
            "/ctx/sub/ok",
        ]
    finally:
        remove_build(engine, report)


def test_build_bare_build_arg_takes_environment(
    engine: Engine, no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREETING", "from-the-environment")
    run = run_cli(
        ["--build-arg", "GREETING", "--no-cache", "--format", "json", "."], BUILDS / "build-arg"
    )
    report = run.json()
    try:
        assert run.code == 4
        assert report["failed_step"]["output_tail"] == ["GREETING is from-the-environment"]
    finally:
        remove_build(engine, report)


def test_build_unrecognised_error_is_a_failure(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    """An error line the parser does not know still fails the report: docker's status rules.
    (The classic builder forced on a Dockerfile that auto would give BuildKit.)"""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=cache,target=/x true\n")
    run = run_cli(["--backend", "classic", "--no-cache", "--format", "json", "."], tmp_path)
    report = run.json()
    try:
        assert run.code == 1
        assert report["status"] == "failed"
        assert report["failed_step"]["line"] == 2
        assert report["failed_step"]["message"].startswith("the --mount option requires BuildKit")
        assert "dbugbuild did not recognise this error: please report it" in report["notes"]
    finally:
        remove_build(engine, report)


def test_build_dockerfile_not_utf8(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A Latin-1 comment in the Dockerfile is no reason to crash (the daemon accepts it)."""
    (tmp_path / "Dockerfile").write_bytes(b"# caf\xe9\nFROM busybox\nRUN exit 4\n")
    run = run_cli(["--no-cache", "--format", "json", "."], tmp_path)
    report = run.json()
    try:
        assert run.code == 4
        assert report["failed_step"]["line"] == 3
    finally:
        remove_build(engine, report)

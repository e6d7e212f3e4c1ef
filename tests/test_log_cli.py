"""`dbugbuild --log` on every saved log we hold: historic formats, CI prefixes, BuildKit refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from dbugbuild import logs

HISTORIC = sorted((FIXTURES / "logs" / "historic").glob("*.txt"))


@pytest.mark.parametrize("log", HISTORIC, ids=lambda p: p.stem)
def test_log_cli_historic(log: Path, tmp_path: Path) -> None:
    run = run_cli(["--log", str(log), "--format", "json"], tmp_path)
    if log.stem == "buildkit-tty":
        assert (run.code, run.stderr) == (
            65,
            f"dbugbuild: error: {log} holds BuildKit's tty progress (the screen it redraws on "
            "a terminal), which cannot be read reliably. Save the build's output with "
            "--progress=plain (or BUILDKIT_PROGRESS=plain) and pass that file\n",
        )
        return
    parsed = logs.read(log.read_text(errors="replace"))
    if parsed.failure is None and parsed.image is None:  # a log cut off mid-build
        assert run.code == 65
        assert run.stderr.endswith("it was cut off. Save the whole output of the build\n")
        return
    report = run.json()
    excerpt = parsed.failure is not None and parsed.failure.span is not None
    assert (
        "no Dockerfile at Dockerfile: its lines are from the log's excerpt (Dockerfile)"
        if excerpt
        else "no Dockerfile at Dockerfile: lines not mapped"
    ) in report["notes"]
    assert [s["index"] for s in report["steps"]] == [s.index for s in parsed.steps]
    if parsed.failure is None:
        assert (run.code, report["status"], report["failed_step"]) == (0, "succeeded", None)
        return
    step = parsed.failed_step
    failed = report["failed_step"]
    assert report["status"] == "failed"
    assert failed["exit_code"] == parsed.failure.exit_code
    assert failed["message"] == parsed.failure.message
    assert failed["index"] == (step.index if step else None)
    # No Dockerfile here: never a guessed line (BuildKit's own excerpt would say it).
    assert failed["line"] == (parsed.failure.span[0] if parsed.failure.span else None)
    assert report["last_good_image"] == parsed.last_good_image
    assert run.code == (parsed.failure.exit_code or 1)
    gcc = run_cli(["--log", str(log), "--format", "gcc"], tmp_path)
    where = f"Dockerfile:{failed['line']}:1:" if failed["line"] else "Dockerfile:"
    assert gcc.stdout.startswith(f"{where} error: ")
    # One error line; the diagnosis may follow as `note:` lines.
    lines = gcc.stdout.splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == ["error"] + ["note"] * (len(lines) - 1)


def test_log_cli_dockerfile_that_changed_is_not_mapped(tmp_path: Path) -> None:
    """A log from another version of the Dockerfile: report kept, lines withheld, a note why."""
    log = FIXTURES / "logs" / "run-exit-100.txt"
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:bookworm\nENV DEBIAN_FRONTEND=noninteractive\nWORKDIR /srv/app\n"
        "RUN echo changed\nRUN apt-get -y update-all\nRUN echo never reached\n"
    )
    run = run_cli(["--log", str(log), "--format", "json"], tmp_path)
    report = run.json()
    assert run.code == 100
    assert report["failed_step"]["line"] is None
    assert report["failed_step"]["exit_code"] == 100
    assert report["notes"] == [
        "lines not mapped: step 4 of the build ran 'RUN echo \"preparing $DEBIAN_FRONTEND in "
        "$(pwd)\" > prep.txt && cat prep.txt' but Dockerfile has 'RUN echo changed' there (the "
        "Dockerfile changed, or other -f/--target/--label options were used)"
    ]


def test_log_cli_container_that_never_started_is_named(tmp_path: Path) -> None:
    """A RUN whose binary is missing fails without an exit code; its container is still kept."""
    build = FIXTURES / "builds" / "from-scratch"
    run = run_cli(["--log", "../../logs/from-scratch.txt", "--format", "json"], build)
    report = run.json()
    assert run.code == 1
    assert report["failed_step"]["exit_code"] is None
    assert report["last_good_image"] is None  # FROM scratch: no layer
    log = (FIXTURES / "logs" / "from-scratch.txt").read_text()
    assert f" ---> Running in {report['failed_container']}" in log


BUILDKIT_LOGS = sorted((FIXTURES / "buildkit" / "logs").glob("*.log")) + sorted(
    (FIXTURES / "buildkit" / "public").glob("*.log")
)


@pytest.mark.parametrize("log", BUILDKIT_LOGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_log_cli_buildkit(log: Path, tmp_path: Path) -> None:
    """Every BuildKit log we hold (Engine 26 / buildx 0.13.1 recordings; public logs of
    BuildKit 0.6 to buildx 0.25, GitHub Actions and Jenkins timestamps): a report, or exit
    65 with one line saying why; with no Dockerfile at hand, lines from the log's excerpt."""
    run = run_cli(["--log", str(log), "--format", "json"], tmp_path)
    try:
        parsed = logs.read(log.read_text())
    except logs.LogFormatError:
        assert run.code == 65
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("dbugbuild: error: ")
        return
    if not parsed.succeeded and parsed.failure is None:
        assert run.code == 65 and "it was cut off" in run.stderr
        return
    report = run.json()
    assert (report["builder"], report["builder_choice"]["by"]) == ("buildkit", "log")
    if parsed.failure is None:
        assert (run.code, report["status"], report["failed_step"]) == (0, "succeeded", None)
        return
    failed = report["failed_step"]
    step = parsed.failed_step
    assert failed["index"] == (step.index if step else None)
    assert failed["exit_code"] == parsed.failure.exit_code
    assert run.code == (parsed.failure.exit_code or 1) == report["exit_code"]
    span = parsed.failure.span
    assert (failed["line"], failed["end_line"]) == (span if span else (None, None))
    assert failed["stage"] is None or not failed["stage"].startswith("stage-")
    gcc = run_cli(["--log", str(log), "--format", "gcc"], tmp_path)
    where = f"Dockerfile:{span[0]}:1:" if span else "Dockerfile:"
    assert gcc.stdout.startswith(f"{where} error: ")


def test_log_cli_buildkit_with_its_dockerfile_and_timestamps(tmp_path: Path) -> None:
    """A GitHub Actions log (timestamps on every line) of the parallel-stage build."""
    case = FIXTURES / "buildkit" / "cases" / "parallel-stage-fail"
    text = (FIXTURES / "buildkit" / "logs" / "parallel-stage-fail.log").read_text()
    stamped = "".join(f"2024-03-05T10:11:{i % 60:02d}.1234567Z {line}\n"
                      for i, line in enumerate(text.splitlines()))  # fmt: skip
    log = tmp_path / "ci.log"
    log.write_text(stamped)
    run = run_cli(["--log", str(log), "--format", "json"], case)
    report = run.json()
    assert run.code == 2
    failed = report["failed_step"]
    assert (failed["index"], failed["total"], failed["line"], failed["stage"]) == (
        3, 3, 6, "compile"
    )  # fmt: skip
    assert report["notes"] == []
    assert report["diagnosis"]["class"] == "command-failed"

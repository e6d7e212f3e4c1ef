"""locate on BuildKit: the recorded logs of tests/fixtures/buildkit/ (Engine 26.1.5, buildx
0.13.1) joined with the Dockerfiles they were built from. The failing step's i/n, stage,
lines and code, read off each Dockerfile; every step matched by stage, place and echoed
text (also without BuildKit's excerpt); the excerpt's lines when there is no Dockerfile;
nothing mapped when the Dockerfile is not the log's. Pure: no daemon."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from conftest import FIXTURES
from dbugbuild import logs
from dbugbuild.dockerfile import Dockerfile, parse
from dbugbuild.inputs import parse_dockerfile
from dbugbuild.report import Report, locate
from dbugbuild.report.vertices import echo_matches

BUILDKIT = FIXTURES / "buildkit"

# What the report must say for each recorded failing run, read off its Dockerfile:
# (index, total, instruction, line, end_line, stage, exit_code).
EXPECTED: dict[str, tuple[Any, ...]] = {
    "cache-mount-fail": (2, 2, "RUN", 2, 5, None, 5),
    "copy-chmod-missing": (3, 3, "COPY", 3, 3, None, None),
    "copy-missing": (3, 3, "COPY", 3, 3, None, None),
    "copy-missing.docker-build": (3, 3, "COPY", 3, 3, None, None),
    "exec-form-fail": (2, 2, "RUN", 2, 2, None, 6),
    "heredoc-fail": (2, 3, "RUN", 2, 7, None, 1),  # the heredoc's body included
    "long-output-fail": (2, 2, "RUN", 2, 2, None, 1),
    "multiline-run-fail": (2, 2, "RUN", 3, 8, None, 2),
    "onbuild-fail": (2, 2, "FROM", 1, 1, None, 4),  # a trigger of the base: its FROM
    "parallel-stage-fail": (3, 3, "RUN", 6, 6, "compile", 2),
    "platform-arg-undeclared": (3, 3, "RUN", 3, 3, None, 3),
    "pull-missing-base": (None, None, "FROM", 1, 1, None, None),
    "run-exit-100": (3, 4, "RUN", 4, 4, None, 100),
    "run-exit-100.cached": (3, 4, "RUN", 4, 4, None, 100),
    "run-exit-100.docker-build": (3, 4, "RUN", 4, 4, None, 100),
    "run-exit-127": (3, 3, "RUN", 3, 3, None, 127),
    "run-exit-127.docker-build": (3, 3, "RUN", 3, 3, None, 127),
    "secret-not-passed": (2, 2, "RUN", 2, 3, None, 1),
    "secret-required-not-passed": (2, 2, "RUN", 2, 2, None, None),
    "shell-pipefail": (2, 2, "RUN", 3, 3, None, 1),
    "syntax-bad-flag": (None, None, "COPY", 3, 3, None, None),
    "syntax-unknown-instruction": (None, None, "RUNN", 3, 3, None, None),
    "syntax-unknown-instruction.docker-build": (None, None, "RUNN", 3, 3, None, None),
    "unnamed-stage-fail": (3, 3, "RUN", 3, 3, None, 9),  # `[stage-0 3/3]`: no name
}
SUCCEEDED = ["success", "success.cached", "success.docker-build", "parallel-stages",
             "secret-passed", "target-middle", "target-middle.docker-build", "targetarch-pass",
             "long-output"]  # fmt: skip


def _run(name: str) -> tuple[str, str | None, Dockerfile | None]:
    """(the log, its Dockerfile's text, the model) of a recorded run."""
    log = (BUILDKIT / "logs" / f"{name}.log").read_text()
    meta = json.loads((BUILDKIT / "logs" / f"{name}.meta.json").read_text())
    path = BUILDKIT / "cases" / meta["case"] / "Dockerfile"
    text = path.read_text() if path.is_file() else None
    return log, text, parse_dockerfile(text)


def _locate(log: logs.BuildLog, text: str | None, model: Dockerfile | None) -> Report:
    return locate(log, dockerfile=model, source=text, dockerfile_path="Dockerfile",
                  location="Dockerfile", builder="buildkit")  # fmt: skip


def _summary(report: Report) -> tuple[Any, ...]:
    step = report.failed_step
    assert step is not None
    return (step.index, step.total, step.instruction, step.line, step.end_line, step.stage,
            step.exit_code)  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_locate_buildkit_failure(name: str) -> None:
    text, source, model = _run(name)
    report = _locate(logs.read(text), source, model)
    assert _summary(report) == EXPECTED[name]
    assert report.exit_code == (EXPECTED[name][6] or 1)
    assert report.last_good_image is None and report.failed_container is None
    assert [n for n in report.notes if "not mapped" in n] == []
    step = report.failed_step
    assert step is not None
    if source is not None and step.line is not None:
        lines = source.splitlines()
        assert report.source_lines == tuple(lines[step.line - 1 : step.end_line])


@pytest.mark.parametrize(
    # A syntax error's Dockerfile has no model and its build no steps to map.
    "name",
    [n for n in sorted(EXPECTED) + SUCCEEDED if not n.startswith("syntax-")],
)
def test_locate_buildkit_maps_every_step_of_its_dockerfile(name: str) -> None:
    text, source, model = _run(name)
    assert model is not None
    report = _locate(logs.read(text), source, model)
    assert [s.index for s in report.steps if s.line is None] == []
    for step in report.steps:
        ins = model.instruction_at(step.line or 0)
        assert ins is not None and ins.line == step.line
        assert step.instruction == ins.keyword or step.instruction != "FROM"


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if EXPECTED[n][0] is not None])
def test_locate_buildkit_without_the_excerpt_matches_by_text(name: str) -> None:
    """Logs before BuildKit 0.9 have no excerpt: the echoed text alone finds the line."""
    text, source, model = _run(name)
    if model is None:
        pytest.skip("the Dockerfile does not parse here: only the excerpt could say")
    log = logs.read(text)
    assert log.failure is not None
    failure = replace(log.failure, excerpt=(), span=None, line=None, in_trigger=False)
    summary = _summary(_locate(replace(log, failure=failure), source, model))
    if name == "onbuild-fail":  # 0.13 prints a trigger as a plain RUN: only the excerpt says
        assert summary[:5] == (2, 2, "RUN", None, None)
        return
    assert summary == EXPECTED[name]


def test_locate_buildkit_onbuild_trigger_as_newer_versions_print_it() -> None:
    """`[2/3] ONBUILD RUN ...` (newer BuildKit counts triggers in n): the stage's FROM.
    CONSTRUCTED from the recorded log: its two step headers reworded as newer versions print."""
    text, source, model = _run("onbuild-fail")
    text = text.replace("[2/2] RUN echo", "[2/3] ONBUILD RUN echo").replace(
        "[1/2] FROM", "[1/3] FROM"
    )
    log = logs.read(text)
    assert log.failure is not None and log.failure.in_trigger
    failure = replace(log.failure, excerpt=(), span=None, line=None)
    assert _summary(_locate(replace(log, failure=failure), source, model)) == (
        2, 3, "FROM", 1, 1, None, 4
    )  # fmt: skip


def test_locate_buildkit_parallel_stages_interleaved_and_cached() -> None:
    text, source, model = _run("parallel-stage-fail")
    report = _locate(logs.read(text), source, model)
    assert [(s.stage, s.index, s.line, s.cached) for s in report.steps] == [
        ("compile", 2, 5, True),
        ("compile", 1, 4, True),
        ("fetch", 2, 2, False),
        ("compile", 3, 6, False),
    ]


def test_locate_buildkit_with_log_and_no_dockerfile_takes_the_excerpt() -> None:
    text, _, _ = _run("multiline-run-fail")
    report = _locate(logs.read(text), None, None)
    assert _summary(report) == (2, 2, "RUN", 3, 8, None, 2)
    assert report.source_lines[0] == "RUN set -eux; \\"
    assert len(report.source_lines) == 6
    named = _locate(logs.read(_run("parallel-stage-fail")[0]), None, None)
    assert _summary(named) == (3, 3, "RUN", 6, 6, "compile", 2)
    unnamed = _locate(logs.read(_run("unnamed-stage-fail")[0]), None, None)
    assert _summary(unnamed)[5] is None  # `stage-0` is no name


def test_locate_buildkit_changed_dockerfile_is_not_mapped() -> None:
    text, source, _ = _run("run-exit-100")
    assert source is not None
    changed = source.replace("RUN echo never reached", "RUN echo changed")
    report = _locate(logs.read(text), changed, parse(changed))
    step = report.failed_step
    assert step is not None and (step.line, step.end_line, step.index) == (None, None, 3)
    assert report.notes[0].startswith(
        "lines not mapped: the log's Dockerfile excerpt (line 2 on) is not what Dockerfile has"
    )


def test_locate_buildkit_old_log_with_a_changed_dockerfile_is_not_mapped() -> None:
    text, source, _ = _run("run-exit-127")
    log = logs.read(text)
    assert log.failure is not None and source is not None
    bare = replace(log, failure=replace(log.failure, excerpt=(), span=None, line=None))
    changed = source.replace("dbugbuild-no-such-command", "other-command")
    report = _locate(bare, changed, parse(changed))
    step = report.failed_step
    assert step is not None and step.line is None
    assert report.notes[0].startswith(
        "lines not mapped: the failing step 'RUN dbugbuild-no-such-command --version'"
    )


@pytest.mark.parametrize(
    ("echoed", "written", "same"),
    [
        ('RUN test -n "amd64" || exit 3', 'RUN test -n "$TARGETARCH" || exit 3', True),
        ("RUN echo hi /root", "run echo ${GREETING} $HOME", True),
        ("RUN echo  b", "RUN echo $EMPTY b", True),
        ("RUN echo $UNSET", "RUN echo $UNSET", True),
        ("COPY a b /dst/", 'COPY "a b" /dst/', True),
        ("RUN make all", "RUN make test", False),
        ("RUN make", "COPY make", False),
        ("FROM docker.io/library/busybox:latest", "FROM busybox:latest AS x", True),
        ("FROM docker.io/library/busybox:latest", "FROM busybox", True),
        ("FROM docker.io/library/debian:bookworm", "FROM --platform=linux/amd64 debian:bookworm",
         True),
        ("FROM docker.io/myorg/app:1@sha256:" + "a" * 64, "FROM myorg/app:1", True),
        ("FROM registry.example.com:5000/app:latest", "FROM registry.example.com:5000/app", True),
        ("FROM docker.io/library/busybox:latest", "FROM debian", False),
        ("FROM docker.io/library/x:1", "FROM ${BASE}", True),
    ],
)  # fmt: skip
def test_echo_matches(echoed: str, written: str, same: bool) -> None:
    ins = parse(f"FROM busybox\n{written}\n").instructions[-1]
    if written.upper().startswith("FROM"):
        ins = parse(f"{written}\n").instructions[0]
    assert echo_matches(echoed, ins) is same


def test_echo_matches_a_heredoc_by_its_first_line() -> None:
    """BuildKit echoes `RUN <<EOT (set -e...)`: the heredoc's line and its body's summary."""
    _, _, model = _run("heredoc-fail")
    assert model is not None  # the model reads heredocs
    ins = model.instructions[1]
    assert (ins.line, ins.end_line) == (2, 7)
    assert echo_matches("RUN <<EOT (set -e...)", ins)
    assert not echo_matches("RUN <<EOF (set -e...)", ins)

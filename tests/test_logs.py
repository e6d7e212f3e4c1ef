"""The one entry to every log family: detect a saved log's family, parse it, read a saved log
(an Engine API stream decoded first)."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from dbugbuild import logs

BUILDKIT = FIXTURES / "buildkit" / "logs"
LOGS = FIXTURES / "logs"


def test_logs_detect_classic_and_its_parser() -> None:
    text = (LOGS / "run-exit-100.txt").read_text()
    assert logs.detect(text) == "classic"
    assert logs.FAMILIES == ("classic", "buildkit", "buildah")
    assert logs.parse([text], logs.detect(text)) == logs.parse([text])


@pytest.mark.parametrize("name", ["run-exit-100.log", "run-exit-127.tty.log", "success.cached.log"])
def test_logs_detect_buildkit_plain_and_tty(name: str) -> None:
    """BuildKit's progress is its own family, tty progress too (its parser refuses it)."""
    text = (BUILDKIT / name).read_text()
    assert logs.detect(text) == "buildkit"
    assert logs.detect(text[:4096]) == "buildkit"  # the first text is enough


def test_logs_read_buildkit_maps_to_the_common_model() -> None:
    log = logs.read((BUILDKIT / "run-exit-100.log").read_text())
    assert log.family == "buildkit"
    step = log.failed_step
    assert step is not None and log.failure is not None
    assert (step.index, step.total, step.instruction, step.stage) == (3, 4, "RUN", None)
    assert step.output_tail[-1] == "E: Unable to locate package dbugbuild-no-such-package"
    assert (log.failure.exit_code, log.failure.line, log.failure.span) == (100, 4, (4, 4))
    assert log.failure.message.startswith('failed to solve: process "/bin/sh -c apt-get')
    assert log.failure.step_error is not None
    assert log.failure.step_error.startswith('process "/bin/sh -c apt-get')
    assert log.last_good_image is None  # BuildKit keeps no image per step


def test_logs_unknown_family_is_refused() -> None:
    with pytest.raises(
        ValueError, match="no log family 'buildkat'; known: classic, buildkit, buildah"
    ):
        logs.parser("buildkat")


def test_logs_read_a_saved_api_stream_as_the_cli_text() -> None:
    """`--log` takes the API's JSON stream as saved: it reads as the same build's CLI text."""
    chunks = json.loads((LOGS / "run-exit-100.api.json").read_text())
    saved = "".join(chunks)  # the raw chunks as the API sent them, saved to one file
    assert saved.lstrip().startswith("{")
    assert logs.read(saved) == logs.parse(logs.api_stream_text([saved]))
    assert logs.read(saved).failure is not None


def test_logs_read_garbage_is_a_format_error() -> None:
    with pytest.raises(logs.LogFormatError):
        logs.read("hello\nworld\n")

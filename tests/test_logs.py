"""The one entry to every log family: detect a saved log's family, parse it, read a saved log
(an Engine API stream decoded first)."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from dbugbuild import logs

LOGS = FIXTURES / "logs"


def test_logs_detect_classic_and_its_parser() -> None:
    text = (LOGS / "run-exit-100.txt").read_text()
    assert logs.detect(text) == "classic"
    assert "classic" in logs.FAMILIES
    assert logs.parse([text], logs.detect(text)) == logs.parse([text])


def test_logs_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="no log family 'buildkat'; known: classic, buildah"):
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

"""The parser's readings that change what runs, end to end on the real daemon (Engine 26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import remove_build, run_cli
from dbugbuild.engine import Engine


@pytest.mark.docker
def test_json_then_text_is_reported_and_retried_as_exec_form(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    # Both builders run `sh -c "exit 3"` (fixtures/parser-engine26/json_then_text); before
    # the fix the report, the diagnosis and the retry took the line as a shell command.
    (tmp_path / "Dockerfile").write_text('FROM busybox:latest\nRUN ["sh","-c","exit 3"] # note\n')
    run = run_cli(["--no-cache", "--format", "json", "--retry", "."], tmp_path)
    report = run.json()
    try:
        assert run.code == 3
        assert (report["failed_step"]["command"], report["failed_step"]["exit_code"]) == (
            '["sh","-c","exit 3"]',
            3,
        )
        assert report["retry"] == {"command": '["sh","-c","exit 3"]', "exit_code": 3, "output": ""}
        assert "# note" not in str(report["diagnosis"])
    finally:
        remove_build(engine, report)

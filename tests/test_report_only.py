"""A report-only run of a classic build removes the failed step's container while the report
is made (Engine.let_go_soon): by the time the report is shown, the removal has started, and
it overlaps the diagnosis' look in the last good layer. Nothing uses the container after the
build: a debug phase is not coming (a debug run keeps it until its session ends)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import captured_console, note_build_output, own_label, remove_build
from dbugbuild import app, report
from dbugbuild.arguments import parse_args
from dbugbuild.engine import Engine

pytestmark = pytest.mark.docker


def test_report_only_the_failed_container_goes_before_the_report_is_shown(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox\nRUN echo {own_label()} > /mark\nRUN ls /no/such/dir\n"
    )
    console, out, err = captured_console(tmp_path)
    options = parse_args(["--no-shell", "--backend", "classic", "--format", "json", "."])
    shown: list[tuple[report.Report, bool]] = []

    def emit(result: report.Report) -> None:
        # Shown before the run closes its engine: the container is already going.
        cid = result.failed_container
        assert cid is not None
        deadline = time.monotonic() + 30
        while engine.container_exists(cid) and time.monotonic() < deadline:
            time.sleep(0.1)
        shown.append((result, engine.container_exists(cid)))

    code = app.run(options, console, emit)
    note_build_output(out.getvalue() + err.getvalue())
    ((result, still_there),) = shown
    try:
        assert code == 1
        assert result.diagnosis is not None and result.diagnosis.class_ == "missing-file"
        assert not still_there
    finally:
        remove_build(engine, json.loads(report.render_json(result)))

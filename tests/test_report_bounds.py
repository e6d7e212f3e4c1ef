"""A failing RUN that prints 100,000 lines, or one line of 3 MB (issue 13, item 8): the text
report after the build shows its last lines and says how many it does not show, and shows a
huge line by its end, saying how much it cut; on the real daemon, on every backend."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from conftest import run_cli
from endings import BACKEND_PARAMS, BACKENDS

pytestmark = pytest.mark.docker


def _report(stdout: str) -> list[str]:
    """The text report: from its `error:` line on (the build's own output streams before)."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: RUN failed")]
    assert starts, stdout[-2000:]
    return lines[starts[-1] :]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_a_100000_line_run_is_bounded_and_says_what_it_cut(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    request.getfixturevalue("podman_no_leaks" if backend == "podman" else "no_leaks")
    marker = uuid.uuid4().hex[:8]
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:latest\nRUN echo {marker}; seq 100000; exit 3\n"
    )
    run = run_cli([*BACKENDS[backend], "--no-shell", "--no-cache", "."], tmp_path)
    assert run.code == 3, run.stderr
    report = _report(run.stdout)
    assert len(report) < 60, "\n".join(report[:80])
    heading = next(line for line in report if "output (last" in line)
    found = re.search(r"output \(last (\d+) of ([\d,]+) lines; ([\d,]+) not shown\)", heading)
    assert found, heading
    shown, printed, cut = (int(g.replace(",", "")) for g in found.groups())
    # BuildKit clips a step's log itself (2 MiB): it counts the lines it printed
    assert printed - shown == cut and cut > 50_000 and shown <= 20
    assert "    | 100000" in report


def test_a_3mb_line_is_shown_by_its_end(no_leaks: None, tmp_path: Path) -> None:
    """One line of 3 MB (a progress bar without newlines): the diagnosis took more than 10
    minutes (a pattern searched in the line is quadratic in its length), then the report
    showed it whole (1 MiB a line, as the parser keeps it), and its headline too."""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:latest\nRUN head -c 3000000 /dev/zero | tr '\\0' x; echo ' the-end'; exit 4\n"
    )
    run = run_cli(["--backend", "classic", "--no-shell", "--no-cache", "."], tmp_path)
    assert run.code == 4, run.stderr
    report = _report(run.stdout)
    assert max(len(line) for line in report) < 1200
    assert len(report[0]) < 400
    assert re.fullmatch(r"    \| \[[\d,]+ characters cut\] \.\.\.x+ the-end", report_line(report))


def report_line(report: list[str]) -> str:
    return next(line for line in reversed(report) if line.startswith("    | "))

"""The sample_failures/ gallery end to end on the real daemon: every sample builds and fails
as its expected.json says (line, instruction, exit code), with that diagnosis class, in a
report that validates against the schema; and nothing is left behind.

Each build is `dbugbuild --no-cache --no-shell --format json sample_failures/NAME`, run
in-process from the repository root, as the README tells learners to run them.
"""

from __future__ import annotations

import json
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conftest import TESTS, Run, remove_build, run_cli
from dbugbuild.engine import Engine

pytestmark = pytest.mark.docker

REPO = TESTS.parent
GALLERY = REPO / "sample_failures"
SAMPLES = sorted(p.name for p in GALLERY.iterdir() if (p / "expected.json").is_file())
VALIDATOR = Draft202012Validator(
    json.loads(resources.files("dbugbuild.report").joinpath("report.schema.json").read_text())
)


def _expected(name: str) -> dict[str, Any]:
    return json.loads((GALLERY / name / "expected.json").read_text())  # type: ignore[no-any-return]


def _build(name: str) -> tuple[Run, list[dict[str, Any]]]:
    """The sample built as its README says (a Compose one with `dbugbuild compose`, under a
    project name of this test's own): the run and its reports (one per service built)."""
    report_only = ["--no-cache", "--no-shell", "--format", "json"]
    folder = Path("sample_failures", name)
    if not (GALLERY / name / "compose.yaml").is_file():
        run = run_cli([*report_only, str(folder)], REPO)
        return run, [run.json()]
    project = f"dbugbuild-test-{uuid.uuid4().hex[:8]}"
    run = run_cli(["compose", *report_only, "-p", project, "-f", f"{folder}/compose.yaml"], REPO)
    return run, [json.loads(line) for line in run.stdout.splitlines()]


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_fails_as_expected(engine: Engine, no_leaks: None, name: str) -> None:
    expected = _expected(name)
    run, reports = _build(name)
    report = reports[-1]
    try:
        if "service" in expected:  # a Compose sample: the services before it built
            assert report["service"] == expected.pop("service")
            dockerfile = expected.pop("dockerfile")
            assert report["dockerfile"] == f"sample_failures/{name}/{dockerfile}"
            assert [r["status"] for r in reports] == ["succeeded"] * (len(reports) - 1) + ["failed"]
        failed = report["failed_step"]
        seen = {
            "class": report["diagnosis"]["class"],
            "line": failed["line"],
            "exit_code": report["exit_code"],
            "instruction": failed["instruction"],
        }
        assert seen == expected, run.stderr[-3000:]
        assert run.code == expected["exit_code"]
        assert [e.message for e in VALIDATOR.iter_errors(report)] == []
        assert report["diagnosis"]["summary"]
        assert report["diagnosis"]["hints"], "a sample's diagnosis says what to do"
    finally:
        for built in reports:
            remove_build(engine, built)

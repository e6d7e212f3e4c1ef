"""The README's problem matcher matches the lines `--format gcc` prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import FIXTURES, run_cli

README = Path(__file__).parent.parent / "README.md"


def _vscode_tasks() -> dict[str, object]:
    text = README.read_text()
    block = re.search(r"```json\n(\{\n  \"version\": \"2.0.0\".*?)```", text, re.S)
    assert block, "the README lost its tasks.json example"
    return json.loads(block.group(1))  # type: ignore[no-any-return]


def test_readme_problem_matcher_matches_gcc_lines() -> None:
    task = _vscode_tasks()["tasks"][0]  # type: ignore[index]
    pattern = task["problemMatcher"]["pattern"]
    build = FIXTURES / "builds" / "run-exit-100"
    run = run_cli(["--log", "../../logs/run-exit-100.txt", "--format", "gcc"], build)
    error, *notes = run.stdout.splitlines()
    # The diagnosis follows as `note:` lines, which the matcher reads too.
    assert notes and all(re.match(pattern["regexp"], note) for note in notes)
    match = re.match(pattern["regexp"], error)
    assert match is not None
    assert match.group(pattern["file"]) == "Dockerfile"
    assert match.group(pattern["line"]) == "5"
    assert match.group(pattern["column"]) == "1"
    assert match.group(pattern["severity"]) == "error"
    assert match.group(pattern["message"]) == (
        "RUN failed with exit code 100: E: Invalid operation update-all"
    )

"""docs/ide.md: its VS Code problem matchers match the lines `--format gcc` prints (error and
note lines, with and without a line number), the README's example uses the same regular
expression, and the GitHub Actions one-liner turns the lines into annotations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from conftest import FIXTURES, TESTS, run_cli

DOC = TESTS.parent / "docs" / "ide.md"
README = TESTS.parent / "README.md"
SAMPLES = TESTS.parent / "sample_failures"
NO_DOCKER = {"PATH": ""}


def _tasks(text: str) -> dict[str, Any]:
    block = re.search(r"```json\n(\{\n  \"version\": \"2.0.0\".*?)```", text, re.S)
    assert block, "the tasks.json example is gone"
    return json.loads(block.group(1))  # type: ignore[no-any-return]


def _matchers() -> list[dict[str, Any]]:
    matcher = _tasks(DOC.read_text())["tasks"][0]["problemMatcher"]
    return matcher if isinstance(matcher, list) else [matcher]


def _gcc(sample: str) -> list[str]:
    """The gcc lines for a recorded sample, as dbugbuild prints them (log only, no daemon)."""
    run = run_cli(
        [
            "-f",
            f"sample_failures/{sample}/Dockerfile",
            "--log",
            str(FIXTURES / "logs" / "samples" / f"{sample}.txt"),
            "--format",
            "gcc",
            f"sample_failures/{sample}",
        ],
        TESTS.parent,
        env=NO_DOCKER,
    )
    return run.stdout.splitlines()


def _match(line: str) -> dict[str, str]:
    """The problem VS Code would make of a line: the first matcher that matches it."""
    for matcher in _matchers():
        pattern = matcher["pattern"]
        found = re.match(pattern["regexp"], line)
        if found:
            return {k: found.group(v) for k, v in pattern.items() if isinstance(v, int)}
    raise AssertionError(f"no problem matcher matches {line!r}")


def test_ide_matcher_reads_the_error_and_the_notes() -> None:
    lines = _gcc("copy-typo")
    assert len(lines) == 4
    problems = [_match(line) for line in lines]
    assert {p["file"] for p in problems} == {"sample_failures/copy-typo/Dockerfile"}
    assert {(p["line"], p["column"]) for p in problems} == {("3", "1")}
    assert [p["severity"] for p in problems] == ["error", "note", "note", "note"]
    assert problems[0]["message"].startswith("COPY failed: file not found in build context")
    assert problems[1]["message"].startswith("build-context: There is no `requirments.txt`")
    assert problems[2]["message"].startswith("hint: Did you mean `requirements.txt`?")


def test_ide_matcher_reads_lines_without_a_line_number() -> None:
    """No Dockerfile at the path: the lines name the path only."""
    run = run_cli(
        ["--log", str(FIXTURES / "logs" / "run-exit-127.txt"), "--format", "gcc"],
        FIXTURES / "logs",
        env=NO_DOCKER,
    )
    lines = run.stdout.splitlines()
    assert lines and all(line.startswith("Dockerfile: ") for line in lines)
    problems = [_match(line) for line in lines]
    assert [p["severity"] for p in problems][:2] == ["error", "note"]
    assert all("line" not in p for p in problems)
    assert problems[0]["message"] == (
        "RUN failed with exit code 127: /bin/sh: dbugbuild-no-such-command: not found"
    )


@pytest.mark.parametrize(
    "sample", sorted(p.stem for p in (FIXTURES / "logs" / "samples").glob("*.txt"))
)
def test_ide_matcher_reads_every_sample(sample: str) -> None:
    lines = _gcc(sample)
    assert [_match(line)["severity"] for line in lines][:1] == ["error"]


def test_readme_tasks_use_the_documented_matcher() -> None:
    readme = _tasks(README.read_text())["tasks"][0]
    doc = _tasks(DOC.read_text())["tasks"][0]
    assert readme["command"] == doc["command"]
    readme_matchers = readme["problemMatcher"]
    if not isinstance(readme_matchers, list):
        readme_matchers = [readme_matchers]
    assert readme_matchers[0]["pattern"] == _matchers()[0]["pattern"]


def _annotations_command() -> str:
    block = re.search(
        r"annotations on the Dockerfile with one `sed`:\n\n```sh\n(.*?)```", DOC.read_text(), re.S
    )
    assert block, "the GitHub Actions example is gone"
    command = block.group(1)
    return command[command.index("| sed") + 2 :]


@pytest.mark.skipif(shutil.which("sed") is None, reason="sed is not installed")
def test_ide_github_annotations_one_liner() -> None:
    lines = _gcc("curl-on-busybox")
    done = subprocess.run(
        ["bash", "-c", _annotations_command()],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout.splitlines()
    path = "sample_failures/curl-on-busybox/Dockerfile"
    assert (
        out[0]
        == f"::error file={path},line=4::RUN failed with exit code 127: /bin/sh: curl: not found"
    )
    assert all(line.startswith(f"::notice file={path},line=4::") for line in out[1:])
    assert len(out) == len(lines)

"""One notion of a line for the whole program: the reference parser's (issue 13, item 1).

The builder ends a line at "\\n" only; `str.splitlines` also breaks at \\r, \\f, \\v, \\x1c-\\x1e,
\\x85, U+2028 and U+2029. Every reader of Dockerfile lines (parser, locate, the excerpt, the
diagnosis, .dockerignore, rewrite, write-back) must count the same lines. The recorded
Engine 26 builds of fixtures/parser-engine26/{line_separators,lone_cr} are the evidence.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dbugbuild import dockerfile, logs
from dbugbuild.dockerfile import dockerignore, line_count, lines, parse, rewrite
from dbugbuild.report import Report, locate, render_text
from dbugbuild.report.style import Paint, excerpt, shown

CASES = Path(__file__).parent / "fixtures" / "parser-engine26"
# Every character str.splitlines breaks at, besides "\n".
SEPARATORS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_lines_break_at_newline_only(sep: str) -> None:
    text = f"FROM busybox\n# a{sep}b\nRUN x\n"
    assert lines(text) == ["FROM busybox", f"# a{sep}b", "RUN x"]
    assert "".join(lines(text, keepends=True)) == text
    assert line_count(text) == 3 != len(text.splitlines())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("a", ["a"]),
        ("a\n", ["a"]),
        ("a\r\n\r\nb", ["a", "", "b"]),
        ("a\r\r\n", ["a"]),  # parser.go trimNewline: every \r before the \n goes
        ("\n\n", ["", ""]),
        ("a\rb\r", ["a\rb"]),
    ],
)
def test_lines_endings(text: str, expected: list[str]) -> None:
    assert lines(text) == expected
    assert line_count(text) == len(expected)
    assert "".join(lines(text, keepends=True)) == text


def _located(case: str) -> tuple[str, dockerfile.Dockerfile, Report]:
    text = (CASES / case / "Dockerfile").read_bytes().decode()
    log = (CASES / case / "classic.out").read_bytes().decode()
    model = parse(text)
    report = locate(
        logs.parse([log]),
        dockerfile=model,
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    )
    return text, model, report


def test_locate_source_lines_after_a_line_separator_in_a_comment() -> None:
    _, _, report = _located("line_separators")
    failed = report.failed_step
    assert failed is not None
    assert (failed.line, failed.end_line, failed.exit_code) == (4, 4, 21)
    assert report.source_lines == ('RUN echo "x\x0cy\x1cz\x85w" && exit 21',)
    assert report.notes == ()


def test_locate_lone_cr_is_inside_the_line() -> None:
    _, _, report = _located("lone_cr")
    assert [(s.index, s.line) for s in report.steps] == [(1, 1), (2, 2), (3, 3)]
    assert report.failed_step is not None and report.failed_step.line == 3


def test_excerpt_shows_separators_escaped_one_line_each() -> None:
    text, _, report = _located("lone_cr")
    out = excerpt(lines(text)[1:3], 2, Paint(False))
    assert out == ["  > 2 | RUN echo one\\x0dRUN exit 22", "  > 3 | RUN exit 23"]
    assert shown("a\u2028b\u2029c\x0bd\te") == "a\\u2028b\\u2029c\\x0bd\te"
    rendered = render_text(report)
    assert "  > 3 | RUN exit 23\n" in rendered
    assert "\r" not in rendered


def test_dockerignore_lines_are_the_clis() -> None:
    found = dockerignore.patterns("a\u2028b\n# c\x0cd\nkeep\r\n")
    assert [(p.line, p.text) for p in found] == [(1, "a\u2028b"), (3, "keep")]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_rewrite_after_a_separator_edits_the_failing_run(sep: str) -> None:
    text = f"FROM busybox:latest\n# wiki:{sep}keep\nENV A=1\nRUN exit 3\n"
    run = parse(text).instruction_at(4)
    assert run is not None and run.keyword == "RUN"
    assert rewrite.replace_run(text, run, "echo fixed") == text.replace("exit 3", "echo fixed")
    added = rewrite.insert_run_before(text, run, "echo before")
    assert added == text.replace("RUN exit 3", "RUN echo before\nRUN exit 3")
    diff = rewrite.unified_diff(text, added, "Dockerfile")
    assert "+RUN echo before\n" in diff and diff.count("\n+") == 2  # the header and one line


def test_locate_json_then_text_reports_the_exec_form_that_ran() -> None:
    # Both builders ran `sh -c "exit 3"` (parser-engine26/json_then_text): the report's command
    # is the array, not the line's text as a shell command.
    _, model, report = _located("json_then_text")
    failed = report.failed_step
    assert failed is not None
    assert (failed.command, failed.exit_code, failed.line) == ('["sh","-c","exit 3"]', 3, 2)
    assert failed.instruction_model is model.instructions[1]


def test_locate_heredoc_command_is_what_the_builder_ran() -> None:
    text = (CASES / "heredoc_simple" / "Dockerfile").read_text()
    model = parse(text)
    classic = _located("heredoc_simple")[2].failed_step
    assert classic is not None and (classic.line, classic.command) == (6, "echo after && exit 4")
    # BuildKit failed the same file at the heredoc, step 2, exit code 3 (buildkit.out); the
    # classic log cut there stands for it until locate reads BuildKit logs.
    log = logs.parse([(CASES / "heredoc_simple" / "classic.out").read_text()])
    assert (
        log.failure is not None
        and "exit code: 3" in (CASES / "heredoc_simple" / "buildkit.out").read_text()
    )
    step = replace(log.steps[1], image=None)
    built = replace(log, steps=(log.steps[0], step), failure=replace(log.failure, exit_code=3))
    report = locate(
        built,
        dockerfile=model,
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
        builder="buildkit",
    )
    assert report.failed_step is not None
    assert report.failed_step.command == "echo body-ran\nexit 3\n"


@pytest.mark.parametrize("case", ["escaped_escape", "escaped_escape_backtick", "heredoc_simple"])
def test_locate_maps_every_step_of_the_engine26_log(case: str) -> None:
    # Before the parser read these as the builder does, a saved log of them lost every line
    # mapping, with a note blaming a changed Dockerfile.
    _, model, report = _located(case)
    assert report.notes == ()
    assert all(s.line is not None for s in report.steps)
    assert report.failed_step is not None
    assert report.failed_step.instruction_model is model.instructions[-1]

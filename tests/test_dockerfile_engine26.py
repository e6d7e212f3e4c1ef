"""The parser against what Engine 26's two builders did with the same files (recorded).

fixtures/parser-engine26/<case>/ holds a Dockerfile and what `record.sh` got from Engine
26.1.5 with the classic builder (classic.out, classic.history) and with BuildKit
(buildkit.out): the step numbering and echo, the command each builder ran, the parse error.
The daemon wins wherever it and the parser disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dbugbuild.dockerfile import (
    DockerfileSyntaxError,
    buildkit_script,
    classic_steps,
    command_as_written,
    parse,
    typed_script,
)

CASES = Path(__file__).parent / "fixtures" / "parser-engine26"
STEP_LINE = re.compile(r"(?:^|\x1b\[0m)Step (\d+)/(\d+) : (.*)$")
# BuildKit quotes the argv it ran with Go's %q: `process "/bin/sh -c echo a\nexit 3\n" did ...`
PROCESS = re.compile(r'^#\d+ ERROR: process "((?:[^"\\]|\\.)*)" did not complete successfully')
GO_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[abfnrtv\\\"])")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _go_unquote(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = m[1]
        if code[0] in "xu":
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, code)

    return GO_ESCAPE.sub(one, text)


def _text(case: str) -> str:
    return (CASES / case / "Dockerfile").read_bytes().decode("utf-8")


def _out(case: str, builder: str) -> list[str]:
    return (CASES / case / f"{builder}.out").read_bytes().decode("utf-8").split("\n")


def _meta(case: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((CASES / case / "meta.json").read_text())
    return data


ALL = sorted(p.name for p in CASES.iterdir() if (p / "Dockerfile").exists())
PARSED = [c for c in ALL if not any(ln.startswith("Error response") for ln in _out(c, "classic"))]
REFUSED = [c for c in ALL if c not in PARSED]


def test_recordings_name_engine_26_and_both_builders() -> None:
    assert len(ALL) >= 25
    for case in ALL:
        meta = _meta(case)
        assert str(meta["engine"]).startswith("26.1."), case
        assert {"classic", "buildkit", "docker_cli", "buildx"} <= set(meta), case


@pytest.mark.parametrize("case", PARSED)
def test_classic_steps_match_engine26_classic_build(case: str) -> None:
    out = _out(case, "classic")
    recorded = [(int(m[1]), int(m[2]), m[3]) for ln in out if (m := STEP_LINE.search(ln))]
    steps = classic_steps(parse(_text(case)))
    # A build that failed stops at its failing step.
    assert [(s.index, len(steps), s.text) for s in steps][: len(recorded)] == recorded
    classic = _meta(case)["classic"]
    assert isinstance(classic, dict)
    if classic["exit_code"] == 0:
        assert len(recorded) == len(steps)


# Flags are checked per instruction after parsing (instructions/bflag.go); the parser knows no
# flag tables, so it accepts `--from b`. The build's own parse error is located from the log.
NOT_REFUSED = {"flags_from_space": "per-instruction flag values are not checked"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=NOT_REFUSED[c]))
        if c in NOT_REFUSED
        else c
        for c in REFUSED
    ],
)
def test_parse_refuses_what_engine26_refuses(case: str) -> None:
    (daemon,) = [ln for ln in _out(case, "classic") if ln.startswith("Error response from daemon")]
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse(_text(case))
    # Engine 26 keeps the keyword's case ("unknown instruction: b") and may add "(did you
    # mean ...?)"; the message itself is the same.
    assert caught.value.message.lower() in daemon.lower()
    if caught.value.line is not None and "on line" in daemon:
        assert f"on line {caught.value.line}:" in daemon


# The failing RUN of each case BuildKit failed on a command (line of the instruction).
BUILDKIT_FAILED_AT = {
    "heredoc_simple": 2,
    "heredoc_chomp": 2,
    "heredoc_complex": 2,
    "heredoc_continuation": 2,
    "heredoc_crlf": 2,
    "heredoc_quoted": 3,
    "heredoc_shebang": 2,
    "heredoc_body_instructions": 9,
    "heredoc_onbuild": 5,
    "heredoc_copy_two": 11,
    "json_then_text": 2,
    "json_large_number": 2,
    "escaped_escape": 3,
    "escaped_escape_three": 3,
    "escaped_escape_backtick": 4,
    "line_separators": 4,
    "lone_cr": 3,
    "empty_continuation": 2,
    "bom_crlf": 3,
    "directive_case_spaces": 3,
    "flags_mount": 2,
    "flags_chmod_link": 3,
    "healthcheck_forms": 6,
    "onbuild_json_then_text": 4,
    "whitespace_kinds": 2,
    "comment_in_continuation": 2,
}


@pytest.mark.parametrize("case", sorted(BUILDKIT_FAILED_AT))
def test_buildkit_ran_the_models_command(case: str) -> None:
    (ran,) = [_go_unquote(m[1]) for ln in _out(case, "buildkit") if (m := PROCESS.match(ln))]
    ins = parse(_text(case)).instruction_at(BUILDKIT_FAILED_AT[case])
    assert ins is not None and ins.keyword == "RUN"
    if ins.json_args is not None:
        assert ran == " ".join(ins.json_args)
    else:
        assert ran == f"/bin/sh -c {buildkit_script(ins)}"


@pytest.mark.parametrize(
    "case", [c for c in sorted(BUILDKIT_FAILED_AT) if c.startswith("heredoc_") and "crlf" not in c]
)
def test_pre_typed_heredoc_runs_what_buildkit_ran(case: str) -> None:
    df = parse(_text(case))
    for ins in df.instructions:
        if ins.keyword == "RUN" and ins.heredocs:
            assert typed_script(command_as_written(ins, df.escape)) == buildkit_script(ins)


def test_classic_builder_drops_the_heredoc_body() -> None:
    # What the classic builder ran, as the image's history records it: the logical line alone.
    history = (CASES / "heredoc_quoted" / "classic.history").read_text().splitlines()
    assert history[0] == "/bin/sh -c <<'EOT'"
    assert "Successfully built" in "".join(_out("heredoc_quoted", "classic"))
    run = parse(_text("heredoc_quoted")).instructions[-1]
    assert (run.args, run.code) == ("<<'EOT'", "RUN <<'EOT'")


def test_classic_builder_runs_json_then_text_as_exec_form() -> None:
    out = _out("json_then_text", "classic")
    assert "The command 'sh -c exit 3' returned a non-zero code: 3" in out
    run = parse(_text("json_then_text")).instructions[-1]
    assert run.json_args == ("sh", "-c", "exit 3")
    assert command_as_written(run) == run.command == '["sh","-c","exit 3"]'


def test_classic_builder_runs_an_empty_exec_form_as_nothing() -> None:
    history = (CASES / "json_empty_then_text" / "classic.history").read_text().splitlines()
    assert history[0] == ""
    assert parse(_text("json_empty_then_text")).instructions[-1].json_args == ()


def test_healthcheck_and_onbuild_json_then_text_are_exec_form() -> None:
    df = parse(_text("healthcheck_forms"))
    assert [(i.args, i.json_args) for i in df.instructions[1:4]] == [
        ("NONE", None),
        ('CMD ["true"] # note', ("true",)),
        ("CMD   a b", None),
    ]
    assert "Note: overriding previous HEALTHCHECK: [CMD true]" in _out(
        "healthcheck_forms", "classic"
    )
    trigger = parse(_text("onbuild_json_then_text")).instructions[1]
    assert (trigger.keyword, trigger.args) == ("ONBUILD", 'RUN ["sh","-c","exit 3"] # note')

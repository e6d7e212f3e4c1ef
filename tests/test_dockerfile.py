"""Tests for dbugbuild.dockerfile: pure parsing, and step numbering checked against recorded builds.

The recorded builds under fixtures/dockerfiles/<case>/build.out come from the real Engine 20.10
classic builder (fixtures/dockerfiles/record.sh); nothing in them is typed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbugbuild.dockerfile import (
    Dockerfile,
    DockerfileSyntaxError,
    Instruction,
    Stage,
    StepRef,
    classic_steps,
    command_as_written,
    parse,
)

CASES = Path(__file__).parent / "fixtures" / "dockerfiles"
# "Step 4/25 : RUN ..." at a line start, or right after the colour reset the CLI writes after
# the builder's warnings on stderr.
STEP_LINE = re.compile(r"(?:^|\x1b\[0m)Step (\d+)/(\d+) : (.*)$")


def _read(case: str) -> str:
    return (CASES / case / "Dockerfile").read_bytes().decode("utf-8")


def _build_options(case: str) -> tuple[str | None, dict[str, str]]:
    """--target and --label values from a case's recorded `docker build` arguments."""
    args_file = CASES / case / "args"
    argv = args_file.read_text(encoding="utf-8").splitlines() if args_file.exists() else []
    target: str | None = None
    labels: dict[str, str] = {}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        if flag == "--target":
            target = value
        elif flag == "--label":
            key, _, val = value.partition("=")
            labels[key] = val
        else:
            raise AssertionError(f"unexpected recorded argument {flag}")
    return target, labels


def _recorded_steps(case: str) -> list[tuple[int, int, str]]:
    out = (CASES / case / "build.out").read_text(encoding="utf-8")
    return [
        (int(m[1]), int(m[2]), m[3]) for line in out.splitlines() if (m := STEP_LINE.search(line))
    ]


def _daemon_error(case: str) -> str:
    out = (CASES / case / "build.out").read_text(encoding="utf-8")
    errors = [line for line in out.splitlines() if line.startswith("Error response from daemon: ")]
    assert len(errors) == 1, out
    return errors[0].removeprefix("Error response from daemon: ")


STEP_CASES = sorted(p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("err_"))
ERROR_CASES = sorted(p.name for p in CASES.iterdir() if p.is_dir() and p.name.startswith("err_"))


# --- parse: whole files ---------------------------------------------------------------------


def test_parse_multistage_whole_object() -> None:
    text = (
        "ARG TAG=latest\n"
        "FROM busybox:${TAG} AS Build\n"
        "RUN echo hi\n"
        "\n"
        "FROM --platform=linux/amd64 busybox\n"
        "COPY --from=build /a /b\n"
    )
    arg = Instruction(
        keyword="ARG",
        args="TAG=latest",
        flags=(),
        line=1,
        end_line=1,
        stage=None,
        original="ARG TAG=latest\n",
        json_args=None,
        code="ARG TAG=latest",
    )
    from0 = Instruction(
        keyword="FROM",
        args="busybox:${TAG} AS Build",
        flags=(),
        line=2,
        end_line=2,
        stage=0,
        original="FROM busybox:${TAG} AS Build\n",
        json_args=None,
        code="FROM busybox:${TAG} AS Build",
    )
    run = Instruction(
        keyword="RUN",
        args="echo hi",
        flags=(),
        line=3,
        end_line=3,
        stage=0,
        original="RUN echo hi\n",
        json_args=None,
        code="RUN echo hi",
    )
    from1 = Instruction(
        keyword="FROM",
        args="busybox",
        flags=("--platform=linux/amd64",),
        line=5,
        end_line=5,
        stage=1,
        original="FROM --platform=linux/amd64 busybox\n",
        json_args=None,
        code="FROM --platform=linux/amd64 busybox",
    )
    copy = Instruction(
        keyword="COPY",
        args="/a /b",
        flags=("--from=build",),
        line=6,
        end_line=6,
        stage=1,
        original="COPY --from=build /a /b\n",
        json_args=None,
        code="COPY --from=build /a /b",
    )
    assert parse(text) == Dockerfile(
        escape="\\",
        meta_args=(arg,),
        stages=(
            Stage(index=0, name="build", base="busybox:${TAG}", instructions=(from0, run)),
            Stage(index=1, name=None, base="busybox", instructions=(from1, copy)),
        ),
        instructions=(arg, from0, run, from1, copy),
    )


def test_parse_continuation_drops_comment_and_blank_lines() -> None:
    text = (
        "FROM busybox\n"
        "RUN echo hello && \\\n"
        "# a comment\n"
        "   # an indented comment\n"
        "\n"
        "    ls /\n"
        "CMD x\n"
    )
    assert parse(text).instructions[1] == Instruction(
        keyword="RUN",
        args="echo hello &&     ls /",
        flags=(),
        line=2,
        end_line=6,
        stage=0,
        original="RUN echo hello && \\\n# a comment\n   # an indented comment\n\n    ls /\n",
        json_args=None,
        code="RUN echo hello &&     ls /",
    )


def test_parse_continuation_at_eof_ends_at_its_last_text_line() -> None:
    df = parse("FROM busybox\nRUN echo a \\\n# trailing comment\n\n")
    assert df.instructions[1] == Instruction(
        keyword="RUN",
        args="echo a",
        flags=(),
        line=2,
        end_line=2,
        stage=0,
        original="RUN echo a \\\n",
        json_args=None,
        code="RUN echo a",
    )


def test_parse_continuation_without_final_newline() -> None:
    df = parse("FROM busybox\nRUN echo a \\\n  b \\")
    assert df.instructions[1] == Instruction(
        keyword="RUN",
        args="echo a   b",
        flags=(),
        line=2,
        end_line=3,
        stage=0,
        original="RUN echo a \\\n  b \\",
        json_args=None,
        code="RUN echo a   b",
    )


def test_parse_blank_line_inside_continuation_does_not_end_it() -> None:
    # The builder only warns ("Empty continuation line found in: ...") and joins the next line.
    df = parse("FROM busybox\nRUN echo a \\\n\nRUN echo b\n")
    assert [(i.keyword, i.args, i.line, i.end_line) for i in df.instructions] == [
        ("FROM", "busybox", 1, 1),
        ("RUN", "echo a RUN echo b", 2, 4),
    ]


def test_parse_lone_escape_line_starts_the_next_instruction() -> None:
    # Recorded in continuation_edges: the step is "RUN echo start", its span starts at the "\".
    df = parse("FROM busybox\n\\\nRUN echo start\n")
    assert df.instructions[1] == Instruction(
        keyword="RUN",
        args="echo start",
        flags=(),
        line=2,
        end_line=3,
        stage=0,
        original="\\\nRUN echo start\n",
        json_args=None,
        code="RUN echo start",
    )


def test_parse_crlf_line_numbers_and_args() -> None:
    df = parse("FROM busybox\r\nRUN echo a \\\r\n  b\r\n# c\r\nRUN echo  crlf   \r\n")
    assert df.instructions[1:] == (
        Instruction(
            keyword="RUN",
            args="echo a   b",
            flags=(),
            line=2,
            end_line=3,
            stage=0,
            original="RUN echo a \\\r\n  b\r\n",
            json_args=None,
            code="RUN echo a   b",
        ),
        Instruction(
            keyword="RUN",
            args="echo  crlf",
            flags=(),
            line=5,
            end_line=5,
            stage=0,
            original="RUN echo  crlf   \r\n",
            json_args=None,
            code="RUN echo  crlf",
        ),
    )


def test_parse_leading_whitespace_and_lowercase_keyword() -> None:
    df = parse("  from busybox\n\t run   echo hi\n")
    assert df.instructions == (
        Instruction(
            keyword="FROM",
            args="busybox",
            flags=(),
            line=1,
            end_line=1,
            stage=0,
            original="  from busybox\n",
            json_args=None,
            code="from busybox",
        ),
        Instruction(
            keyword="RUN",
            args="echo hi",
            flags=(),
            line=2,
            end_line=2,
            stage=0,
            original="\t run   echo hi\n",
            json_args=None,
            code="run   echo hi",
        ),
    )


def test_parse_byte_order_mark_is_ignored() -> None:
    df = parse("\ufeffFROM busybox\n")
    assert df.instructions[0].keyword == "FROM"
    assert df.instructions[0].original == "\ufeffFROM busybox\n"


def test_parse_originals_and_gaps_rebuild_the_file() -> None:
    text = _read("multistage")
    lines = text.splitlines(keepends=True)
    rebuilt, next_line = [], 1
    for instruction in parse(text).instructions:
        rebuilt += lines[next_line - 1 : instruction.line - 1]
        rebuilt.append(instruction.original)
        next_line = instruction.end_line + 1
    rebuilt += lines[next_line - 1 :]
    assert "".join(rebuilt) == text


# --- parse: parser directives ---------------------------------------------------------------


def test_parse_escape_directive_backtick() -> None:
    text = "# escape=`\nFROM busybox\nRUN dir c:\\ `\n    /w\nRUN echo a \\\n"
    df = parse(text)
    assert df.escape == "`"
    assert df.instructions[1:] == (
        Instruction(
            keyword="RUN",
            args="dir c:\\     /w",
            flags=(),
            line=3,
            end_line=4,
            stage=0,
            original="RUN dir c:\\ `\n    /w\n",
            json_args=None,
            code="RUN dir c:\\     /w",
        ),
        Instruction(
            keyword="RUN",
            args="echo a \\",
            flags=(),
            line=5,
            end_line=5,
            stage=0,
            original="RUN echo a \\\n",
            json_args=None,
            code="RUN echo a \\",
        ),
    )


def test_parse_syntax_directive_is_ignored() -> None:
    df = parse("# syntax=docker/dockerfile:1\nFROM busybox\n")
    assert (df.escape, [i.line for i in df.instructions]) == ("\\", [2])


def test_parse_directives_case_insensitive_indented_and_spaced() -> None:
    df = parse("# syntax=docker/dockerfile:1\n  #  ESCAPE = `  \nFROM busybox\nRUN a `\n b\n")
    assert (df.escape, df.instructions[1].args) == ("`", "a  b")


@pytest.mark.parametrize(
    "before",
    ["# a comment\n", "\n", "# foo=bar\n", "FROM busybox\n"],
    ids=["after-comment", "after-blank-line", "after-unknown-directive", "after-instruction"],
)
def test_parse_directive_after_other_lines_is_a_comment(before: str) -> None:
    df = parse(before + "# escape=`\nFROM busybox\nRUN echo a `\n")
    assert df.escape == "\\"
    assert df.instructions[-1].args == "echo a `"


def test_parse_bad_escape_directive_raises() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("# escape=x\nFROM busybox\n")
    assert (info.value.message, info.value.line) == (
        "invalid escape token 'x' does not match ` or \\",
        1,
    )


def test_parse_repeated_directive_raises() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("# escape=`\n# Escape=\\\nFROM busybox\n")
    assert (info.value.message, info.value.line) == (
        "only one escape parser directive can be used",
        2,
    )


# --- parse: exec form and flags -------------------------------------------------------------


def test_parse_exec_form_whole_instruction() -> None:
    df = parse('FROM busybox\nRUN [ "echo", "a b", "c\\"d" ]  \n')
    instruction = df.instructions[1]
    assert instruction == Instruction(
        keyword="RUN",
        args='[ "echo", "a b", "c\\"d" ]',
        flags=(),
        line=2,
        end_line=2,
        stage=0,
        original='RUN [ "echo", "a b", "c\\"d" ]  \n',
        json_args=("echo", "a b", 'c"d'),
        code='RUN [ "echo", "a b", "c\\"d" ]',
    )
    assert instruction.is_exec_form
    assert instruction.text == 'RUN [ "echo", "a b", "c\\"d" ]'


@pytest.mark.parametrize(
    ("line", "json_args"),
    [
        ("CMD []", ()),
        ('ENTRYPOINT ["echo", "x"]', ("echo", "x")),
        ('SHELL ["/bin/sh", "-c"]', ("/bin/sh", "-c")),
        ('VOLUME ["/a", "/b"]', ("/a", "/b")),
        ('COPY --chown=0:0 ["a b", "/c"]', ("a b", "/c")),
        ('ADD ["a", "/b"]', ("a", "/b")),
        ('HEALTHCHECK --interval=5s CMD ["true"]', ("true",)),
        ("HEALTHCHECK NONE", None),
        ('ONBUILD RUN ["true"]', None),
        ('LABEL ["a"]', None),
        ("RUN echo [1]", None),
    ],
)
def test_parse_exec_form_per_keyword(line: str, json_args: tuple[str, ...] | None) -> None:
    instruction = parse(f"FROM busybox\n{line}\n").instructions[1]
    assert (instruction.json_args, instruction.is_exec_form) == (json_args, json_args is not None)


@pytest.mark.parametrize("args", ['["a", ]', "[NaN]", "[1e999]", "[a]", '["a"', "[ x ]"])
def test_parse_invalid_json_falls_back_to_shell_form(args: str) -> None:
    instruction = parse(f"FROM busybox\nRUN {args}\n").instructions[1]
    assert (instruction.args, instruction.json_args, instruction.is_exec_form) == (
        args,
        None,
        False,
    )


@pytest.mark.parametrize(
    "line", ["RUN [1, 2]", 'CMD ["a", null]', "ONBUILD RUN [true]", 'HEALTHCHECK CMD [["x"]]']
)
def test_parse_json_array_of_non_strings_raises(line: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(f"FROM busybox\n{line}\n")
    assert (info.value.message, info.value.line) == (
        "when using JSON array syntax, arrays must be comprised of strings only",
        2,
    )


@pytest.mark.parametrize(
    ("line", "flags", "args"),
    [
        ("COPY --from=build  /a /b", ("--from=build",), "/a /b"),
        ("COPY --chown=\"0:0\" --from='b c' -- a /b", ("--chown=0:0", "--from=b c"), "a /b"),
        # 20.10 wants "--flag=value"; "--from build" leaves the value out (the daemon then says
        # "Missing a value on flag: from", as recorded while writing this module).
        ("COPY --from build /a /b", ("--from",), "build /a /b"),
        ("RUN echo --not-a-flag", (), "echo --not-a-flag"),
        ("RUN -x", (), "-x"),
        ("RUN --network=none", ("--network=none",), ""),
    ],
)
def test_parse_leading_flags(line: str, flags: tuple[str, ...], args: str) -> None:
    instruction = parse(f"FROM busybox\n{line}\n").instructions[1]
    assert (instruction.flags, instruction.args, instruction.text) == (flags, args, line)


# --- parse: stages, ARG, ONBUILD ------------------------------------------------------------


def test_parse_stage_names_are_lower_cased() -> None:
    df = parse("FROM busybox AS Build\nFROM busybox as TEST-1.x_y\n")
    assert [(s.index, s.name, s.base) for s in df.stages] == [
        (0, "build", "busybox"),
        (1, "test-1.x_y", "busybox"),
    ]


def test_parse_arg_before_first_from_is_meta_arg() -> None:
    df = parse("ARG A\nARG B=2\nFROM busybox\nARG C\n")
    assert [(i.args, i.stage) for i in df.meta_args] == [("A", None), ("B=2", None)]
    assert [(i.keyword, i.args, i.stage) for i in df.instructions] == [
        ("ARG", "A", None),
        ("ARG", "B=2", None),
        ("FROM", "busybox", 0),
        ("ARG", "C", 0),
    ]


def test_parse_onbuild_whole_instruction() -> None:
    df = parse("FROM busybox\nonbuild RUN echo trigger \\\n  two\n")
    assert df.instructions[1] == Instruction(
        keyword="ONBUILD",
        args="RUN echo trigger   two",
        flags=(),
        line=2,
        end_line=3,
        stage=0,
        original="onbuild RUN echo trigger \\\n  two\n",
        json_args=None,
        code="onbuild RUN echo trigger   two",
    )


def test_parse_onbuild_unknown_trigger_is_accepted() -> None:
    # Recorded in onbuild_triggers: the daemon only rejects ONBUILD, FROM and MAINTAINER triggers.
    assert parse("FROM busybox\nONBUILD FOO x\n").instructions[1].args == "FOO x"


# --- parse: errors --------------------------------------------------------------------------


def test_parse_empty_text_raises() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("")
    assert (info.value.message, info.value.line) == ("the Dockerfile cannot be empty", 1)


@pytest.mark.parametrize(
    ("text", "line"), [("# comment\n\n   \n# another\n", 4), ("  \n", 1), ("\n\n", 2)]
)
def test_parse_no_instructions_raises(text: str, line: int) -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(text)
    assert (info.value.message, info.value.line) == ("file with no instructions", line)


def test_parse_unknown_instruction_raises_with_daemon_wording() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("FROM busybox\nRUN true\nfoo bar\n")
    assert (info.value.message, info.value.line) == ("unknown instruction: FOO", 3)
    assert str(info.value) == "dockerfile parse error line 3: unknown instruction: FOO"


def test_parse_lone_escape_at_eof_is_an_unknown_instruction() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("FROM busybox\n\\\n")
    assert str(info.value) == "dockerfile parse error line 2: unknown instruction:"


def test_parse_instruction_before_from_raises() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("# comment\nARG A\nRUN true\nFROM busybox\n")
    assert (info.value.message, info.value.line) == ("no build stage in current context", 3)


def test_parse_only_args_raises() -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse("ARG A\nARG B \\\n  =1\n")
    assert (info.value.message, info.value.line) == ("no FROM instruction", 3)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("FROM", "FROM requires either one or three arguments"),
        ("FROM busybox AS", "FROM requires either one or three arguments"),
        ("FROM busybox x y", "FROM requires either one or three arguments"),
        (
            "FROM busybox AS 1abc",
            'invalid name for build stage: "1abc", '
            "name can't start with a number or contain symbols",
        ),
        ("FROM busybox\nONBUILD", "ONBUILD requires at least one argument"),
        ("FROM busybox\nONBUILD from x", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM busybox\nONBUILD MAINTAINER me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        (
            "FROM busybox\nONBUILD onbuild RUN x",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
    ],
)
def test_parse_instruction_errors(line: str, message: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(line + "\n")
    assert (info.value.message, info.value.line) == (message, line.count("\n") + 1)


def test_parse_parser_errors_come_before_instruction_errors() -> None:
    # Recorded in err_order: the JSON error on line 4 wins over the unknown FOO on line 2.
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(_read("err_order"))
    assert info.value.line == 4


def test_syntax_error_without_line_is_just_the_message() -> None:
    assert str(DockerfileSyntaxError("boom")) == "boom"


# --- Dockerfile methods ---------------------------------------------------------------------


def test_dockerfile_stage_by_name_or_index() -> None:
    df = parse("FROM busybox AS Base\nFROM base AS app\nFROM busybox\n")
    assert df.stage("BASE") is df.stages[0]
    assert df.stage("app") is df.stages[1]
    assert df.stage(2) is df.stages[2]


@pytest.mark.parametrize("ref", ["nope", "1", 3, -1])
def test_dockerfile_stage_absent_raises_key_error(ref: str | int) -> None:
    df = parse("FROM busybox AS base\nFROM busybox\nFROM busybox\n")
    with pytest.raises(KeyError):
        df.stage(ref)


def test_dockerfile_instruction_at_lines() -> None:
    df = parse("FROM busybox\n\nRUN a \\\n# c\n  b\n# after\nCMD x\n")
    run = df.instructions[1]
    assert [df.instruction_at(n) for n in range(1, 9)] == [
        df.instructions[0],
        None,
        run,
        run,
        run,
        None,
        df.instructions[2],
        None,
    ]


# --- classic_steps --------------------------------------------------------------------------


def test_classic_steps_meta_args_and_froms_are_steps() -> None:
    df = parse("ARG V=1\nFROM busybox AS a\nRUN x\nFROM busybox\nONBUILD RUN y\n")
    meta, from0, run, from1, onbuild = df.instructions
    a, b = df.stages
    assert classic_steps(df) == (
        StepRef(index=1, instruction=meta, stage=None, synthetic=False, text="ARG V=1"),
        StepRef(index=2, instruction=from0, stage=a, synthetic=False, text="FROM busybox AS a"),
        StepRef(index=3, instruction=run, stage=a, synthetic=False, text="RUN x"),
        StepRef(index=4, instruction=from1, stage=b, synthetic=False, text="FROM busybox"),
        StepRef(index=5, instruction=onbuild, stage=b, synthetic=False, text="ONBUILD RUN y"),
    )


def test_classic_steps_target_drops_later_stages_from_the_total() -> None:
    df = parse("ARG V\nFROM busybox AS one\nRUN a\nFROM busybox AS Two\nRUN b\nFROM busybox\n")
    steps = classic_steps(df, target="TWO")
    assert [(s.index, s.text, s.stage) for s in steps] == [
        (1, "ARG V", None),
        (2, "FROM busybox AS one", df.stages[0]),
        (3, "RUN a", df.stages[0]),
        (4, "FROM busybox AS Two", df.stages[1]),
        (5, "RUN b", df.stages[1]),
    ]


@pytest.mark.parametrize("target", ["three", "0", "1"])
def test_classic_steps_unknown_target_raises_key_error(target: str) -> None:
    # The classic builder matches --target by name only: "--target 1" fails to reach the target.
    df = parse("FROM busybox AS one\nFROM busybox AS two\n")
    with pytest.raises(KeyError, match=f"failed to reach build target {target} in Dockerfile"):
        classic_steps(df, target=target)


def test_classic_steps_labels_add_one_step_each_sorted_by_key() -> None:
    df = parse("FROM busybox AS one\nFROM busybox\n")
    steps = classic_steps(df, labels={"b": "2", "a": "x y", "k": ""})
    assert steps[2:] == (
        StepRef(index=3, instruction=None, stage=df.stages[1], synthetic=True, text="LABEL a=x y"),
        StepRef(index=4, instruction=None, stage=df.stages[1], synthetic=True, text="LABEL b=2"),
        StepRef(index=5, instruction=None, stage=df.stages[1], synthetic=True, text="LABEL k="),
    )


def test_classic_steps_labels_go_to_the_target_stage() -> None:
    df = parse("FROM busybox AS one\nFROM busybox\n")
    assert classic_steps(df, target="one", labels={"z": "1"})[-1] == StepRef(
        index=2, instruction=None, stage=df.stages[0], synthetic=True, text="LABEL z=1"
    )


def test_classic_steps_without_labels_adds_no_step() -> None:
    df = parse("FROM busybox\nRUN x\n")
    assert len(classic_steps(df)) == 2


# --- recorded builds ------------------------------------------------------------------------


@pytest.mark.parametrize("case", STEP_CASES)
def test_classic_steps_match_recorded_build(case: str) -> None:
    target, labels = _build_options(case)
    steps = classic_steps(parse(_read(case)), target=target, labels=labels)
    recorded = _recorded_steps(case)
    assert recorded, "no Step lines recorded"
    # A build that fails stops printing steps, but every "Step N/M" carries the total.
    assert [(s.index, len(steps), s.text) for s in steps][: len(recorded)] == recorded


def test_fixture_crlf_kept_its_line_endings() -> None:
    # fixtures/dockerfiles/.gitattributes keeps git from normalising them.
    assert _read("crlf").count("\r\n") == 5


@pytest.mark.parametrize("case", ERROR_CASES)
def test_parse_error_matches_recorded_daemon_error(case: str) -> None:
    daemon = _daemon_error(case)
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(_read(case))
    if daemon.startswith("dockerfile parse error line "):
        assert str(info.value) == daemon
    else:
        # Errors of the lower-level parser name a temporary file instead of a line.
        daemon = re.sub(r"^failed to parse \.dockerfile\.[0-9a-f]+: ", "", daemon)
        daemon = re.sub(r" \(\.dockerfile\.[0-9a-f]+\)", "", daemon)
        assert info.value.message == daemon


def test_command_as_written_keeps_lines_drops_comments() -> None:
    df = parse(
        "FROM busybox\n"
        "RUN echo one && \\\n"
        "    # a comment inside the continuation\n"
        "\n"
        "    echo two\n"
    )
    assert command_as_written(df.instructions[1], df.escape) == ("echo one && \\\n    echo two")


def test_command_as_written_crlf_lowercase_keyword() -> None:
    df = parse("FROM x\r\nrun  echo a \\\r\n  b\r\n")
    assert command_as_written(df.instructions[1], df.escape) == "echo a \\\n  b"


def test_command_as_written_exec_form_and_backtick_escape() -> None:
    df = parse('FROM x\nRUN ["sh", "-c", "exit 3"]\n')
    assert command_as_written(df.instructions[1], df.escape) == '["sh", "-c", "exit 3"]'
    df = parse("# escape=`\nFROM x\nRUN echo a `\n  b\n")
    assert command_as_written(df.instructions[1], df.escape) == "echo a   b"

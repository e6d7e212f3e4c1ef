"""Tests for dbugbuild.dockerfile.prefix: the Dockerfile that builds a BuildKit failure's last good
layer. Pure; tests/test_buildkit_debug.py builds these prefixes on the real daemon."""

from __future__ import annotations

import os

import pytest

from dbugbuild.dockerfile import parse
from dbugbuild.dockerfile.prefix import (
    ARG_LABEL,
    BaseImage,
    Prefix,
    arg_values,
    args_in_scope,
    cut,
    echo_line,
    last_good,
    proxy_env,
)
from dbugbuild.dockerfile.variables import arg_declarations, expand


def _at(text: str, line: int) -> Prefix | BaseImage:
    df = parse(text)
    ins = df.instruction_at(line)
    assert ins is not None
    return last_good(text, df, ins, {})


MULTI = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS deps
RUN echo deps > /deps
FROM busybox AS tools
RUN echo tools > /tools
FROM deps
ARG MODE=fast
COPY --from=tools /tools /tools
RUN test "$MODE" = slow
RUN echo never
FROM busybox AS final
COPY --from=2 /tools /t
"""


def test_prefix_multi_stage_keeps_earlier_stages_names_the_unnamed_one_drops_later() -> None:
    prefix = _at(MULTI, 10)
    assert isinstance(prefix, Prefix)
    assert prefix.target == "dbugbuild-prefix" and prefix.named
    assert prefix.args == ("MODE",)
    assert prefix.stage.index == 2
    assert prefix.text == (
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=busybox\n"
        "FROM ${BASE} AS deps\n"
        "RUN echo deps > /deps\n"
        "FROM busybox AS tools\n"
        "RUN echo tools > /tools\n"
        "FROM deps AS dbugbuild-prefix\n"
        "ARG MODE=fast\n"
        "COPY --from=tools /tools /tools\n"
        f'LABEL "{ARG_LABEL}MODE"="${{MODE+=}}${{MODE}}"\n'
    )
    # The prefix still parses, with the same stage indexes before the cut.
    again = parse(prefix.text)
    assert [s.name for s in again.stages] == ["deps", "tools", "dbugbuild-prefix"]


def test_prefix_of_a_named_stage_keeps_its_name_and_the_escape_directive() -> None:
    text = "# escape=`\nFROM busybox AS app\nRUN echo a `\n    b\nRUN false\n"
    prefix = _at(text, 5)
    assert isinstance(prefix, Prefix)
    assert (prefix.target, prefix.named, prefix.args) == ("app", False, ())
    assert prefix.text == "# escape=`\nFROM busybox AS app\nRUN echo a `\n    b\n"


def test_prefix_name_does_not_clash_with_a_stage_of_that_name() -> None:
    text = "FROM busybox AS dbugbuild-prefix\nFROM busybox\nRUN false\n"
    prefix = _at(text, 3)
    assert isinstance(prefix, Prefix)
    assert prefix.target == "dbugbuild-prefix-2"
    assert "FROM busybox AS dbugbuild-prefix-2\n" in prefix.text


def test_prefix_name_goes_on_the_last_line_of_a_continued_from_crlf_kept() -> None:
    text = "FROM \\\r\n  busybox\r\nRUN false\r\n"
    prefix = _at(text, 3)
    assert isinstance(prefix, Prefix)
    assert prefix.text == "FROM \\\r\n  busybox AS dbugbuild-prefix\r\n"


def test_prefix_with_target_middle_cuts_the_stage_of_the_failure_not_the_target() -> None:
    # `--target` chose the build; the prefix is always the failing stage's.
    text = "FROM busybox AS a\nRUN false\nFROM a AS middle\nRUN true\nFROM middle\n"
    prefix = _at(text, 2)
    assert isinstance(prefix, Prefix)
    assert prefix.text == "FROM busybox AS a\n" and prefix.target == "a"


def test_prefix_before_a_heredoc_run_keeps_earlier_heredocs_whole() -> None:
    text = "FROM busybox\nRUN <<EOT\necho one\nEOT\nARG X=1\nRUN <<EOT\nexit 4\nEOT\n"
    df = parse(text)
    failing = next(i for i in df.instructions if i.line == 6)
    prefix = last_good(text, df, failing, {})
    assert isinstance(prefix, Prefix)
    assert prefix.text.startswith("FROM busybox AS dbugbuild-prefix\nRUN <<EOT\necho one\nEOT\n")
    assert prefix.args == ("X",)


def test_prefix_of_the_first_instruction_is_the_from_alone() -> None:
    prefix = _at("FROM busybox\nRUN false", 2)
    assert isinstance(prefix, Prefix)
    assert prefix.text == "FROM busybox AS dbugbuild-prefix\n"


def test_prefix_of_a_failing_from_on_a_stage_builds_that_stage_whole() -> None:
    # An ONBUILD trigger of the base stage failed in the FROM: the layer is the base stage.
    text = "FROM busybox AS base\nONBUILD RUN exit 3\nARG A=1\nFROM base\nRUN true\n"
    prefix = _at(text, 4)
    assert isinstance(prefix, Prefix)
    assert prefix.target == "base" and not prefix.named
    assert prefix.text == (
        "FROM busybox AS base\nONBUILD RUN exit 3\nARG A=1\n"
        f'LABEL "{ARG_LABEL}A"="${{A+=}}${{A}}"\n'
    )


def test_prefix_of_a_failing_from_on_an_image_is_the_image_with_meta_args() -> None:
    text = "ARG REPO=example.com\nARG TAG\nFROM ${REPO}/app:${TAG:-latest}\nRUN true\n"
    df = parse(text)
    head = df.stages[0].instructions[0]
    assert last_good(text, df, head, {}) == BaseImage("example.com/app:latest")
    assert last_good(text, df, head, {"TAG": "1.2"}) == BaseImage("example.com/app:1.2")
    platform = {"TARGETARCH": "arm64"}
    text2 = "FROM app:${TARGETARCH}\nRUN true\n"
    df2 = parse(text2)
    got = last_good(text2, df2, df2.stages[0].instructions[0], {}, platform)
    assert got == BaseImage("app:arm64")


def test_prefix_whole_last_stage_has_no_trailing_newline_problem() -> None:
    text = "FROM busybox AS a\nRUN true"
    df = parse(text)
    prefix = cut(text, df, df.stages[0], None)
    assert prefix.text == "FROM busybox AS a\nRUN true\n"


def test_prefix_cut_refuses_a_line_inside_the_from() -> None:
    text = "FROM busybox\nRUN true\n"
    df = parse(text)
    with pytest.raises(ValueError):
        cut(text, df, df.stages[0], 1)


def test_prefix_args_in_scope_several_per_arg_redeclared_moves_last() -> None:
    df = parse('FROM busybox\nARG A=1 B="x y"\nARG C\nARG A\nRUN true\nARG D\n')
    assert args_in_scope(df.stages[0], 5) == ("B", "C", "A")
    assert args_in_scope(df.stages[0], None) == ("B", "C", "A", "D")


def test_prefix_echo_and_values_tell_unset_from_empty() -> None:
    assert echo_line([]) == ""
    labels = {f"{ARG_LABEL}A": "=1", f"{ARG_LABEL}E": "=", f"{ARG_LABEL}U": ""}
    assert arg_values(("A", "E", "U", "MISSING"), labels) == ("A=1", "E=")


def test_prefix_proxy_env_in_both_spellings() -> None:
    assert proxy_env({"http_proxy": "http://p:1", "X": "1"}) == (
        "HTTP_PROXY=http://p:1",
        "http_proxy=http://p:1",
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A-${A}", "1-1"),
        ("${U:-d}/${E:-d}/${E-d}/${U-d}", "d/d//d"),
        ("${A:+set}${U:+set}${E+empty}${E:+no}", "setempty"),
        ("'$A'\"$A\"", "$A1"),
        ("\\$A", "$A"),
        ("$", "$"),
        ("${A", "${A"),
        ("x${A}y$A_z", "x1y"),
    ],
)
def test_variables_expand(word: str, expected: str) -> None:
    assert expand(word, {"A": "1", "E": ""}) == expected


def test_variables_arg_declarations() -> None:
    assert arg_declarations("A B=2 C=\"x y\" D='q'") == (
        ("A", None),
        ("B", "2"),
        ("C", "x y"),
        ("D", "q"),
    )


def test_bisect_prefix_layers_of_the_failing_stage_end_before_it() -> None:
    from dbugbuild.bisect import StageError, prefix_layers

    df = parse(MULTI)
    stage = prefix_layers(df, None, target=None, failed_line=10)
    assert (stage.name, stage.index) == (None, 2)
    assert [(lay.index, lay.line, lay.instruction) for lay in stage.layers] == [
        (1, 7, "FROM"),
        (2, 8, "ARG"),
        (3, 9, "COPY"),
    ]
    assert len({lay.key for lay in stage.layers}) == 3  # each its own position until built
    whole = prefix_layers(df, "tools", target=None, failed_line=10)
    assert [lay.text for lay in whole.layers] == [
        "FROM busybox AS tools",
        "RUN echo tools > /tools",
    ]
    assert prefix_layers(df, None, target="deps", failed_line=None).name == "deps"
    assert prefix_layers(df, None, target=None, failed_line=None).name == "final"
    assert prefix_layers(df, "1", target=None, failed_line=None).name == "tools"
    with pytest.raises(StageError):
        prefix_layers(df, "nope", target=None, failed_line=None)


def test_prefix_folder_is_outside_a_context_that_holds_the_temporary_folder() -> None:
    import tempfile

    from dbugbuild.backends import BuildInputs
    from dbugbuild.backends.lastgood import _outside
    from dbugbuild.options import BuildOptions

    def where(context: str) -> str | None:
        inputs = BuildInputs(BuildOptions(context=context), "/", {}, "", None, True, print, print)
        return _outside(inputs)

    temp = tempfile.gettempdir()
    assert where("/srv/app") is None  # the temporary folder is not in it: the default
    assert where(temp) == os.path.dirname(os.path.realpath(temp))

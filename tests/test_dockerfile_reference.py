"""The reference parser's ground, in our own cases: heredocs, escapes, directives, continuations.

The same ground as moby/buildkit frontend/dockerfile/parser's tests (parser_heredoc_test.go,
parser_test.go, the testfiles/ cases, line_parsers_test.go, directives_test.go), written
afresh; where a case is surprising, fixtures/parser-engine26 holds what Engine 26 did with it
(test_dockerfile_engine26.py). Whole objects are asserted where they are small.
"""

from __future__ import annotations

import pytest

from dbugbuild.dockerfile import DockerfileSyntaxError, Heredoc, Instruction, parse
from dbugbuild.dockerfile.heredoc import marker, markers, words


def _one(line: str, before: str = "FROM busybox\n") -> Instruction:
    df = parse(before + line)
    return df.instructions[-1]


def _docs(text: str) -> list[tuple[str, tuple[Heredoc, ...]]]:
    return [(i.keyword, i.heredocs) for i in parse(text).instructions]


# --- heredocs -----------------------------------------------------------------------------


def test_heredoc_run_whole_instruction() -> None:
    ins = _one("RUN <<EOT\necho a\n\n# kept\nEOT\nCMD x\n")
    assert ins.keyword == "CMD"
    run = parse("FROM busybox\nRUN <<EOT\necho a\n\n# kept\nEOT\nCMD x\n").instructions[1]
    assert run == Instruction(
        keyword="RUN",
        args="<<EOT",
        flags=(),
        line=2,
        end_line=6,
        stage=0,
        original="RUN <<EOT\necho a\n\n# kept\nEOT\n",
        json_args=None,
        code="RUN <<EOT",
        heredocs=(
            Heredoc(
                name="EOT", body="echo a\n\n# kept\n", expand=True, chomp=False, line=3, end_line=6
            ),
        ),
    )


def test_heredoc_several_on_one_line_read_in_order() -> None:
    # Each body ends at its own name; the other's name inside it is only text.
    text = "FROM busybox\nCOPY <<X <<Y /dest/\nY\nX\nX\nY\n"
    assert _docs(text)[1] == (
        "COPY",
        (
            Heredoc(name="X", body="Y\n", expand=True, chomp=False, line=3, end_line=4),
            Heredoc(name="Y", body="X\n", expand=True, chomp=False, line=5, end_line=6),
        ),
    )


def test_heredoc_empty_bodies_and_a_file_descriptor() -> None:
    text = "FROM busybox\nRUN <<E1\nE1\nRUN 3<<E2\nE2\n"
    assert [d for _, d in _docs(text)[1:]] == [
        (Heredoc(name="E1", body="", expand=True, chomp=False, line=3, end_line=3),),
        (Heredoc(name="E2", body="", expand=True, chomp=False, line=5, end_line=5),),
    ]


def test_heredoc_chomp_strips_leading_tabs_of_body_and_terminator() -> None:
    text = "FROM busybox\nRUN <<-T\n\t\techo a\n  echo b\n\tT\n"
    (doc,) = parse(text).instructions[1].heredocs
    assert (doc.body, doc.chomp, doc.end_line) == ("echo a\n  echo b\n", True, 5)
    # Without `-` a tab-indented terminator is a body line: the heredoc never ends.
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse("FROM busybox\nRUN <<T\n\techo a\n\tT\n")
    assert (caught.value.message, caught.value.line) == ("unterminated heredoc", 2)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("<<EOF", ("EOF", True, False)),
        ("<<'EOF'", ("EOF", False, False)),
        ('<<"EOF"', ("EOF", False, False)),
        ("<<-EOF", ("EOF", True, True)),
        ("<<-'EOF'", ("EOF", False, True)),
        ("4<<EOF", ("EOF", True, False)),
        ('<<E"O"F', ("EOF", False, False)),  # any quote in the word: no expansion
        ("<<", None),
        ("<<-", None),
        ("<EOF", None),
        ("<<<EOF", None),
        ("EOF", None),
        ("", None),
        ("x<<EOF", None),
        ("<<'A B'", ("A B", False, False)),
        ("<<A B", None),  # not one word
    ],
)
def test_heredoc_marker(word: str, expected: tuple[str, bool, bool] | None) -> None:
    assert marker(word) == expected


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("RUN <<EOF", ["EOF"]),
        ("RUN <<-EOF", ["EOF"]),
        ("RUN <<'EOF'", ["EOF"]),
        ("RUN 4<<EOF", ["EOF"]),
        ("RUN <<EOF <<EOF2", ["EOF", "EOF2"]),
        ("RUN cat <<EOF > /x && sh /x", ["EOF"]),
        ("RUN '<<EOF'", []),
        ('RUN "<<EOF"', []),
        ("RUN echo \\<<EOF", []),  # escaped: a plain word
        ("RUN cat<<EOF", []),  # not a word of its own
        ("RUN echo 'open <<EOF", []),  # an unterminated quote: the lexer gives up
    ],
)
def test_heredoc_markers_of_a_line(line: str, names: list[str]) -> None:
    assert [name for name, _, _ in markers(line)] == names


def test_heredoc_words_keep_quotes_and_escapes_when_asked() -> None:
    line = 'a \'b c\' "d \\" e" f\\ g\u2028h'
    assert words(line, raw_quotes=True, raw_escapes=True) == [
        "a",
        "'b c'",
        '"d \\" e"',
        "f\\ g",
        "h",
    ]
    assert words(line, raw_quotes=False, raw_escapes=False) == ["a", "b c", 'd " e', "f g", "h"]
    assert words("'open", raw_quotes=True, raw_escapes=True) is None


def test_heredoc_only_in_shell_form_run_copy_add_and_onbuild_triggers() -> None:
    text = (
        "FROM busybox\n"
        "ADD <<a /a\nbody\na\n"
        "ONBUILD COPY <<b /b\nbody\nb\n"
        'RUN ["sh", "<<c"]\n'
        'ONBUILD RUN ["<<d"]\n'
        "LABEL x=<<e\n"
    )
    assert [(k, [d.name for d in docs]) for k, docs in _docs(text)] == [
        ("FROM", []),
        ("ADD", ["a"]),
        ("ONBUILD", ["b"]),
        ("RUN", []),
        ("ONBUILD", []),
        ("LABEL", []),
    ]


def test_heredoc_body_follows_a_continued_line_and_is_not_parsed() -> None:
    text = (
        "FROM busybox\nRUN --mount=type=cache,target=/c \\\n  # flags\n  cat <<EOT\n"
        "FOO \\\nEOT\nRUN b\n"
    )
    df = parse(text)
    run = df.instructions[1]
    assert (run.flags, run.args, run.line, run.end_line) == (
        ("--mount=type=cache,target=/c",),
        "cat <<EOT",
        2,
        6,
    )
    assert run.heredocs[0].body == "FOO \\\n"
    assert [(i.keyword, i.line) for i in df.instructions] == [("FROM", 1), ("RUN", 2), ("RUN", 7)]


def test_heredoc_terminator_must_be_the_whole_line() -> None:
    text = "FROM busybox\nRUN <<EOT\nEOT \n EOT\nEOTx\nEOT\r\n"
    (doc,) = parse(text).instructions[1].heredocs
    assert (doc.body, doc.end_line) == ("EOT \n EOT\nEOTx\n", 6)


def test_heredoc_unterminated_at_end_of_file() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse("FROM busybox\nCOPY <<a <<b /d/\nx\na\ny\n")
    assert (caught.value.message, caught.value.line) == ("unterminated heredoc", 2)


# --- escapes and continuations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("RUN echo C:\\\\tools\\\\\nRUN b\n", ["echo C:\\\\tools\\\\", "b"]),
        ("RUN a\\\\\\\nRUN b\n", ["a\\\\\\", "b"]),  # the reference's regex: not continued
        ("RUN a \\  \t\nb\n", ["a b"]),
        ("RUN a\\\n\\\nb\n", ["ab"]),  # an escape alone on a line continues too
        ("# escape=`\nRUN a``\nRUN b\n", ["a``", "b"]),
        ("# escape=`\nRUN a `\nb\n", ["a b"]),
        ("# escape=`\nRUN C:\\ \nRUN b\n", ["C:\\", "b"]),
    ],
)
def test_continuation_only_after_an_unescaped_escape(text: str, runs: list[str]) -> None:
    if not text.startswith("#"):
        text = "FROM busybox\n" + text
    else:
        text = text.replace("\n", "\nFROM busybox\n", 1)
    assert [i.args for i in parse(text).instructions if i.keyword == "RUN"] == runs


def test_continuation_keeps_the_next_lines_indent() -> None:
    text = "FROM busybox\nRUN echo hello\\\n  world\\\n  good  \\\nnight\n"
    assert _one("", text).args == "echo hello  world  good  night"


def test_continuation_comment_does_not_end_it() -> None:
    text = "FROM busybox\nRUN echo hello \\\n# a comment\nRUN echo more\n"
    run = parse(text).instructions[1]
    assert (run.args, run.line, run.end_line) == ("echo hello RUN echo more", 2, 4)


def test_continuation_spans_like_the_reference_testfile_line() -> None:
    text = (
        "\n\n\nFROM busybox\n\n\n# a comment\n\n\nENV GOPATH \\\n/go\n\n\n\n"
        "# install\nRUN apt-get update \\\n\t&& a \\\n\n\n    && b \\\n\n\t&& c\n"
    )
    assert [(i.keyword, i.line, i.end_line) for i in parse(text).instructions] == [
        ("FROM", 4, 4),
        ("ENV", 10, 11),
        ("RUN", 16, 22),
    ]


# --- directives ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "escape"),
    [
        ("#escape=`\n", "`"),
        ("# ESCAPE = `\n", "`"),
        ("  #escape = `\n", "`"),
        ("\ufeff# escape=`\r\n", "`"),
        ("# syntax=docker/dockerfile:1\n# escape=`\n", "`"),
        ("# check=skip=all\n# escape=`\n", "\\"),  # no directive on Engine 26: it ends them
        ("# key=value\n# escape=`\n", "\\"),
        ("\n# escape=`\n", "\\"),
        ("# a comment\n# escape=`\n", "\\"),
        ("#!/bin/sh\n# escape=`\n", "\\"),
    ],
)
def test_directives_at_the_top_only(head: str, escape: str) -> None:
    assert parse(head + "FROM busybox\n").escape == escape


def test_directive_repeated_is_an_error_even_in_another_case() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse("# syntax=a\n# SYNTAX=b\nFROM busybox\n")
    assert (caught.value.message, caught.value.line) == (
        "only one syntax parser directive can be used",
        2,
    )


# --- JSON forms, ONBUILD, HEALTHCHECK, flags, whitespace ----------------------------------


@pytest.mark.parametrize(
    ("args", "json_args", "command"),
    [
        ('["sh","-c","exit 3"] # note', ("sh", "-c", "exit 3"), '["sh","-c","exit 3"]'),
        ('["a"]["b"]', ("a",), '["a"]'),
        ("[]x", (), "[]"),
        ('[ "a" ,\t"b" ]  ', ("a", "b"), '[ "a" ,\t"b" ]'),
        ('["\\u00e9", "\\n"]', ("é", "\n"), '["\\u00e9", "\\n"]'),
        ('["a" "b"]', None, '["a" "b"]'),
        ("[1e999]", None, "[1e999]"),
        ("[-Infinity]", None, "[-Infinity]"),
    ],
)
def test_json_form_reads_the_first_value(
    args: str, json_args: tuple[str, ...] | None, command: str
) -> None:
    run = _one(f"RUN {args}\n")
    assert (run.json_args, run.command) == (json_args, command)


@pytest.mark.parametrize("args", ['["a", 1] # note', '[["nested"]]', '[{"a": "b"}]', "[true]"])
def test_json_form_of_non_strings_is_an_error_whatever_follows(args: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        _one(f"RUN {args}\n")
    assert caught.value.message.startswith("when using JSON array syntax")


def test_onbuild_trigger_json_and_heredoc() -> None:
    text = 'FROM busybox\nONBUILD RUN ["a"] x\nONBUILD ADD <<f /f\nbody\nf\n'
    first, second = parse(text).instructions[1:]
    assert (first.args, first.json_args, first.heredocs) == ('RUN ["a"] x', None, ())
    assert (second.end_line, second.heredocs[0].body) == (5, "body\n")
    with pytest.raises(DockerfileSyntaxError):
        parse("FROM busybox\nONBUILD RUN [1] x\n")


@pytest.mark.parametrize(
    ("line", "flags", "json_args"),
    [
        ("HEALTHCHECK NONE", (), None),
        (
            "HEALTHCHECK --interval=5s --retries=3 CMD /check.sh --quiet",
            ("--interval=5s", "--retries=3"),
            None,
        ),
        ('HEALTHCHECK --timeout=3s CMD ["foo"] # x', ("--timeout=3s",), ("foo",)),
        ("HEALTHCHECK CONNECT TCP 7000", (), None),
        ("HEALTHCHECK", (), None),
    ],
)
def test_healthcheck_forms(
    line: str, flags: tuple[str, ...], json_args: tuple[str, ...] | None
) -> None:
    ins = _one(line + "\n")
    assert (ins.flags, ins.json_args) == (flags, json_args)


@pytest.mark.parametrize(
    ("line", "flags", "args"),
    [
        (
            "RUN --mount=type=cache,target=/c --network=none make",
            ("--mount=type=cache,target=/c", "--network=none"),
            "make",
        ),
        ("COPY --link --chmod=755 a /a", ("--link", "--chmod=755"), "a /a"),
        ('COPY --from="my stage" a /a', ("--from=my stage",), "a /a"),
        ("COPY --chown=a\\ b a /a", ("--chown=a b",), "a /a"),
        ("COPY -- --not-a-flag /a", (), "--not-a-flag /a"),
        (
            "ADD --checksum=sha256:x --keep-git-dir=true u /u",
            ("--checksum=sha256:x", "--keep-git-dir=true"),
            "u /u",
        ),
    ],
)
def test_flags_before_the_arguments(line: str, flags: tuple[str, ...], args: str) -> None:
    ins = _one(line + "\n")
    assert (ins.flags, ins.args) == (flags, args)


def test_whitespace_kinds() -> None:
    text = "FROM busybox\nRUN\techo tab\x0b\n\x0c  RUN\x0becho ff\n\u3000RUN echo ideographic\n"
    assert [(i.keyword, i.args, i.line) for i in parse(text).instructions[1:]] == [
        ("RUN", "echo tab", 2),
        ("RUN", "echo ff", 3),
        ("RUN", "echo ideographic", 4),
    ]
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse("FROM busybox\nRUN\xa0echo x\n")  # NBSP trims a line but splits no keyword
    assert caught.value.message == "unknown instruction: RUN\xa0ECHO"

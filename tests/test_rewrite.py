"""The pure rewrite of a Dockerfile instruction on many Dockerfile shapes (whole texts asserted)."""

from __future__ import annotations

import pytest

from dbugbuild.dockerfile import buildkit_script, command_as_written, parse
from dbugbuild.dockerfile.rewrite import insert_run_before, replace_run, split_chain, unified_diff


def _replace(text: str, line: int, command: str, shell: tuple[str, ...] = ("/bin/sh", "-c")) -> str:
    ins = parse(text).instruction_at(line)
    assert ins is not None
    return replace_run(text, ins, command, shell)


def _insert(text: str, line: int, command: str) -> str:
    ins = parse(text).instruction_at(line)
    assert ins is not None
    return insert_run_before(text, ins, command)


def test_rewrite_single_line() -> None:
    text = 'FROM debian\n# refresh\nRUN apt-get -y update-all\nCMD ["bash"]\n'
    assert _replace(text, 3, "apt-get update") == (
        'FROM debian\n# refresh\nRUN apt-get update\nCMD ["bash"]\n'
    )


def test_rewrite_keeps_indentation_keyword_case_and_crlf() -> None:
    text = "FROM debian\r\n  run  false\r\n# after\r\n"
    assert _replace(text, 2, "true") == "FROM debian\r\n  run true\r\n# after\r\n"


def test_rewrite_chain_trailing_style_reflowed() -> None:
    text = (
        "FROM debian\n"
        "RUN apt-get update && \\\n"
        "    apt-get install -y nosuchpkg && \\\n"
        "    rm -rf /var/lib/apt/lists/*\n"
        "WORKDIR /app\n"
    )
    new = _replace(
        text, 2, "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"
    )
    assert new == (
        "FROM debian\n"
        "RUN apt-get update && \\\n"
        "    apt-get install -y curl && \\\n"
        "    rm -rf /var/lib/apt/lists/*\n"
        "WORKDIR /app\n"
    )


def test_rewrite_chain_leading_style_reflowed() -> None:
    text = "FROM x\nRUN a \\\n  && b \\\n  && c\n"
    assert _replace(text, 2, "a && B && c && d") == (
        "FROM x\nRUN a \\\n  && B \\\n  && c \\\n  && d\n"
    )


def test_rewrite_multi_line_text_kept_as_typed() -> None:
    text = "FROM x\nRUN echo one && \\\n    # dropped by the builder\n    false\nRUN next\n"
    typed = "echo one && \\\n    echo two"
    assert _replace(text, 2, typed) == "FROM x\nRUN echo one && \\\n    echo two\nRUN next\n"


def test_rewrite_exec_form_kept() -> None:
    text = 'FROM x\nRUN ["false"]\n'
    assert _replace(text, 2, '["true", "--x"]') == 'FROM x\nRUN ["true", "--x"]\n'
    # Shell text in an exec-form step: written as the shell that ran it, still exec form.
    assert _replace(text, 2, "echo $HOME", ("/bin/bash", "-c")) == (
        'FROM x\nRUN ["/bin/bash", "-c", "echo $HOME"]\n'
    )


def test_rewrite_single_line_chain_stays_one_line() -> None:
    text = "FROM x\nRUN a && b\n"
    assert _replace(text, 2, "a && c") == "FROM x\nRUN a && c\n"


def test_rewrite_quoted_and_subshell_ampersands_are_not_split() -> None:
    assert split_chain("echo 'a && b' && (x && y) && echo \"c && d\"") == [
        "echo 'a && b'",
        "(x && y)",
        'echo "c && d"',
    ]


def test_rewrite_last_line_without_newline() -> None:
    assert _replace("FROM x\nRUN false", 2, "true") == "FROM x\nRUN true"


def test_rewrite_stage_and_comments_around_untouched() -> None:
    text = (
        "# syntax comment\n"
        "FROM busybox AS build\n"
        "\n"
        "# why we do this\n"
        "RUN make   # trailing words are part of the command\n"
        "\n"
        "FROM busybox\n"
        "COPY --from=build /out /out\n"
    )
    assert _replace(text, 5, "make all") == text.replace(
        "RUN make   # trailing words are part of the command", "RUN make all"
    )


def test_rewrite_insert_before_keeps_order() -> None:
    text = "FROM debian\n    RUN apt-get install -y curl\n"
    once = _insert(text, 2, "apt-get update")
    twice = _insert(once, 3, "mkdir -p /app")
    assert twice == (
        "FROM debian\n    RUN apt-get update\n    RUN mkdir -p /app\n"
        "    RUN apt-get install -y curl\n"
    )


def test_rewrite_insert_crlf() -> None:
    assert _insert("FROM x\r\nRUN b\r\n", 2, "a") == "FROM x\r\nRUN a\r\nRUN b\r\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_rewrite_diff_equals_change(newline: str) -> None:
    old = newline.join(["FROM x", "RUN false", "CMD y", ""])
    new = _replace(old, 2, "true")
    assert unified_diff(old, new, "Dockerfile") == (
        "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,3 +1,3 @@\n"
        " FROM x\n-RUN false\n+RUN true\n CMD y\n"
    )


# --- heredoc RUNs keep their heredoc form (issue 11) ---------------------------------------

HEREDOC = "FROM busybox\nRUN --network=none <<-'EOT'\n\techo one\n\texit 3\n\tEOT\nCMD [\"sh\"]\n"


def test_rewrite_heredoc_pre_typed_text_edited_is_written_as_typed() -> None:
    ins = parse(HEREDOC).instruction_at(2)
    assert ins is not None
    pre_typed = command_as_written(ins)
    assert pre_typed == "--network=none <<-'EOT'\n\techo one\n\texit 3\n\tEOT"
    new = _replace(HEREDOC, 2, pre_typed.replace("exit 3", "echo two"))
    assert new == HEREDOC.replace("exit 3", "echo two")


def test_rewrite_heredoc_plain_command_becomes_the_body() -> None:
    new = _replace(HEREDOC, 3, "echo fixed && echo again")
    assert new == (
        "FROM busybox\nRUN --network=none <<-'EOT'\necho fixed && echo again\n\tEOT\nCMD [\"sh\"]\n"
    )
    ins = parse(new).instruction_at(2)
    assert ins is not None and buildkit_script(ins) == "echo fixed && echo again\n"


def test_rewrite_heredoc_crlf_and_multi_line_body() -> None:
    text = "FROM busybox\r\nRUN <<EOT\r\nexit 3\r\nEOT\r\n"
    assert _replace(text, 3, "echo a\necho b") == (
        "FROM busybox\r\nRUN <<EOT\r\necho a\r\necho b\r\nEOT\r\n"
    )


@pytest.mark.parametrize(
    "command",
    ['["sh", "-c", "echo exec"]', "echo a\nEOT\necho b", "cat <<X > /f\nx\nX"],
    ids=["exec-form", "holds-the-terminator", "own-heredoc"],
)
def test_rewrite_heredoc_not_kept_when_the_command_cannot_be_its_body(command: str) -> None:
    text = "FROM busybox\nRUN <<EOT\nexit 3\nEOT\n"
    new = _replace(text, 2, command)
    assert new == "FROM busybox\nRUN " + command + "\n"


def test_rewrite_complex_heredoc_replaced_whole() -> None:
    text = "FROM busybox\nRUN cat <<EOF > /x && sh /x\nexit 3\nEOF\nRUN true\n"
    assert _replace(text, 3, "echo fixed") == "FROM busybox\nRUN echo fixed\nRUN true\n"


def test_rewrite_insert_before_a_heredoc_run() -> None:
    text = "FROM busybox\nRUN <<EOT\nexit 3\nEOT\n"
    new = _insert(text, 4, "<<X\necho first\nX")
    assert new == "FROM busybox\nRUN <<X\necho first\nX\nRUN <<EOT\nexit 3\nEOT\n"
    assert [(i.line, i.end_line) for i in parse(new).instructions] == [(1, 1), (2, 4), (5, 7)]


def test_rewrite_backtick_escape_chain_uses_the_backtick() -> None:
    text = "# escape=`\nFROM x\nRUN a && `\n    b && `\n    c\n"
    assert _replace(text, 3, "d && e") == "# escape=`\nFROM x\nRUN d && `\n    e\n"


def test_rewrite_last_line_without_newline_keeps_none() -> None:
    assert _replace("FROM x\nRUN a", 2, "b") == "FROM x\nRUN b"
    assert _replace("FROM x\nRUN <<E\na\nE", 2, "b") == "FROM x\nRUN <<E\nb\nE"

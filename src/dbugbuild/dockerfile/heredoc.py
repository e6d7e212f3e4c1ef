"""PURE: heredocs (`RUN <<EOT` ... `EOT`) as the reference parser finds and reads them.

Learnt from moby/buildkit frontend/dockerfile/parser/parser.go (heredocsFromLine,
ParseHeredoc, the body loop in Parse) and its parser_heredoc_test.go; the words come from
frontend/dockerfile/shell/lex.go as that parser configures it (quotes and escapes kept,
the escape char always "\\", whatever the escape directive says). Must not do I/O,
print, or read the environment or the clock.

What the builders then do with a heredoc RUN, recorded on Engine 26.1.5
(tests/fixtures/parser-engine26/heredoc_*):
- BuildKit, when the command is one heredoc word (`RUN <<EOT`): the body is the script,
  `/bin/sh -c "echo body-ran\\nexit 3\\n"` (tabs stripped for `<<-`), or, when the body starts
  with `#!`, the body as an executable file: `/bin/sh -c /dev/pipes/EOT`.
- BuildKit, any other command (`RUN cat <<EOT > /x && sh /x`): the command, then each
  heredoc's raw body and its name, through the shell:
  `/bin/sh -c "cat <<EOT > /x && sh /x\\necho complex-ran\\nexit 4\\nEOT"`.
- The classic builder parses the heredoc the same way (its body is no instruction, the step
  count and the step echo `Step 2/3 : RUN <<EOT` leave it out) and then DROPS it: it runs the
  logical line alone, `/bin/sh -c <<EOT`, which runs nothing and succeeds. A `COPY <<a.txt
  /dest/` fails there with "COPY failed: no source files were specified".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dbugbuild.dockerfile.lines import GO_SPACE, lines
from dbugbuild.dockerfile.model import DockerfileSyntaxError, Heredoc, Instruction

# parser.go: heredocDirectives (heredocCompoundDirectives adds ONBUILD's trigger).
HEREDOC_KEYWORDS = frozenset({"ADD", "COPY", "RUN"})

# parser.go: reHeredoc, `^(\d*)<<(-?)([^<]*)$` (Go's \d is ASCII).
_MARKER = re.compile(r"([0-9]*)<<(-?)([^<]*)", re.DOTALL)
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_QUOTES = ("'", '"')


def words(line: str, *, raw_quotes: bool, raw_escapes: bool) -> list[str] | None:
    """The shell words of `line` (shell.Lex.ProcessWords), None where a quote never closes.

    Words end at Go's unicode.IsSpace outside quotes. Variables are left as written
    (SkipUnsetEnv with no environment): a `$` is a character here.
    """
    out: list[str] = []
    word = ""
    in_word = False
    i, end = 0, len(line)
    while i < end:
        ch = line[i]
        if ch in _QUOTES:
            close = _close_quote(line, i)
            if close is None:
                return None
            word += _quoted(line[i : close + 1], raw_quotes, raw_escapes)
            in_word = True
            i = close + 1
            continue
        i += 1
        if ch == "\\":
            if raw_escapes:
                word += ch
            if i == end:
                break
            word += line[i]
            in_word = True
            i += 1
        elif ch in GO_SPACE:
            if in_word and word:
                out.append(word)
                word, in_word = "", False
        else:
            word += ch
            in_word = True
    if word:
        out.append(word)
    return out


def _close_quote(line: str, start: int) -> int | None:
    """Where the quote opened at `start` closes (a `\\` escapes inside double quotes)."""
    quote = line[start]
    i = start + 1
    while i < len(line):
        ch = line[i]
        if ch == quote:
            return i
        if quote == '"' and ch == "\\" and i + 1 < len(line) and line[i + 1] in '"$\\':
            i += 1
        i += 1
    return None


def _quoted(text: str, raw_quotes: bool, raw_escapes: bool) -> str:
    """A quoted string as lex.go keeps it: quotes and escapes per the two raw switches."""
    inner = text[1:-1]
    if text[0] == '"':
        inner = re.sub(r"\\([\"$\\])", (lambda m: m[0]) if raw_escapes else (lambda m: m[1]), inner)
    return text if raw_quotes else inner


def marker(word: str) -> tuple[str, bool, bool] | None:
    """(name, expand, chomp) of a heredoc word such as `<<EOT`, `<<-"EOT"`, `3<<EOT`; else None.

    parser.go: ParseHeredoc. The name is the word unquoted; a quote anywhere in it means the
    body is not expanded.
    """
    match = _MARKER.fullmatch(word)
    if match is None or not match[3]:
        return None
    rest = match[3]
    plain = words(rest, raw_quotes=False, raw_escapes=False)
    raw = words(rest, raw_quotes=True, raw_escapes=False)
    if plain is None or raw is None or len(plain) != 1 or len(raw) != 1:
        return None
    name = plain[0]
    expand = _quote_count(name) == _quote_count(raw[0])
    return name, expand, match[2] == "-"


def _quote_count(text: str) -> int:
    return text.count("'") + text.count('"')


def markers(line: str) -> list[tuple[str, bool, bool]]:
    """The heredocs a logical line opens, in order (parser.go: heredocsFromLine)."""
    found = words(line, raw_quotes=True, raw_escapes=True) or []
    return [m for m in map(marker, found) if m is not None]


def chomp(body: str) -> str:
    """A `<<-` body as the builder uses it: leading tabs removed from every line."""
    return _LEADING_TABS.sub("", body)


def read_bodies(
    raw_lines: Sequence[str], after: int, opened: list[tuple[str, bool, bool]], start: int
) -> tuple[tuple[Heredoc, ...], int]:
    """The heredocs' bodies from the lines after line `after` (1-based); and the last line read.

    Each body runs to a line that is exactly its name (its line ending aside; leading tabs
    aside for `<<-`). The lines in between are no instruction, no comment, no continuation.
    """
    docs: list[Heredoc] = []
    current = after
    for name, expand, chomped in opened:
        first = current + 1
        body: list[str] = []
        while True:
            if current >= len(raw_lines):
                # The daemon words it without a line: "failed to parse <file>: unterminated
                # heredoc" (classic), "unterminated heredoc" (BuildKit); the span starts here.
                raise DockerfileSyntaxError("unterminated heredoc", start)
            raw = raw_lines[current]
            current += 1
            candidate = raw.rstrip("\r\n")
            if chomped:
                candidate = candidate.lstrip("\t")
            if candidate == name:
                break
            body.append(raw.removesuffix("\n"))
        text = "".join(line + "\n" for line in body)
        docs.append(
            Heredoc(
                name=name,
                body=chomp(text) if chomped else text,
                expand=expand,
                chomp=chomped,
                line=first,
                end_line=current,
            )
        )
    return tuple(docs), current


def raw_body(instruction: Instruction, doc: Heredoc) -> str:
    """A heredoc's body exactly as the file has it (tabs and line endings kept)."""
    written = lines(instruction.original, keepends=True)
    return "".join(written[doc.line - instruction.line : doc.end_line - instruction.line])


def buildkit_script(instruction: Instruction) -> str:
    """What BuildKit hands the shell (`/bin/sh -c`, or the SHELL) for a shell-form RUN.

    dockerfile2llb's dispatchRun, recorded in parser-engine26/heredoc_*: a RUN without
    heredocs runs its arguments; one that is a single heredoc word runs the body, or, for a
    body starting with `#!`, that body as an executable file at /dev/pipes/<name> (BuildKit
    mounts it; this returns the path it runs); any other heredoc RUN runs its arguments, then
    each raw body and its name, as a shell reads a heredoc.
    """
    docs = instruction.heredocs
    if not docs:
        return instruction.args
    if len(docs) == 1 and marker(instruction.args) is not None:
        if docs[0].body.startswith("#!"):
            return f"/dev/pipes/{docs[0].name}"
        return docs[0].body
    return instruction.args + "".join(f"\n{raw_body(instruction, d)}{d.name}" for d in docs)

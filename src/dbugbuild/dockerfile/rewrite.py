"""Rewrite one instruction of a Dockerfile's text: replace a RUN's command, or add a RUN before it.

PURE: text in, text out. Everything outside the edited lines is kept byte for byte
(comments, blank lines, other instructions, the file's line endings); the edited
instruction keeps its indentation, keyword spelling, form (shell, exec or heredoc) and,
for a chain written one `&& \\` per line, that layout. Lines are the builder's lines
(dockerfile.lines): a U+2028 or a lone CR inside a comment is no line break here either.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile.heredoc import marker
from dbugbuild.dockerfile.lines import lines
from dbugbuild.dockerfile.model import DockerfileSyntaxError, Instruction, parse_exec_form
from dbugbuild.dockerfile.parse import parse
from dbugbuild.dockerfile.steps import typed_run


@dataclass(frozen=True)
class Layout:
    """How an instruction is laid out in the file."""

    indent: str  # before the keyword
    keyword: str  # as written ("RUN", "run")
    newline: str  # "\n" or "\r\n"
    continuation_indent: str  # before the second line's text
    chain_style: str  # "trailing" (`a && \\`), "leading" (`\\` then `&& b`), or "" (not a chain)
    escape: str = "\\"  # the file's escape char, which continues a line


def layout(instruction: Instruction, escape: str = "\\") -> Layout:
    """The layout of an instruction as written (its logical lines: heredoc bodies aside)."""
    written = lines(instruction.original, keepends=True)
    if instruction.heredocs:
        written = written[: instruction.heredocs[0].line - instruction.line]
    first = written[0]
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    indent = first[: len(first) - len(first.lstrip())]
    keyword = first.lstrip()[: len(instruction.keyword)]
    body = [ln.rstrip("\r\n") for ln in written]
    code = [ln for ln in body[1:] if ln.strip() and not ln.lstrip().startswith("#")]
    cont_indent = code[0][: len(code[0]) - len(code[0].lstrip())] if code else "    "
    style = ""
    if len(body) > 1:
        heads = [ln for ln in body if ln.strip() and not ln.lstrip().startswith("#")]
        trailing = re.compile(rf"&&\s*{re.escape(escape)}\s*$")
        if all(trailing.search(ln) for ln in heads[:-1]):
            style = "trailing"
        elif all(ln.lstrip().startswith("&&") for ln in heads[1:]):
            style = "leading"
    return Layout(indent, keyword, newline, cont_indent, style, escape)


def split_chain(command: str) -> list[str]:
    """A one-line `a && b && c` split at its top-level `&&` (not inside quotes or $(...))."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    while i < len(command):
        ch = command[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 2
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif command.startswith("&&", i) and depth == 0:
            parts.append(command[start:i].strip())
            start = i + 2
            i += 2
            continue
        i += 1
    parts.append(command[start:].strip())
    return [p for p in parts if p]


def _command_lines(command: str, lay: Layout) -> list[str]:
    """The command's lines (without newlines) as they follow the keyword."""
    if "\n" in command:  # already laid out by the user (the pre-typed multi-line text)
        return command.replace("\r\n", "\n").split("\n")
    parts = split_chain(command)
    e = lay.escape
    if lay.chain_style and len(parts) > 1:
        if lay.chain_style == "trailing":
            return [f"{p} && {e}" for p in parts[:-1]] + [parts[-1]]
        return [f"{parts[0]} {e}"] + [f"&& {p} {e}" for p in parts[1:-1]] + [f"&& {parts[-1]}"]
    return [command]


def instruction_text(
    instruction: Instruction,
    command: str,
    shell: Sequence[str] = ("/bin/sh", "-c"),
    escape: str = "\\",
) -> str:
    """The new source text of a RUN that runs `command`, laid out as `instruction` was."""
    lay = layout(instruction, escape)
    heredoc = _heredoc_text(instruction, command, lay)
    if heredoc is not None:
        return heredoc
    array = _json_array(command)
    if instruction.is_exec_form:
        # Keep exec form: a typed JSON array as given, shell text as the shell that ran it.
        argv = array if array is not None else [*shell, command]
        lines = [json.dumps(argv)]
    elif array is not None:
        lines = [json.dumps(array)]
    else:
        lines = _command_lines(command, lay)
    head = f"{lay.indent}{lay.keyword} {lines[0]}"
    # The user's own multi-line layout is kept as typed; a reflowed chain gets the indent.
    indent = "" if "\n" in command else lay.continuation_indent
    rest = [indent + line for line in lines[1:]]
    return lay.newline.join([head, *rest]) + lay.newline


def _heredoc_text(instruction: Instruction, command: str, lay: Layout) -> str | None:
    """A `RUN <<EOT` (the heredoc alone) that now runs `command`: its head and terminator lines
    as written, `command` as the body; None for any other RUN, or a command that is itself a
    heredoc (written as typed), an exec form, or holds the terminator line."""
    docs = instruction.heredocs
    if len(docs) != 1 or marker(instruction.args) is None or docs[0].body.startswith("#!"):
        return None
    typed = typed_run(command)
    if (typed is not None and typed.heredocs) or _json_array(command) is not None:
        return None  # a typed heredoc is written as typed; a JSON array is exec form
    body = command.replace("\r\n", "\n").split("\n")
    written = lines(instruction.original)
    head, terminator = written[: docs[0].line - instruction.line], written[-1]
    check = terminator.lstrip("\t") if docs[0].chomp else terminator
    if any((ln.lstrip("\t") if docs[0].chomp else ln) == check for ln in body):
        return None
    return lay.newline.join([*head, *body, terminator]) + lay.newline


def _json_array(text: str) -> list[str] | None:
    array = parse_exec_form(text)  # the session's rule: a JSON array of strings is exec form
    return list(array) if array is not None else None


def _escape(text: str) -> str:
    try:
        return parse(text).escape
    except DockerfileSyntaxError:
        return "\\"


def replace_run(
    text: str, instruction: Instruction, command: str, shell: Sequence[str] = ("/bin/sh", "-c")
) -> str:
    """The Dockerfile text with `instruction` (a RUN) now running `command`."""
    written = lines(text, keepends=True)
    start, end = instruction.line - 1, instruction.end_line
    original = "".join(written[start:end])
    lay = layout(instruction, _escape(text))
    new = instruction_text(instruction, command, shell, lay.escape)
    # The span's own line ending stays (none at the end of a file without a final newline).
    ending = original[len(original.rstrip("\r\n")) :]
    new = new.removesuffix(lay.newline) + ending
    return "".join(written[:start]) + new + "".join(written[end:])


def insert_run_before(text: str, instruction: Instruction, command: str) -> str:
    """The Dockerfile text with a new `RUN command` just before `instruction`."""
    written = lines(text, keepends=True)
    lay = layout(instruction)
    keyword = "RUN" if lay.keyword.isupper() or not lay.keyword else "run"
    body = command.replace("\r\n", "\n").split("\n")
    new = lay.newline.join([f"{lay.indent}{keyword} {body[0]}", *body[1:]]) + lay.newline
    start = instruction.line - 1
    return "".join(written[:start]) + new + "".join(written[start:])


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff of a Dockerfile edit, as `git diff` shows one (line endings ignored)."""
    a = [ln + "\n" for ln in lines(old)]
    b = [ln + "\n" for ln in lines(new)]
    return "".join(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}"))

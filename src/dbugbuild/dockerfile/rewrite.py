"""Rewrite one instruction of a Dockerfile's text: replace a RUN's command, or add a RUN before it.

PURE: text in, text out. Everything outside the edited lines is kept byte for byte
(comments, blank lines, other instructions, the file's line endings); the edited
instruction keeps its indentation, keyword spelling, form (shell or exec) and, for a
chain written one `&& \\` per line, that layout.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile.model import Instruction, parse_exec_form

_CONTINUED = re.compile(r"\\[ \t]*$")


@dataclass(frozen=True)
class Layout:
    """How an instruction is laid out in the file."""

    indent: str  # before the keyword
    keyword: str  # as written ("RUN", "run")
    newline: str  # "\n" or "\r\n"
    continuation_indent: str  # before the second line's text
    chain_style: str  # "trailing" (`a && \`), "leading" (`\` then `&& b`), or "" (not a chain)


def layout(instruction: Instruction) -> Layout:
    """The layout of an instruction as written."""
    lines = instruction.original.splitlines(keepends=True)
    first = lines[0]
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    indent = first[: len(first) - len(first.lstrip())]
    keyword = first.lstrip()[: len(instruction.keyword)]
    body = [ln.rstrip("\r\n") for ln in lines]
    code = [ln for ln in body[1:] if ln.strip() and not ln.lstrip().startswith("#")]
    cont_indent = code[0][: len(code[0]) - len(code[0].lstrip())] if code else "    "
    style = ""
    if len(body) > 1:
        heads = [ln for ln in body if ln.strip() and not ln.lstrip().startswith("#")]
        if all(re.search(r"&&\s*\\\s*$", ln) for ln in heads[:-1]):
            style = "trailing"
        elif all(ln.lstrip().startswith("&&") for ln in heads[1:]):
            style = "leading"
    return Layout(indent, keyword, newline, cont_indent, style)


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
    if lay.chain_style and len(parts) > 1:
        if lay.chain_style == "trailing":
            return [p + " && \\" for p in parts[:-1]] + [parts[-1]]
        return [parts[0] + " \\"] + [f"&& {p} \\" for p in parts[1:-1]] + [f"&& {parts[-1]}"]
    return [command]


def instruction_text(
    instruction: Instruction, command: str, shell: Sequence[str] = ("/bin/sh", "-c")
) -> str:
    """The new source text of a RUN that runs `command`, laid out as `instruction` was."""
    lay = layout(instruction)
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


def _json_array(text: str) -> list[str] | None:
    array = parse_exec_form(text)  # the session's rule: a JSON array of strings is exec form
    return list(array) if array is not None else None


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def replace_run(
    text: str, instruction: Instruction, command: str, shell: Sequence[str] = ("/bin/sh", "-c")
) -> str:
    """The Dockerfile text with `instruction` (a RUN) now running `command`."""
    lines = _lines(text)
    start, end = instruction.line - 1, instruction.end_line
    original = "".join(lines[start:end])
    new = instruction_text(instruction, command, shell)
    if not original.endswith(("\n", "\r")):  # the last line of a file without a final newline
        new = new.rstrip("\r\n")
    return "".join(lines[:start]) + new + "".join(lines[end:])


def insert_run_before(text: str, instruction: Instruction, command: str) -> str:
    """The Dockerfile text with a new `RUN command` just before `instruction`."""
    lines = _lines(text)
    lay = layout(instruction)
    keyword = "RUN" if lay.keyword.isupper() or not lay.keyword else "run"
    body = command.replace("\r\n", "\n").split("\n")
    new = lay.newline.join([f"{lay.indent}{keyword} {body[0]}", *body[1:]]) + lay.newline
    start = instruction.line - 1
    return "".join(lines[:start]) + new + "".join(lines[start:])


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff of a Dockerfile edit, as `git diff` shows one (line endings ignored)."""
    a = [ln.rstrip("\r\n") + "\n" for ln in old.splitlines()]
    b = [ln.rstrip("\r\n") + "\n" for ln in new.splitlines()]
    return "".join(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}"))

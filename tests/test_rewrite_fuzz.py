"""Fuzz of write-back (issue 13, "what must hold afterwards"): random Dockerfiles, one RUN edited.

Each case is a seeded random Dockerfile mixing every character `str.splitlines` breaks at,
CRLF, mixed and missing final line endings, continuations with comments and blank lines
inside, heredocs (plain, `<<-`, quoted, in COPY, with instruction-like bodies), exec forms,
escaped escapes; a random RUN of it is the failing instruction. `rewrite.replace_run` and
`rewrite.insert_run_before` must change exactly that instruction's lines: the bytes before
and after are kept, re-parsing gives the same instructions (shifted by the lines added),
and the edited instruction runs the new command.

DBUGBUILD_FUZZ_CASES (default 1500) sets the number of cases, DBUGBUILD_FUZZ_SEED the seed;
`DBUGBUILD_FUZZ_CASES=200000 pytest tests/test_rewrite_fuzz.py` is the long run.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from dbugbuild.dockerfile import (
    Instruction,
    buildkit_script,
    command_as_written,
    lines,
    parse,
    parse_exec_form,
    typed_run,
)
from dbugbuild.dockerfile.heredoc import marker
from dbugbuild.dockerfile.rewrite import insert_run_before, replace_run

CASES = int(os.environ.get("DBUGBUILD_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("DBUGBUILD_FUZZ_SEED", "20260"))
SEPARATORS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SHELL = ("/bin/sh", "-c")


def _sep(rng: random.Random) -> str:
    return rng.choice(SEPARATORS)


def _word(rng: random.Random) -> str:
    return rng.choice(["a", "b1", "x-y", "C:\\\\tools\\\\", "'q w'", '"d q"', "$HOME", "é"])


def _body_line(rng: random.Random) -> str:
    return rng.choice(
        [
            "echo body",
            f"echo in{_sep(rng)}side",
            "# a comment in the body",
            "",
            "RUN not an instruction",
            "FROM nothing",
            "echo trailing \\",
            "  indented",
            "exit 0",
        ]
    )


def _block(rng: random.Random) -> list[str]:
    """One instruction, comment or blank line, as lines without their endings."""
    kind = rng.randrange(14)
    if kind == 0:
        return [f"# note{_sep(rng)}more"]
    if kind == 1:
        return [rng.choice(["", "   ", "\t"])]
    if kind == 2:
        return [f'ENV K{rng.randrange(9)}="v{_sep(rng)}w"']
    if kind == 3:
        return [f"RUN echo {_word(rng)}{rng.choice(['', _sep(rng) + 'z'])}"]
    if kind == 4:  # a chain, one `&& \` per line, comments and blank lines inside
        out = ["RUN echo one && \\"]
        for _ in range(rng.randrange(1, 4)):
            out += rng.choice([[], ["    # inside"], [""], [f"  # {_sep(rng)}"]])
            out.append(f"    echo {_word(rng)} && \\")
        return [*out, "    true"]
    if kind == 5:
        return ["RUN echo lead \\", "    && echo two \\", "    && echo three"]
    if kind == 6:
        return [rf'RUN ["sh", "-c", "echo j{rng.randrange(9)}"]{rng.choice(["", " # note"])}']
    if kind == 7:
        name = rng.choice(["EOT", "'EOT'", '"EOF"'])
        plain = name.strip("'\"")
        body = [_body_line(rng) for _ in range(rng.randrange(4))]
        return [f"RUN <<{name}", *body, plain]
    if kind == 8:
        body = ["\t" + _body_line(rng) for _ in range(rng.randrange(3))]
        return ["RUN <<-EOT", *body, "\tEOT"]
    if kind == 9:
        return ["RUN cat <<EOF > /f && sh /f", _body_line(rng), "EOF"]
    if kind == 10:
        return ["COPY <<a.txt <<b.txt /dst/", "A", "a.txt", _body_line(rng), "b.txt"]
    if kind == 11:
        return ["RUN echo C:\\\\tools\\\\"]  # no continuation: an escaped escape
    if kind == 12:
        return [f"  run   echo low{_sep(rng)}er"]
    return ["RUN --mount=type=cache,target=/c \\", "  # flags first", "  echo cached"]


def dockerfile(rng: random.Random) -> str:
    """A random Dockerfile the builder parses."""
    rows: list[str] = []
    if rng.random() < 0.2:
        rows.append("# syntax=docker/dockerfile:1")
    rows.append("FROM busybox:latest")
    for _ in range(rng.randrange(2, 12)):
        rows += _block(rng)
    rows += _block(rng) if rng.random() < 0.5 else ["RUN exit 3"]
    endings = rng.choice([["\n"], ["\r\n"], ["\n", "\r\n"]])
    text = "".join(row + rng.choice(endings) for row in rows)
    if rng.random() < 0.25:
        text = text.rstrip("\r\n")
    if rng.random() < 0.1:
        text = "\ufeff" + text
    return text


def _command(rng: random.Random, target: Instruction) -> str:
    """A command a user could write back: typed, or the pre-typed text edited."""
    kind = rng.randrange(7)
    if kind == 0:
        return f"echo fixed{rng.randrange(99)}"
    if kind == 1:
        return "apt-get update && apt-get install -y curl && echo done"
    if kind == 2:
        return f"echo a{_sep(rng)}b"
    if kind == 3:
        return '["sh", "-c", "echo exec"]'
    if kind == 4:
        return "<<EOT\necho heredoc\n# kept\nEOT"
    if kind == 5:
        return "cat <<EOF > /g && sh /g\necho fixed\nEOF"
    written = command_as_written(target)
    edited = written.replace("echo", "printf", 1)
    return edited if edited != written else f"true; {written}"


@dataclass(frozen=True)
class Shape:
    """What the builder reads from an instruction, its place aside."""

    keyword: str
    args: str
    flags: tuple[str, ...]
    json_args: tuple[str, ...] | None
    code: str
    bodies: tuple[str, ...]


def _shape(ins: Instruction) -> Shape:
    bodies = tuple(d.body for d in ins.heredocs)
    return Shape(ins.keyword, ins.args, ins.flags, ins.json_args, ins.code, bodies)


Placed = list[tuple[Shape, int]]


def _others(
    before: tuple[Instruction, ...], after: tuple[Instruction, ...], at: int, shift: int
) -> tuple[Placed, Placed]:
    """(shape, line) of each instruction but the one at line `at`, later ones moved by `shift`."""
    old = [(_shape(i), i.line + (shift if i.line > at else 0)) for i in before if i.line != at]
    new = [(_shape(i), i.line) for i in after]
    return old, new


def _normal(text: str) -> str:
    return " ".join(text.split())


def _check_runs(new: Instruction, target: Instruction, command: str) -> None:
    """The rewritten RUN runs `command`."""
    array = parse_exec_form(command)
    if target.is_exec_form:
        assert new.json_args == (array if array is not None else (*SHELL, command))
        return
    if array is not None:
        assert new.json_args == array
        return
    typed = typed_run(command)
    assert typed is not None, command
    simple = len(target.heredocs) == 1 and marker(target.args) is not None
    if simple and not typed.heredocs and not target.heredocs[0].body.startswith("#!"):
        # In a CRLF file the body's lines keep their CR, as the builder hands them over.
        body = new.heredocs[0].body.replace("\r\n", "\n")
        assert body == "".join(f"{ln}\n" for ln in command.split("\n"))
        assert buildkit_script(new) == new.heredocs[0].body
        return
    assert _normal(buildkit_script(new)) == _normal(buildkit_script(typed))


def _fuzz_one(rng: random.Random) -> None:
    text = dockerfile(rng)
    df = parse(text)
    runs = [i for i in df.instructions if i.keyword == "RUN"]
    if not runs:
        return
    target = rng.choice(runs)
    command = _command(rng, target)
    old_lines = lines(text, keepends=True)
    prefix = "".join(old_lines[: target.line - 1])
    suffix = "".join(old_lines[target.end_line :])
    old_count = len(old_lines)

    replaced = replace_run(text, target, command, SHELL)
    assert replaced.startswith(prefix) and replaced.endswith(suffix)
    assert len(replaced) >= len(prefix) + len(suffix)
    again = parse(replaced)
    shift = len(lines(replaced)) - old_count
    edited = again.instruction_at(target.line)
    assert edited is not None and edited.line == target.line and edited.keyword == "RUN"
    assert edited.end_line - target.end_line == shift
    rest = tuple(i for i in again.instructions if i is not edited)
    old, new = _others(df.instructions, rest, target.line, shift)
    assert old == new
    _check_runs(edited, target, command)
    assert edited.stage == target.stage

    added = insert_run_before(text, target, command)
    assert added.startswith(prefix) and added.endswith("".join(old_lines[target.line - 1 :]))
    again = parse(added)
    inserted = again.instruction_at(target.line)
    assert inserted is not None and inserted.keyword == "RUN" and inserted.line == target.line
    shift = len(lines(added)) - old_count
    old = [(_shape(i), i.line + (shift if i.line >= target.line else 0)) for i in df.instructions]
    new = [(_shape(i), i.line) for i in again.instructions if i is not inserted]
    assert old == new
    typed = typed_run(command)
    assert typed is not None
    want, got = _shape(typed), _shape(inserted)
    bodies = tuple(b.replace("\r\n", "\n") for b in got.bodies)  # a CRLF file's own endings
    assert (got.args, got.json_args, bodies) == (want.args, want.json_args, want.bodies)


def test_rewrite_fuzz_changes_only_the_failing_instruction() -> None:
    rng = random.Random(SEED)
    for case in range(CASES):
        state = rng.getstate()
        try:
            _fuzz_one(rng)
        except AssertionError as exc:
            rng.setstate(state)
            text = dockerfile(rng)
            raise AssertionError(f"case {case} (seed {SEED}) failed on {text!r}: {exc}") from exc

"""PURE: a program the kernel cannot start: Windows line endings in a script (line-endings), a
binary for another machine or no program at all (exec-format).
"""

from __future__ import annotations

import re

from dbugbuild.diagnosis.case import Case, Found, code, said
from dbugbuild.diagnosis.facts import FileHead, Questions
from dbugbuild.diagnosis.programs import ELF_AS_SCRIPT, SCRIPT, head_of, missing_program
from dbugbuild.diagnosis.tables import DOCKER_ARCH, ELF_MACHINES, UNAME_MACHINES

_BAD_INTERPRETER = re.compile(r"(?P<cmd>[^\s:]+): (?P<interp>[^:]+): bad interpreter")
_EXEC_FORMAT = re.compile(
    r"(?:exec (?P<exec>\S+): exec format error)|"
    r"(?:(?P<cmd>[^\s:]+): (?:cannot execute binary file: )?[Ee]xec format error)"
)

# bash quotes a word with a CR as $'...\r', and shows a CR in an option or interpreter as ^M.
_CR_MARKS = re.compile(r"\$'[^']*\\r[^']*'|\^M(?=[:\s]|$)|\r")


def line_endings(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    bad = case.last(_BAD_INTERPRETER)
    if bad is not None and "^M" in bad[0].group("interp"):
        script = bad[0].group("cmd")
        return _crlf_found(script, bad[1], None)
    marked = case.last(_CR_MARKS)
    if marked is not None:  # bash: `$'\r': command not found`, a command word ending in CR
        where = _SCRIPT_LINE.match(marked[1].strip())
        script = where.group(1) if where else _script_word(case.step.command)
        return _crlf_found(script, marked[1], None)
    missing = missing_program(case)
    if missing is None:
        return None
    program, line = missing
    head = head_of(case, program)
    if head is None or not head.crlf:
        return None
    return _crlf_found(head.path, line, head)


_SCRIPT_LINE = re.compile(r"^([^\s:]+): line \d+: ")


def _script_word(command: str | None) -> str:
    words = (command or "").split()
    return next((w for w in words if SCRIPT.search(w)), "the script")


def _crlf_found(script: str, line: str, head: FileHead | None) -> Found:
    evidence = [said(line)]
    if head is not None:
        evidence.append(f"layer: {head.path} starts with `#!{head.shebang}\\r` (CRLF line endings)")
        why = (
            f": its first line asks for an interpreter named `{head.shebang}\\r`, which does "
            "not exist"
        )
    else:
        why = ": the shell reads each line with a trailing `\\r`, as part of the last word"
    return Found(
        f"{code(script)} has Windows (CRLF) line endings{why}.",
        (
            f"Convert it in the build before running it: `RUN sed -i 's/\\r$//' {script}` "
            "(or `dos2unix`), or fix the file itself.",
            "Keep scripts LF in git: a `.gitattributes` line `*.sh text eol=lf`, or "
            "`git config core.autocrlf input` on Windows.",
        ),
        tuple(evidence),
    )


def exec_format(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    program: str | None = None
    line = ""
    hit = case.last(_EXEC_FORMAT)
    if hit is not None:
        program = hit[0].group("exec") or hit[0].group("cmd")
        line = hit[1]
    else:
        elf = case.last(ELF_AS_SCRIPT)
        if elf is not None:
            program, line = elf[0].group("cmd"), elf[1]
    if program is None:
        # "not found" for a binary that is there: built for another machine? (its loader path
        # does not exist here; a shell then reports the program itself as not found)
        missing = missing_program(case)
        if missing is None:
            return None
        head = head_of(case, missing[0])
        here = case.layer.machine if case.layer is not None else None
        if head is None or head.elf_machine is None or not here:
            return None
        if UNAME_MACHINES.get(here) == head.elf_machine:
            return None
        program, line = missing
    evidence = [said(line)]
    head = head_of(case, program)
    layer = case.layer
    if head is not None and head.elf_machine is not None:
        arch = ELF_MACHINES.get(head.elf_machine, f"machine {head.elf_machine}")
        here = layer.machine if layer is not None else None
        evidence.append(f"layer: {head.path} is an ELF binary for {arch}")
        if here and UNAME_MACHINES.get(here) != head.elf_machine:
            evidence.append(f"layer: containers here run on {here}")
            return Found(
                f"{code(program)} is a binary for {arch}, but this machine runs {here}.",
                (
                    f"Get the {here} build of {code(program)} (download the release asset for "
                    f"linux/{DOCKER_ARCH.get(here, here)}, or build it in a stage of this "
                    "Dockerfile).",
                    "Or build the image for the binary's platform with --platform and an "
                    "emulator (binfmt/qemu) on the daemon's machine.",
                ),
                tuple(evidence),
            )
    if head is not None and head.elf_machine is None and head.shebang is None:
        evidence.append(f"layer: {head.path} is neither a binary nor a script with `#!`")
        return Found(
            f"{code(program)} is not a program the kernel can run: no binary header and no "
            "`#!` line.",
            (
                f"If it is a shell script, make `#!/bin/sh` its first line, or run it as "
                f"`sh {program}`.",
            ),
            tuple(evidence),
        )
    return Found(
        f"{code(program)} cannot be run here: it is a binary for another architecture, or not "
        'a program at all ("exec format error").',
        (
            f"Check what it is: `file {program}` or `head -c 20 {program} | od -c`; get the build "
            "for this machine's architecture, or add a `#!` line to a script.",
        ),
        tuple(evidence),
    )


def asks(case: Case) -> Questions:
    """About a program the kernel would not run: its first bytes (ELF machine, `#!` line)."""
    if not case.runs_command:
        return Questions()
    commands = []
    for pattern in (_EXEC_FORMAT, ELF_AS_SCRIPT):
        hit = case.last(pattern)
        if hit is not None:
            commands.append(next(g for g in hit[0].groups() if g))
    return Questions(commands=tuple(commands))

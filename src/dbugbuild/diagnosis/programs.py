"""PURE: a program the step could not run: not installed, off PATH, or a script whose interpreter is
missing (command-not-found); and how to tell which program the output names.
"""

from __future__ import annotations

import posixpath
import re

from dbugbuild.diagnosis.case import Case, Found, code, join, said
from dbugbuild.diagnosis.facts import FileHead, Questions
from dbugbuild.diagnosis.tables import (
    ALTERNATIVES,
    INSTALL_COMMANDS,
    NEEDS_CA,
    PACKAGE_COLUMNS,
    PACKAGE_MANAGERS,
    PACKAGES,
)

# sh: curl: not found | /bin/sh: 1: git: not found | bash: line 1: x: command not found
_NOT_FOUND = re.compile(
    r"^(?:(?:[^\s:]+): )?(?:line \d+: |\d+: )?(?P<cmd>[^\s:]+): (?:command )?not found$"
)
# the runtime, for an exec-form RUN
_EXEC_NOT_FOUND = re.compile(r'exec: "(?P<cmd>[^"]+)": executable file not found')
_EXEC_NO_SUCH = re.compile(r"exec (?P<cmd>\S+): no such file or directory")
ELF_AS_SCRIPT = re.compile(r"^(?P<cmd>[^\s:]+): line 1: .{0,3}ELF")


def missing_program(case: Case) -> tuple[str, str] | None:
    """(program, the output line) for a program the shell or the runtime could not find."""
    for pattern in (_NOT_FOUND, _EXEC_NOT_FOUND, _EXEC_NO_SUCH):
        hit = case.last(pattern)
        if hit is not None and ELF_AS_SCRIPT.search(hit[1]) is None:
            return hit[0].group("cmd"), hit[1]
    return None


def head_of(case: Case, program: str) -> FileHead | None:
    layer = case.layer
    if layer is None:
        return None
    path = layer.command(program) or program
    return layer.head(path)


SCRIPT = re.compile(r"\.(?:sh|bash|py|pl|rb)$")


def command_not_found(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    missing = missing_program(case)
    if missing is None:
        return None
    program, line = missing
    tail = [t for t in case.step.output_tail if t.strip()]
    if case.step.exit_code not in (127, None) and tail[-1:] != [line]:
        return None  # a "not found" line in the output of a program that failed otherwise
    layer = case.layer
    evidence = [said(line)]
    head = head_of(case, program)
    if head is not None:  # the program is in the layer: its interpreter may not be
        return _interpreter_missing(case, program, line, head)
    if "/" in program or SCRIPT.search(program):
        if layer is not None and "/" in program:
            return None  # the file is not in the layer: missing-file says so
        return Found(
            f"{code(program)} was not found: the file is missing, or it is a script whose `#!` "
            "interpreter is missing (or whose line endings are CRLF).",
            (
                (
                    "Check that it exists where the step looks (relative paths start at "
                    f"WORKDIR): `ls -l {program}`."
                    if "/" in program
                    else f"Check that it is on PATH in this layer: `command -v {program}`."
                ),
                f"If it is there, its first line must name an interpreter this layer has; "
                f"`head -n 1 {program} | od -c` shows a `\\r` left by Windows line endings.",
            ),
            tuple(evidence),
        )
    if program == "sudo":
        user_line = case.user_line()
        who = f"USER {user_line[1]} (line {user_line[0]})" if user_line else "root"
        return Found(
            "`sudo` is not installed, and a build step does not need it.",
            (
                f"This step runs as {who}: drop `sudo`; to run a step as root after a USER "
                "switch, put `USER root` before it.",
            ),
            tuple(evidence),
        )
    if layer is None:
        return Found(
            f"{code(program)} is not installed in the layer this step ran in (not on its PATH).",
            (
                f"Install {code(program)} with the image's package manager in this RUN or an "
                "earlier one, or check the spelling.",
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name.",
            ),
            tuple(evidence),
        )
    hints: list[str] = []
    off_path = [p for p in layer.elsewhere if posixpath.basename(p) == program]
    if off_path:
        folder = posixpath.dirname(off_path[0])
        evidence.append(f"layer: {off_path[0]} exists (not on PATH)")
        return Found(
            f"{code(program)} is in this layer, at {off_path[0]}, but its folder is not on PATH.",
            (
                f"Call it by its path, `{off_path[0]}`, or add `ENV PATH={folder}:$PATH` before "
                "this step.",
            ),
            tuple(evidence),
        )
    for alt in ALTERNATIVES.get(program, ()):
        where = layer.command(alt)
        if where is not None:
            evidence.append(f"layer: {alt} is {where}")
            hints.append(
                f"This layer has {code(alt)} ({where}): use it instead of {code(program)}."
            )
    similar = [p for p in layer.similar if posixpath.basename(p) != program]
    if similar:
        names = [posixpath.basename(p) for p in similar[:3]]
        evidence.append(f"layer: {join(similar[:3])} on PATH")
        hints.append(f"Similar names on PATH here: {join([code(n) for n in names])}.")
    managers = layer.package_managers
    what = layer.os or "this image"
    if managers:
        manager = managers[0]
        evidence.append(f"layer: package manager {manager} ({what})")
        package = _package_for(program, manager)
        extra = " ca-certificates" if program in NEEDS_CA and manager == "apt-get" else ""
        if package is not None:
            hints.append(
                "Install it in this RUN or before: "
                f"`RUN {_install_command(manager, package + extra)}`."
            )
        else:
            hints.append(
                f"Install the package that provides it with {manager}: "
                f"`RUN {_install_command(manager, '<package>')}`"
                + (
                    " (`apt-file search bin/" + program + "` names it)."
                    if manager == "apt-get"
                    else "."
                )
            )
        summary = (
            f"{code(program)} is not installed in this layer; its package manager, {manager}, "
            "can install it."
        )
    else:
        evidence.append(
            f"layer: no package manager ({join(list(PACKAGE_MANAGERS))} not on PATH; {what})"
        )
        hints.append(
            f"This image has no package manager: start FROM an image that has {code(program)}, "
            "or install it in a build stage FROM a fuller image and `COPY --from=` that stage."
        )
        summary = (
            f"{code(program)} is not in this layer ({what}), which has no package manager to "
            "install it with."
        )
    return Found(summary, tuple(hints), tuple(evidence))


def _interpreter_missing(case: Case, program: str, line: str, head: FileHead) -> Found | None:
    """A program that is in the layer but "not found": a script whose `#!` names a missing
    interpreter (a binary missing its loader is missing-file's, CRLF is line-endings')."""
    if head.shebang is None:
        return None
    interpreter = head.shebang.split()[0] if head.shebang.split() else head.shebang
    layer = case.layer
    if layer is None:  # pragma: no cover - a head comes from a layer lookup
        return None
    there = layer.path(interpreter)
    if there is not None and there.exists:
        return None
    evidence = (
        said(line),
        f"layer: {head.path} starts with `#!{head.shebang}`",
        f"layer: no {interpreter}",
    )
    name = posixpath.basename(interpreter)
    hints = ["Change the first line to an interpreter this layer has, e.g. `#!/bin/sh`."]
    if layer.package_managers:
        package = _package_for(name, layer.package_managers[0]) or name
        hints.append(
            f"Or install it: `RUN {_install_command(layer.package_managers[0], package)}`."
        )
    else:
        hints.append(f"Or run it with this layer's shell: `sh {program}`.")
    return Found(
        f"{code(program)} exists, but its interpreter {code(interpreter)} (its `#!` line) is "
        "not in this layer.",
        tuple(hints),
        evidence,
    )


def _install_command(manager: str, package: str) -> str:
    default = f"{manager} install {{package}}"
    return INSTALL_COMMANDS.get(manager, default).format(package=package)


def _package_for(program: str, manager: str) -> str | None:
    known = PACKAGES.get(program)
    if known is None:
        return None
    return known[PACKAGE_COLUMNS.get(manager, 2)] or None


def asks(case: Case) -> Questions:
    """About a program the output says is missing: is it on PATH (or under another name,
    or a versioned one), is a file so named elsewhere, what its first bytes are."""
    missing = missing_program(case) if case.runs_command else None
    if missing is None:
        return Questions()
    program = missing[0]
    if "/" in program:
        return Questions(
            commands=(program,), paths=(program,), names=(posixpath.basename(program),)
        )
    return Questions(commands=(program, *ALTERNATIVES.get(program, ())), names=(program,))

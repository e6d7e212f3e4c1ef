"""PURE: files the step could not use: not allowed (permission-denied), not there (missing-file)."""

from __future__ import annotations

import posixpath
import re

from dbugbuild.diagnosis.case import Case, Found, code, join, said
from dbugbuild.diagnosis.facts import PathInfo, Questions
from dbugbuild.diagnosis.paths import absolute, parents
from dbugbuild.diagnosis.programs import head_of, missing_program

_DENIED = re.compile(r"Permission denied|EACCES|Operation not permitted")
_QUOTED_PATH = re.compile(r"['\"]([^'\"]*/[^'\"]*|[^'\"\s]+\.[^'\"\s]+)['\"]")
_CREATE = re.compile(
    r"(?:can't|cannot) (?:create|open|remove|stat|touch)(?: directory)? '?([^':\s]+)'?"
)
_BEFORE_COLON = re.compile(r"(?:^|: )(?:\d+: )?([^\s:]+): Permission denied")
_APT_PATH = re.compile(r"(/var/(?:lib|cache)/(?:apt|dpkg)\S*)")


def _denied_path(line: str) -> str | None:
    for pattern in (_APT_PATH, _CREATE, _QUOTED_PATH, _BEFORE_COLON):
        found = pattern.search(line)
        if found:
            return found.group(1)
    return None


def permission_denied(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    hit = case.last(_DENIED)
    if hit is None:
        return None
    _, line = hit
    step = case.step
    evidence = [said(line)]
    path = _denied_path(line)
    layer = case.layer
    user_line = case.user_line()
    user = (layer.user if layer is not None else None) or (user_line[1] if user_line else "")
    if user_line is not None:
        evidence.append(f"Dockerfile line {user_line[0]}: `USER {user_line[1]}`")
    who = f"USER {user}" if user and user not in ("root", "0") else "root"
    if layer is not None and layer.user_id:
        evidence.append(f"layer: runs as {layer.user_id}")
    before = f" (line {user_line[0]})" if user_line else ""
    if path and path.startswith("/var/") and ("apt" in path or "dpkg" in path):
        return Found(
            f"apt-get needs root, but this step runs as {who}.",
            (
                f"Install packages before `USER {user or '...'}`{before}, or put `USER root` "
                "before this RUN and switch back after it.",
            ),
            tuple(evidence),
        )
    if step.exit_code == 126 and path:
        info = _path_info(case, path)
        mode = f" (mode {info.mode})" if info is not None and info.mode else ""
        if info is not None:
            evidence.append(
                f"layer: {info.path} is a {info.kind} owned by {info.owner}, mode {info.mode}"
            )
        return Found(
            f"{code(path)} is not executable{mode}, so the shell cannot run it.",
            (
                f"Make it executable after copying it: `RUN chmod +x {path}`, or run it through "
                f"the shell: `sh {path}`.",
                f"To fix the file itself: `chmod +x {path}` (in git: "
                f"`git update-index --chmod=+x {path}`); COPY keeps the mode it has.",
            ),
            tuple(evidence),
        )
    owner_info = _nearest_existing(case, path) if path else None
    if owner_info is not None:
        evidence.append(
            f"layer: {owner_info.path} is owned by {owner_info.owner}, mode {owner_info.mode}"
        )
    if who != "root":
        workdir = layer.workdir if layer is not None else _dockerfile_workdir(case)
        full = absolute(path, workdir or "/") if path and (workdir or path[:1] == "/") else path
        if full and "directory" in line:  # mkdir: the folder itself is to be made
            target = full
        elif owner_info is not None:
            target = owner_info.path
        else:
            target = posixpath.dirname(full) if full and "/" in full else "that folder"
        owned = (
            f" ({owner_info.path} belongs to {owner_info.owner}, mode {owner_info.mode})"
            if owner_info is not None
            else ""
        )
        make = (
            f"`RUN chown {user} {target}`"
            if owner_info is not None and owner_info.kind not in (None, "directory")
            else f"`RUN mkdir -p {target} && chown {user} {target}`"
        )
        hints = [
            f"Before `USER {user}`{before}, as root, create what it must write and hand it over: "
            f"{make}.",
            f"For copied files, `COPY --chown={user} ...`.",
        ]
        workdir_line = _made_by_workdir(case, target)
        if workdir_line is not None:
            hints.insert(
                0,
                f"`WORKDIR {target}` (line {workdir_line}) made that folder as root, though it "
                f"comes after `USER {user}`: WORKDIR creates folders as root.",
            )
        shown = posixpath.normpath(path) if path else "the path"
        return Found(
            f"{who} may not write {code(shown)}{owned}.",
            tuple(hints),
            tuple(evidence),
        )
    return Found(
        f"Even root may not write {code(path or 'the path')}: a read-only file system or a "
        "protected kernel path.",
        ("Write somewhere else (e.g. under /tmp or the app's folder).",),
        tuple(evidence),
    )


def _dockerfile_workdir(case: Case) -> str | None:
    """The step's WORKDIR as the Dockerfile sets it (None: no WORKDIR before it, or unknown)."""
    workdir: str | None = None
    for other in case.stage_before():
        if other.keyword == "WORKDIR" and "$" not in other.args:
            workdir = posixpath.join(workdir or "/", other.args.strip())
    return posixpath.normpath(workdir) if workdir else None


def _path_info(case: Case, path: str) -> PathInfo | None:
    layer = case.layer
    if layer is None:
        return None
    return layer.path(absolute(path, layer.workdir))


def _nearest_existing(case: Case, path: str) -> PathInfo | None:
    layer = case.layer
    if layer is None:
        return None
    full = absolute(path, layer.workdir)
    for candidate in (full, *parents(full)):
        info = layer.path(candidate)
        if info is not None and info.exists:
            return info
    return None


def _made_by_workdir(case: Case, folder: str) -> int | None:
    """The line of a WORKDIR after the USER switch that made `folder` (as root), if any."""
    user_line = case.user_line()
    if user_line is None:
        return None
    return next(
        (
            other.line
            for other in case.stage_before()
            if other.line > user_line[0]
            and other.keyword == "WORKDIR"
            and posixpath.normpath(other.args.strip()) == folder
        ),
        None,
    )


_NO_SUCH = re.compile(
    r"No such file or directory|does not exist|ENOENT|can't cd to|cannot access|"
    r"no makefile found|can't open"
)
_PYTHON_OPEN = re.compile(r"can't open file '([^']+)'")
_CD = re.compile(r"can't cd to (\S+)")
_NPM_ENOENT = re.compile(r"ENOENT: no such file or directory, \w+ '([^']+)'")


def _missing_path(case: Case) -> tuple[str | None, str] | None:
    missing = missing_program(case)
    hit = case.last(_NO_SUCH)
    if hit is None:
        if missing is not None and "/" in missing[0]:
            return missing
        return None
    _, line = hit
    for pattern in (_PYTHON_OPEN, _NPM_ENOENT, _CD, _QUOTED_PATH, _BEFORE_NO_SUCH):
        found = pattern.search(line)
        if found:
            return found.group(1), line
    return None, line


_BEFORE_NO_SUCH = re.compile(r"(?:^|: )(?:\d+: )?([^\s:']+): No such file or directory")


def missing_file(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    layer = case.layer
    program = missing_program(case)
    head = head_of(case, program[0]) if program is not None else None
    if program is not None and head is not None and head.elf_machine is not None:
        evidence = [said(program[1]), f"layer: {head.path} is an ELF binary"]
        return Found(
            f"{code(program[0])} is in the layer ({head.path}), but the dynamic loader or a "
            "library it needs is not, so it cannot start.",
            (
                f"List what it needs: `ldd {head.path}` in a layer that has ldd; a binary "
                "linked against glibc does not run on musl or busybox images.",
                "Build it static (Go: `CGO_ENABLED=0`; C: `-static`), or base the image on one "
                "that has its libraries.",
            ),
            tuple(evidence),
        )
    missing = _missing_path(case)
    if missing is None:
        return None
    path, line = missing
    evidence = [said(line)]
    if "no makefile found" in line:
        return Found(
            "make found no Makefile in the working folder.",
            (
                "COPY the Makefile (and sources) before this step, or `make -C <folder>`; "
                "relative paths start at WORKDIR.",
            ),
            tuple(evidence),
        )
    if path is None:
        return Found(
            "A file or folder the command needs does not exist in the layer.",
            (
                "Check the paths in the command: is the file copied (COPY) or made before this "
                "step?",
            ),
            tuple(evidence),
        )
    hints: list[str] = []
    workdir = layer.workdir if layer is not None else None
    relative = not path.startswith("/")
    if layer is not None:
        base = posixpath.basename(path)
        others = [p for p in layer.elsewhere if posixpath.basename(p) == base]
        full = absolute(path, layer.workdir)
        info = layer.path(full)
        if info is not None and info.exists:
            return None  # it is there: not a missing file (an interpreter or loader is)
        if others:
            evidence.append(f"layer: found {join(others[:3])}")
            hints.append(
                f"{code(base)} is at {join([code(o) for o in others[:3]])} in this layer: use "
                f"that path (this step's WORKDIR is {workdir})."
            )
        else:
            evidence.append(f"layer: no file named {base}")
            hints.append(
                f"Nothing named {code(base)} is in this layer: COPY it in before this step (is "
                "it in the build context?), or create it in the same RUN."
            )
    else:
        hints.append(
            f"Check that {code(path)} is copied (COPY) or made before this step"
            + (", and that relative paths start at the step's WORKDIR." if relative else ".")
        )
    where = f" (relative to WORKDIR {workdir})" if relative and workdir else ""
    return Found(
        f"{code(path)}{where} does not exist in this layer.", tuple(hints), tuple(evidence)
    )


def asks(case: Case) -> Questions:
    """About a path the output names: who owns it (and its folders), is a file so named
    elsewhere in the layer."""
    if not case.runs_command:
        return Questions()
    paths: list[str] = []
    names: list[str] = []
    denied = case.last(_DENIED)
    if denied is not None and (path := _denied_path(denied[1])):
        paths.append(path)
    lost = _missing_path(case)
    if lost is not None and lost[0]:
        paths.append(lost[0])
        names.append(posixpath.basename(lost[0]))
    return Questions(paths=tuple(paths), names=tuple(names))

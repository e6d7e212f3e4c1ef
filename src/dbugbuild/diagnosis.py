"""Why a build failed: an ordered table of rules from (failed step, facts) to a Diagnosis. PURE.

No I/O: what is known beyond the log (the Dockerfile, the context's .dockerignore and
file names, what a look inside the last good layer found) comes in as `Facts`. The
first rule of `RULES` that matches wins; the last, `command-failed`, matches anything,
so every failure gets exactly one of `CLASSES`. `questions` says which lookups in the
last good layer could decide the class or sharpen a hint, so the caller asks only those.
Each rule returns the output lines and facts it matched as evidence.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile import Dockerfile, Instruction, dockerignore
from dbugbuild.report import Diagnosis, FailedStep

__all__ = [
    "CLASSES",
    "RULES",
    "Facts",
    "FileHead",
    "LayerFacts",
    "PathInfo",
    "Questions",
    "banner_text",
    "diagnose",
    "questions",
]

CLASSES = (
    "command-not-found",
    "package-not-found",
    "package-manager-misuse",
    "permission-denied",
    "missing-file",
    "build-context",
    "dockerfile-syntax",
    "base-image",
    "network",
    "line-endings",
    "exec-format",
    "disk-full",
    "command-failed",
)

# Package managers a layer may have, in the order a hint prefers them.
PACKAGE_MANAGERS = ("apt-get", "apk", "dnf", "microdnf", "yum", "zypper", "pacman")

# -- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathInfo:
    """A path as `stat` saw it in the layer (relative paths from the layer's WORKDIR)."""

    path: str
    exists: bool
    kind: str | None = None  # "directory", "regular file", "symbolic link", ...
    owner: str | None = None  # "root:root" (names, or numbers when the layer has no name)
    mode: str | None = None  # octal permission bits, e.g. "755"


@dataclass(frozen=True)
class FileHead:
    """The start of a program file in the layer: what the kernel looks at to run it."""

    path: str  # the file (a command name resolved through PATH)
    shebang: str | None  # the interpreter line after `#!`, without its line end
    crlf: bool  # the first line ends in \r\n: the kernel looks for an interpreter named "...\r"
    elf_machine: int | None  # e_machine of an ELF binary (62 x86-64, 183 aarch64, ...)


@dataclass(frozen=True)
class LayerFacts:
    """What a read-only look inside the last good layer found (engine probe, facts.py)."""

    image: str
    machine: str | None = None  # `uname -m` where the layer's containers run: x86_64, aarch64
    os: str | None = None  # PRETTY_NAME of /etc/os-release, or "busybox"
    user: str = ""  # the layer's USER ("" is root)
    user_id: str | None = None  # `id` of that user
    workdir: str = "/"
    package_managers: tuple[str, ...] = ()  # the PACKAGE_MANAGERS on its PATH
    apt_lists: int | None = None  # package lists in /var/lib/apt/lists; None without apt-get
    commands: tuple[tuple[str, str], ...] = ()  # (name, path) of asked names found on PATH
    similar: tuple[str, ...] = ()  # PATH entries named like an asked name (python3.11)
    elsewhere: tuple[str, ...] = ()  # files with an asked name anywhere else in the layer
    paths: tuple[PathInfo, ...] = ()
    heads: tuple[FileHead, ...] = ()

    def command(self, name: str) -> str | None:
        return next((path for n, path in self.commands if n == name), None)

    def path(self, path: str) -> PathInfo | None:
        return next((p for p in self.paths if p.path == path), None)

    def head(self, path: str) -> FileHead | None:
        return next((h for h in self.heads if h.path == path), None)


@dataclass(frozen=True)
class Facts:
    """Everything beyond the failed step that rules may use; all optional."""

    dockerfile: Dockerfile | None = None
    dockerfile_text: str | None = None
    in_trigger: bool = False  # the failure is in an ONBUILD trigger of the base image
    context: str | None = None  # the build context as the user named it
    dockerignore: str | None = None  # the context's .dockerignore text; None: there is none
    context_files: tuple[str, ...] | None = None  # files in the context (relative); None: unlisted
    layer: LayerFacts | None = None  # None: no look inside the layer (no daemon, no image)


@dataclass(frozen=True)
class Questions:
    """The lookups in the last good layer that could decide the class or a hint."""

    commands: tuple[str, ...] = ()  # program names or paths: on PATH? similar names? file head
    paths: tuple[str, ...] = ()  # stat these and their parent folders
    names: tuple[str, ...] = ()  # search the layer for files with these names
    probe: bool = False  # the basics alone help (package manager, apt lists, user)

    @property
    def layer(self) -> bool:
        return self.probe or bool(self.commands or self.paths or self.names)


# -- the failed step, read once ----------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    step: FailedStep
    facts: Facts
    lines: tuple[str, ...]  # output tail, then the builder's message

    @property
    def layer(self) -> LayerFacts | None:
        return self.facts.layer

    @property
    def instruction(self) -> Instruction | None:
        model = self.facts.dockerfile
        if model is None or self.step.line is None:
            return None
        return model.instruction_at(self.step.line)

    @property
    def runs_command(self) -> bool:
        """A RUN (also one the runtime could not start), or an ONBUILD trigger's RUN (a FROM
        step that failed with an exit code)."""
        return self.step.exit_code is not None or self.step.instruction == "RUN"

    def last(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
        for line in reversed(self.lines):
            found = pattern.search(line)
            if found:
                return found, line
        return None

    def first(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
        for line in self.lines:
            found = pattern.search(line)
            if found:
                return found, line
        return None


@dataclass(frozen=True)
class _Found:
    summary: str
    hints: tuple[str, ...]
    evidence: tuple[str, ...]


Rule = Callable[[_Case], "_Found | None"]


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def _said(line: str) -> str:
    """An output line as evidence (control bytes, e.g. of a binary run as a script, as `?`)."""
    line = _UNPRINTABLE.sub("?", line.strip())
    return f'output: "{line[:200]}"'


def _code(text: str) -> str:
    return f"`{text}`"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _first_word(command: str | None) -> str | None:
    if not command:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return words[0] if words else None


# -- dockerfile-syntax -------------------------------------------------------------------------

_PARSE_ERROR = re.compile(r"(?i)dockerfile parse error line (\d+): (.*)")
_UNKNOWN_INSTRUCTION = re.compile(r"unknown instruction: (\S+)")
_INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip
_DEST_NOT_DIR = re.compile(r"When using (COPY|ADD) with more than one source file")
_CONTINUED = re.compile(r"(&&|\|\||\||;|,)\s*$")


def _dockerfile_syntax(case: _Case) -> _Found | None:
    step = case.step
    dest = case.last(_DEST_NOT_DIR)
    if dest is not None:
        found, line = dest
        where = f" (line {step.line})" if step.line else ""
        return _Found(
            f"{found.group(1)} with several sources needs a folder as its destination{where}.",
            (f"End the destination with `/`: `{found.group(1)} {_with_slash(step.command)}`.",),
            (_said(line),),
        )
    parsed = case.last(_PARSE_ERROR)
    if parsed is None or step.index is not None:
        return None
    found, line = parsed
    number, what = int(found.group(1)), found.group(2)
    evidence = [f'builder: "{line.strip()}"']
    hints: list[str] = []
    unknown = _UNKNOWN_INSTRUCTION.search(what)
    source = (case.facts.dockerfile_text or "").splitlines()
    if unknown is not None:
        word = unknown.group(1)
        summary = f"Line {number} starts with {_code(word)}, which is not a Dockerfile instruction."
        previous = _previous_code_line(source, number)
        if previous is not None and _CONTINUED.search(source[previous - 1]):
            text = source[previous - 1].rstrip()
            summary = (
                f"Line {previous} ends without a `\\`, so line {number} "
                f"({_code(word.lower())} ...) is read as a new instruction."
            )
            hints.append(
                f"End line {previous} with ` \\` to continue the instruction onto line {number}: "
                f"`{text} \\`."
            )
            evidence.append(f"Dockerfile line {previous}: {_code(text)}")
        else:
            close = difflib.get_close_matches(word.upper(), _INSTRUCTIONS, n=1, cutoff=0.6)
            if close:
                hints.append(
                    f"Did you mean {_code(close[0])}? Write `{close[0]} ...` on line {number}."
                )
            hints.append(
                "Each line starts with an instruction (RUN, COPY, ENV, ...) unless the line "
                "before it ends with `\\`."
            )
    else:
        summary = f"The Dockerfile does not parse: line {number}: {what}."
        hints.append(f"Fix line {number}; the Dockerfile reference gives each instruction's form.")
    if 0 < number <= len(source):
        evidence.append(f"Dockerfile line {number}: {_code(source[number - 1].strip())}")
    return _Found(summary, tuple(hints), tuple(evidence))


def _previous_code_line(source: Sequence[str], number: int) -> int | None:
    for n in range(number - 1, 0, -1):
        text = source[n - 1].strip()
        if text and not text.startswith("#"):
            return n
    return None


def _with_slash(command: str | None) -> str:
    words = (command or "").split()
    if not words:
        return "SRC... DEST/"
    words[-1] = words[-1].rstrip("/") + "/"
    return " ".join(words)


# -- base-image --------------------------------------------------------------------------------


def _from_reference(command: str | None) -> str:
    words = [w for w in (command or "").split() if not w.startswith("--")]
    return words[0] if words else "the image"


def _base_image(case: _Case) -> _Found | None:
    step = case.step
    if step.instruction != "FROM" or case.runs_command:
        return None
    ref = _from_reference(step.command)
    message = step.message
    evidence = (f'builder: "{message}"',)
    lower = message.lower()
    hints: list[str] = []
    where = f"line {step.line}" if step.line else "the FROM line"
    if "invalid reference format" in lower:
        summary = f"{_code(ref)} is not a valid image reference."
        if "lowercase" in lower:
            hints.append(
                f"Image names are lower-case: `FROM {_lower_repo(ref)}` on {where} "
                "(only the tag may have capitals)."
            )
        hints.append("A reference is [REGISTRY/]NAME[:TAG][@DIGEST], e.g. `debian:bookworm`.")
    elif "no matching manifest" in lower:
        summary = f"{_code(ref)} has no image for this machine's platform."
        hints.append("Pick a tag published for your platform, or pass --platform to the build.")
    elif any(w in lower for w in ("connection refused", "no such host", "i/o timeout", "dial tcp")):
        registry = ref.split("/", 1)[0] if "/" in ref else "docker.io"
        summary = (
            f"The registry of {_code(ref)} ({registry}) cannot be reached, so it cannot be pulled."
        )
        hints.append(
            f"Check the registry address in {_code(ref)}; a local image needs no pull: "
            "`docker image ls` lists the names that exist here."
        )
        hints.append("Behind a proxy, configure it for the Docker daemon (not only the shell).")
    else:
        summary = f"The base image {_code(ref)} cannot be found or pulled."
        hints.append(
            f"Check the name and tag on {where}: `docker image ls` shows local images, the "
            "registry's page lists the published tags."
        )
        if "denied" in lower or "unauthorized" in lower:
            hints.append("For a private image, `docker login` to its registry first.")
    return _Found(summary, tuple(hints), evidence)


def _lower_repo(ref: str) -> str:
    name, sep, tag = ref.partition(":")
    if "/" in tag:  # a registry port, not a tag
        return ref.lower()
    return name.lower() + sep + tag


# -- build-context -----------------------------------------------------------------------------

_COPY_FAILED = re.compile(r"^(COPY|ADD) failed: (.*)$")
_STAT = re.compile(r"stat (\S+): file does not exist")
_OUTSIDE = re.compile(r"forbidden path outside the build context: (\S+)")


def _copy_sources(step: FailedStep, ins: Instruction | None) -> tuple[str, ...]:
    if ins is not None and ins.json_args:
        return tuple(ins.json_args[:-1])
    words = [w for w in (step.command or "").split() if not w.startswith("--")]
    return tuple(words[:-1])


def _build_context(case: _Case) -> _Found | None:
    step = case.step
    if step.instruction not in ("COPY", "ADD") or case.runs_command:
        return None
    hit = case.last(_COPY_FAILED)
    if hit is None:
        return None
    found, line = hit
    keyword, what = found.group(1), found.group(2)
    facts = case.facts
    context = facts.context or "."
    evidence = [_said(line)]
    outside = _OUTSIDE.search(what)
    if outside is not None:
        source = outside.group(1)
        return _Found(
            f"{_code(source)} is outside the build context ({context}): {keyword} only sees "
            "files inside it.",
            (
                f"Move the file into {context}, or build from a folder that contains both "
                "(`docker build -f path/to/Dockerfile <that folder>`) and copy it by its path "
                "there.",
            ),
            tuple(evidence),
        )
    stat = _STAT.search(what)
    sources = (stat.group(1),) if stat else _copy_sources(step, case.instruction)
    if "no source files were specified" in what:
        patterns = _copy_sources(step, case.instruction)
        return _Found(
            f"No file in the build context ({context}) matches "
            f"{_join([_code(p) for p in patterns])}.",
            (
                f"List what the context holds with `ls -la {context}`; a wildcard that matches "
                "nothing is an error for COPY.",
                *_ignore_hints(facts, patterns, evidence),
            ),
            tuple(evidence),
        )
    hints: list[str] = []
    summary = ""
    for source in sources:
        clean = posixpath.normpath(source.lstrip("/"))
        pattern = (
            dockerignore.excluded_by(facts.dockerignore, clean)
            if facts.dockerignore is not None
            else None
        )
        if pattern is not None:
            summary = (
                f"{_code(source)} is excluded from the build context by .dockerignore line "
                f"{pattern.line} ({_code(pattern.text)})."
            )
            hints.append(
                f"Add the line `!{clean}` after line {pattern.line} of .dockerignore, or remove "
                f"{_code(pattern.text)} if the image needs those files."
            )
            evidence.append(f".dockerignore line {pattern.line}: {_code(pattern.text)}")
            break
        files = facts.context_files
        if files is not None and clean not in files:
            summary = f"There is no {_code(source)} in the build context ({context})."
            close = difflib.get_close_matches(clean, files, n=2, cutoff=0.75)
            if close:
                hints.append(
                    f"Did you mean {_join([_code(c) for c in close])}? Fix the source on line "
                    f"{step.line}: `{keyword} {(step.command or '').replace(source, close[0], 1)}`."
                )
                evidence.append(f"context: has {_join(close)}")
            hints.append(
                f"Sources are relative to the build context ({context}), not to the Dockerfile's "
                "folder."
            )
            evidence.append(f"context: no {clean}")
            break
    if not summary:
        summary = (
            f"{keyword} could not find {_join([_code(s) for s in sources]) or 'its source'} in "
            f"the build context ({context})."
        )
        hints.append(
            f"Check that the file is in {context} and not listed in .dockerignore; sources are "
            "relative to the build context."
        )
    return _Found(summary, tuple(hints), tuple(evidence))


def _ignore_hints(facts: Facts, sources: Sequence[str], evidence: list[str]) -> tuple[str, ...]:
    if facts.dockerignore is None:
        return ()
    hints = []
    for source in sources:
        pattern = dockerignore.excluded_by(facts.dockerignore, source)
        if pattern is not None:
            hints.append(f".dockerignore line {pattern.line} ({_code(pattern.text)}) excludes it.")
            evidence.append(f".dockerignore line {pattern.line}: {_code(pattern.text)}")
    return tuple(hints)


# -- disk-full ---------------------------------------------------------------------------------

_NO_SPACE = re.compile(
    r"No space left on device|ENOSPC|not enough free space|You don't have enough free space"
)
_WRITING = re.compile(r"(?:writing|write|create|creating|open) '?(/[^':\s]+)'?")


def _disk_full(case: _Case) -> _Found | None:
    hit = case.last(_NO_SPACE)
    if hit is None:
        return None
    _, line = hit
    target = _WRITING.search(line)
    where = f" while writing {_code(target.group(1))}" if target else ""
    return _Found(
        f"The disk the Docker daemon builds on is full: the step ran out of space{where}.",
        (
            "See what uses the space: `docker system df`; free it with `docker builder prune` "
            "and `docker image prune` (and `df -h` on the daemon's data root, "
            "`docker info -f '{{.DockerRootDir}}'`).",
            "Make the step write less: delete downloads and caches in the same RUN that made "
            "them (e.g. `&& rm -rf /var/lib/apt/lists/*`), or fetch only what the image needs.",
        ),
        (_said(line),),
    )


# -- programs named in the output --------------------------------------------------------------

# sh: curl: not found | /bin/sh: 1: git: not found | bash: line 1: x: command not found
_NOT_FOUND = re.compile(
    r"^(?:(?:[^\s:]+): )?(?:line \d+: |\d+: )?(?P<cmd>[^\s:]+): (?:command )?not found$"
)
# the runtime, for an exec-form RUN
_EXEC_NOT_FOUND = re.compile(r'exec: "(?P<cmd>[^"]+)": executable file not found')
_EXEC_NO_SUCH = re.compile(r"exec (?P<cmd>\S+): no such file or directory")
_BAD_INTERPRETER = re.compile(r"(?P<cmd>[^\s:]+): (?P<interp>[^:]+): bad interpreter")
_EXEC_FORMAT = re.compile(
    r"(?:exec (?P<exec>\S+): exec format error)|"
    r"(?:(?P<cmd>[^\s:]+): (?:cannot execute binary file: )?[Ee]xec format error)"
)
_ELF_AS_SCRIPT = re.compile(r"^(?P<cmd>[^\s:]+): line 1: .{0,3}ELF")
_ELF_MACHINES = {
    3: "i386 (x86, 32-bit)",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm (32-bit)",
    62: "x86_64 (amd64)",
    183: "aarch64 (arm64)",
    243: "riscv64",
}
_UNAME = {
    "x86_64": 62,
    "amd64": 62,
    "aarch64": 183,
    "arm64": 183,
    "i686": 3,
    "i386": 3,
    "armv7l": 40,
    "armv6l": 40,
    "s390x": 22,
    "ppc64le": 21,
    "riscv64": 243,
}


def _missing_program(case: _Case) -> tuple[str, str] | None:
    """(program, the output line) for a program the shell or the runtime could not find."""
    for pattern in (_NOT_FOUND, _EXEC_NOT_FOUND, _EXEC_NO_SUCH):
        hit = case.last(pattern)
        if hit is not None and _ELF_AS_SCRIPT.search(hit[1]) is None:
            return hit[0].group("cmd"), hit[1]
    return None


def _head_of(case: _Case, program: str) -> FileHead | None:
    layer = case.layer
    if layer is None:
        return None
    path = layer.command(program) or program
    return layer.head(path)


# -- line-endings ------------------------------------------------------------------------------

# bash quotes a word with a CR as $'...\r', and shows a CR in an option or interpreter as ^M.
_CR_MARKS = re.compile(r"\$'[^']*\\r[^']*'|\^M(?=[:\s]|$)|\r")


def _line_endings(case: _Case) -> _Found | None:
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
    missing = _missing_program(case)
    if missing is None:
        return None
    program, line = missing
    head = _head_of(case, program)
    if head is None or not head.crlf:
        return None
    return _crlf_found(head.path, line, head)


_SCRIPT_LINE = re.compile(r"^([^\s:]+): line \d+: ")


def _script_word(command: str | None) -> str:
    words = (command or "").split()
    return next((w for w in words if _SCRIPT.search(w)), "the script")


def _crlf_found(script: str, line: str, head: FileHead | None) -> _Found:
    evidence = [_said(line)]
    if head is not None:
        evidence.append(f"layer: {head.path} starts with `#!{head.shebang}\\r` (CRLF line endings)")
        why = (
            f": its first line asks for an interpreter named `{head.shebang}\\r`, which does "
            "not exist"
        )
    else:
        why = ": the shell reads each line with a trailing `\\r`, as part of the last word"
    return _Found(
        f"{_code(script)} has Windows (CRLF) line endings{why}.",
        (
            f"Convert it in the build before running it: `RUN sed -i 's/\\r$//' {script}` "
            "(or `dos2unix`), or fix the file itself.",
            "Keep scripts LF in git: a `.gitattributes` line `*.sh text eol=lf`, or "
            "`git config core.autocrlf input` on Windows.",
        ),
        tuple(evidence),
    )


# -- exec-format -------------------------------------------------------------------------------


def _exec_format(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    program: str | None = None
    line = ""
    hit = case.last(_EXEC_FORMAT)
    if hit is not None:
        program = hit[0].group("exec") or hit[0].group("cmd")
        line = hit[1]
    else:
        elf = case.last(_ELF_AS_SCRIPT)
        if elf is not None:
            program, line = elf[0].group("cmd"), elf[1]
    if program is None:
        # "not found" for a binary that is there: built for another machine? (its loader path
        # does not exist here; a shell then reports the program itself as not found)
        missing = _missing_program(case)
        if missing is None:
            return None
        head = _head_of(case, missing[0])
        here = case.layer.machine if case.layer is not None else None
        if head is None or head.elf_machine is None or not here:
            return None
        if _UNAME.get(here) == head.elf_machine:
            return None
        program, line = missing
    evidence = [_said(line)]
    head = _head_of(case, program)
    layer = case.layer
    if head is not None and head.elf_machine is not None:
        arch = _ELF_MACHINES.get(head.elf_machine, f"machine {head.elf_machine}")
        here = layer.machine if layer is not None else None
        evidence.append(f"layer: {head.path} is an ELF binary for {arch}")
        if here and _UNAME.get(here) != head.elf_machine:
            evidence.append(f"layer: containers here run on {here}")
            return _Found(
                f"{_code(program)} is a binary for {arch}, but this machine runs {here}.",
                (
                    f"Get the {here} build of {_code(program)} (download the release asset for "
                    f"linux/{_docker_arch(here)}, or build it in a stage of this Dockerfile).",
                    "Or build the image for the binary's platform with --platform and an "
                    "emulator (binfmt/qemu) on the daemon's machine.",
                ),
                tuple(evidence),
            )
    if head is not None and head.elf_machine is None and head.shebang is None:
        evidence.append(f"layer: {head.path} is neither a binary nor a script with `#!`")
        return _Found(
            f"{_code(program)} is not a program the kernel can run: no binary header and no "
            "`#!` line.",
            (
                f"If it is a shell script, make `#!/bin/sh` its first line, or run it as "
                f"`sh {program}`.",
            ),
            tuple(evidence),
        )
    return _Found(
        f"{_code(program)} cannot be run here: it is a binary for another architecture, or not "
        'a program at all ("exec format error").',
        (
            f"Check what it is: `file {program}` or `head -c 20 {program} | od -c`; get the build "
            "for this machine's architecture, or add a `#!` line to a script.",
        ),
        tuple(evidence),
    )


def _docker_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7"}.get(machine, machine)


# -- network -----------------------------------------------------------------------------------

_NETWORK = re.compile(
    r"Temporary failure resolving '(?P<apt>[^']+)'|"
    r"Could not resolve (?:host: )?'?(?P<resolve>[^'\s]+)'?|"
    r"bad address '(?P<bad>[^']+)'|"
    r"can't connect to remote host \((?P<wget>[^)]+)\): (?P<wget_why>.+)|"
    r"Failed to connect to (?P<curl>\S+)|"
    r"Could not connect to (?P<apt_connect>\S+)|"
    r"unable to resolve host address '(?P<gnu>[^']+)'|"
    r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<npm>\S+)|"
    r"Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|No route to host|Connection refused|Connection timed out|"
    r"ECONNREFUSED|ETIMEDOUT|TLS handshake timeout|download timed out|"
    r"Failed to establish a new connection"
)


def _network(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    hit = case.first(_NETWORK)
    if hit is None:
        return None
    found, line = hit
    host = next(
        (
            v
            for k in ("apt", "resolve", "bad", "wget", "curl", "apt_connect", "gnu", "npm")
            if (v := found.group(k))
        ),
        None,
    )
    host = host.rstrip(":.,") if host else None
    evidence = (_said(line),)
    if host and (host.startswith("127.") or host in ("localhost", "::1", "[::1]")):
        return _Found(
            f"Nothing answered at {_code(host)}: inside a build step, localhost is the step's own "
            "container, not your machine.",
            (
                "A server on your machine is not reachable as localhost from a build: serve the "
                "file from a host the build can reach, or put it in the build context and COPY "
                "it instead of downloading it.",
                "With `--network host` the step shares the daemon machine's network (and its "
                "localhost).",
            ),
            evidence,
        )
    resolving = re.search(r"resolv|bad address|ENOTFOUND|EAI_AGAIN|Name or service", line)
    what = f"{_code(host)} " if host else ""
    if resolving:
        summary = f"The build step could not resolve the name {what}(DNS failed)."
        hints = (
            f"Check the spelling of {what}in the URL; try it from the daemon's machine.",
            "The build uses the daemon's DNS: set `dns` in /etc/docker/daemon.json, or try "
            "`--network host`; behind a proxy pass `--build-arg HTTP_PROXY=... "
            "--build-arg HTTPS_PROXY=...`.",
        )
    else:
        summary = f"The build step could not connect to {what or 'a server '}over the network."
        hints = (
            "Check that the server is up and reachable from the daemon's machine (the build "
            "runs there, in a container).",
            "Behind a proxy pass `--build-arg HTTP_PROXY=... --build-arg HTTPS_PROXY=...`; a "
            "firewall may block containers.",
        )
    return _Found(summary, hints, evidence)


# -- package managers --------------------------------------------------------------------------

_APT_INVALID_OPERATION = re.compile(r"E: Invalid operation (\S+)")
_APT_BAD_OPTION = re.compile(
    r"E: Command line option '?(?P<opt>[^'\s]+)'? (?:\[from (?P<from>\S+)\] )?is not understood"
)
_APT_ABORT = re.compile(r"Do you want to continue\? \[Y/n\] Abort\.")
_PIP_UNKNOWN = re.compile(r'ERROR: unknown command "([^"]+)"|no such option: (\S+)')
_APT_OPERATIONS = (
    "update", "upgrade", "install", "reinstall", "remove", "purge", "autoremove", "autopurge",
    "dist-upgrade", "full-upgrade", "source", "build-dep", "satisfy", "check", "download",
    "clean", "autoclean", "changelog", "indextargets",
)  # fmt: skip
_APT_OPTIONS = (
    "--no-install-recommends", "--install-recommends", "--no-install-suggests", "--yes",
    "--assume-yes", "--quiet", "--fix-broken", "--fix-missing", "--no-upgrade",
    "--only-upgrade", "--allow-downgrades", "--reinstall", "--purge", "--download-only",
    "--simulate", "--dry-run", "--target-release", "--allow-unauthenticated", "--no-remove",
    "--auto-remove",
)  # fmt: skip


def _package_manager_misuse(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    step = case.step
    hit = case.last(_APT_INVALID_OPERATION)
    if hit is not None:
        found, line = hit
        op = found.group(1)
        close = difflib.get_close_matches(op, _APT_OPERATIONS, n=1, cutoff=0.5)
        hints = []
        if op.startswith("update") or op.startswith("upgrade"):
            hints.append(
                "To refresh the package lists and upgrade: `apt-get update && apt-get -y upgrade`."
            )
        elif close:
            hints.append(f"Did you mean `apt-get {close[0]}`?")
        hints.append(
            "apt-get's first word is an operation: install, remove, update, upgrade, ... "
            "(`apt-get --help` lists them)."
        )
        return _Found(f"apt-get has no operation {_code(op)}.", tuple(hints), (_said(line),))
    hit = case.last(_APT_BAD_OPTION)
    if hit is not None:
        found, line = hit
        opt = found.group("opt")
        close = difflib.get_close_matches(opt, _APT_OPTIONS, n=1, cutoff=0.7)
        hints = []
        if close:
            fixed = (step.command or "").replace(opt, close[0])
            hints.append(f"Did you mean {_code(close[0])}? `RUN {fixed}`.")
        hints.append("`apt-get --help` and `man apt-get` list the options apt-get understands.")
        return _Found(
            f"apt-get does not understand the option {_code(opt)}.", tuple(hints), (_said(line),)
        )
    hit = case.last(_APT_ABORT)
    if hit is not None:
        return _Found(
            "apt-get asked for confirmation and, with no one to answer in a build, aborted.",
            (
                "Add -y: `apt-get install -y --no-install-recommends ...` (a build has no "
                "terminal to answer prompts).",
            ),
            (_said(hit[1]),),
        )
    hit = case.last(_PIP_UNKNOWN)
    if hit is not None:
        word = hit[0].group(1) or hit[0].group(2)
        return _Found(
            f"pip does not know {_code(word)}.",
            ("`pip help` lists its commands and options; install with `pip install PACKAGE`.",),
            (_said(hit[1]),),
        )
    return None


_APT_UNABLE = re.compile(r"E: Unable to locate package (\S+)")
_APT_NO_CANDIDATE = re.compile(r"E: Package '([^']+)' has no installation candidate")
_APT_GLOB = re.compile(r"E: Couldn't find any package by (?:glob|regex) '([^']+)'")
_APT_REPLACED = re.compile(r"However the following packages replace it:")
# apk-tools: "ERROR: unable to select packages:" then "  NAME (no such package):" lines
# (newer versions put the first on the same line).
_APK = re.compile(r"(?:^|\s)([^\s:]+) \(no such package\)")
_PIP = re.compile(r"No matching distribution found for (\S+)")
_NPM = re.compile(
    r"404 Not Found - GET \S+/(\S+?)(?: - |$)|'(\S+?)@\S*' is not in (?:the|this) registry"
)
_DNF = re.compile(
    r"No match for argument: (\S+)|Unable to find a match: (\S+)|No package (\S+) available"
)


def _package_not_found(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    command = case.step.command or ""
    for pattern in (_APT_UNABLE, _APT_NO_CANDIDATE, _APT_GLOB):
        hit = case.last(pattern)
        if hit is not None:
            return _apt_package(case, hit[0].group(1), hit[1], command)
    for pattern, manager, look in (
        (_APK, "apk", "https://pkgs.alpinelinux.org/packages"),
        (_PIP, "pip", "https://pypi.org"),
        (_NPM, "npm", "https://www.npmjs.com"),
        (_DNF, "dnf", "`dnf search NAME`"),
    ):
        hit = case.last(pattern)
        if hit is not None:
            name = next(g for g in hit[0].groups() if g)
            return _Found(
                f"{manager} cannot find a package named {_code(name)}.",
                (f"Check the name and version of {_code(name)} ({look}).",),
                (_said(hit[1]),),
            )
    return None


def _apt_package(case: _Case, name: str, line: str, command: str) -> _Found:
    evidence = [_said(line)]
    hints: list[str] = []
    layer = case.layer
    updated = re.search(r"apt(?:-get)? update", command) is not None
    no_lists = layer is not None and layer.apt_lists == 0
    if layer is not None and layer.apt_lists is not None and not updated:
        evidence.append(f"layer: {layer.apt_lists} package list(s) in /var/lib/apt/lists")
    if not updated and (no_lists or layer is None):
        summary = (
            f"apt-get cannot find {_code(name)} because this layer has no package lists: "
            "no `apt-get update` ran before it."
            if no_lists
            else f"apt-get cannot find {_code(name)}, and this RUN does not run "
            "`apt-get update` first."
        )
        hints.append(
            f"Update the lists in the same RUN: `RUN apt-get update && apt-get install -y "
            f"--no-install-recommends {name}` (images ship without lists; a separate RUN's "
            "lists go stale in the cache)."
        )
        return _Found(summary, tuple(hints), tuple(evidence))
    replaced = case.first(_APT_REPLACED)
    if replaced is not None:
        index = case.lines.index(replaced[1])
        if index + 1 < len(case.lines):
            instead = case.lines[index + 1].split()
            if instead:
                evidence.append(_said(replaced[1]))
                evidence.append(_said(case.lines[index + 1]))
                hints.append(
                    f"{_code(name)} is gone from this release; it is replaced by "
                    f"{_join([_code(p) for p in instead])}: install one of those instead."
                )
    hints.append(
        f"Check the name for this release: `apt-cache search {name}` in the session, or "
        "https://packages.debian.org (Ubuntu: https://packages.ubuntu.com)."
    )
    return _Found(
        f"apt-get cannot find a package named {_code(name)} in this image's package lists.",
        tuple(hints),
        tuple(evidence),
    )


# -- permission-denied -------------------------------------------------------------------------

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


def _resolve(path: str, workdir: str) -> str:
    return posixpath.normpath(posixpath.join(workdir or "/", path))


def _parents(path: str) -> tuple[str, ...]:
    out = []
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        out.append(path)
    return tuple(out)


def _user_line(case: _Case) -> tuple[int, str] | None:
    """The last USER instruction before the failing line, in its stage."""
    ins = case.instruction
    model = case.facts.dockerfile
    if ins is None or model is None or ins.stage is None:
        return None
    found = None
    for other in model.stages[ins.stage].instructions:
        if other.line >= ins.line:
            break
        if other.keyword == "USER":
            found = (other.line, other.args.strip())
    return found


def _permission_denied(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    hit = case.last(_DENIED)
    if hit is None:
        return None
    _, line = hit
    step = case.step
    evidence = [_said(line)]
    path = _denied_path(line)
    layer = case.layer
    user_line = _user_line(case)
    user = (layer.user if layer is not None else None) or (user_line[1] if user_line else "")
    if user_line is not None:
        evidence.append(f"Dockerfile line {user_line[0]}: `USER {user_line[1]}`")
    who = f"USER {user}" if user and user not in ("root", "0") else "root"
    if layer is not None and layer.user_id:
        evidence.append(f"layer: runs as {layer.user_id}")
    before = f" (line {user_line[0]})" if user_line else ""
    if path and path.startswith("/var/") and ("apt" in path or "dpkg" in path):
        return _Found(
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
        return _Found(
            f"{_code(path)} is not executable{mode}, so the shell cannot run it.",
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
        full = _resolve(path, workdir or "/") if path and (workdir or path[:1] == "/") else path
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
        return _Found(
            f"{who} may not write {_code(shown)}{owned}.",
            tuple(hints),
            tuple(evidence),
        )
    return _Found(
        f"Even root may not write {_code(path or 'the path')}: a read-only file system or a "
        "protected kernel path.",
        ("Write somewhere else (e.g. under /tmp or the app's folder).",),
        tuple(evidence),
    )


def _dockerfile_workdir(case: _Case) -> str | None:
    """The step's WORKDIR as the Dockerfile sets it (None: no WORKDIR before it, or unknown)."""
    ins = case.instruction
    model = case.facts.dockerfile
    if ins is None or model is None or ins.stage is None:
        return None
    workdir: str | None = None
    for other in model.stages[ins.stage].instructions:
        if other.line >= ins.line:
            break
        if other.keyword == "WORKDIR" and "$" not in other.args:
            workdir = posixpath.join(workdir or "/", other.args.strip())
    return posixpath.normpath(workdir) if workdir else None


def _path_info(case: _Case, path: str) -> PathInfo | None:
    layer = case.layer
    if layer is None:
        return None
    return layer.path(_resolve(path, layer.workdir))


def _nearest_existing(case: _Case, path: str) -> PathInfo | None:
    layer = case.layer
    if layer is None:
        return None
    full = _resolve(path, layer.workdir)
    for candidate in (full, *_parents(full)):
        info = layer.path(candidate)
        if info is not None and info.exists:
            return info
    return None


def _made_by_workdir(case: _Case, folder: str) -> int | None:
    """The line of a WORKDIR after the USER switch that made `folder` (as root), if any."""
    model = case.facts.dockerfile
    ins = case.instruction
    user_line = _user_line(case)
    if model is None or ins is None or ins.stage is None or user_line is None:
        return None
    return next(
        (
            other.line
            for other in model.stages[ins.stage].instructions
            if user_line[0] < other.line < ins.line
            and other.keyword == "WORKDIR"
            and posixpath.normpath(other.args.strip()) == folder
        ),
        None,
    )


# -- command-not-found -------------------------------------------------------------------------

# Other names a missing program may go by in a layer (checked there by questions()).
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "curl": ("wget",),
    "wget": ("curl",),
    "python": ("python3",),
    "python2": ("python3",),
    "pip": ("pip3",),
    "pip3": ("pip",),
    "bash": ("ash", "sh"),
    "vim": ("vi",),
    "nano": ("vi",),
    "gawk": ("awk",),
    "nc": ("ncat", "netcat"),
    "node": ("nodejs",),
    "nodejs": ("node",),
    "gcc": ("cc", "clang"),
    "cc": ("gcc", "clang"),
    "make": ("gmake",),
    "ifconfig": ("ip",),
    "netstat": ("ss",),
    "which": ("command -v",),
}

# The package that provides a command, per package manager: (apt, apk, dnf).
PACKAGES: dict[str, tuple[str, str, str]] = {
    "curl": ("curl", "curl", "curl"),
    "wget": ("wget", "wget", "wget"),
    "git": ("git", "git", "git"),
    "make": ("make", "make", "make"),
    "gcc": ("gcc", "gcc", "gcc"),
    "cc": ("gcc", "gcc", "gcc"),
    "g++": ("g++", "g++", "gcc-c++"),
    "python3": ("python3", "python3", "python3"),
    "python": ("python-is-python3", "python3", "python3"),
    "pip": ("python3-pip", "py3-pip", "python3-pip"),
    "pip3": ("python3-pip", "py3-pip", "python3-pip"),
    "node": ("nodejs", "nodejs", "nodejs"),
    "npm": ("npm", "npm", "npm"),
    "ps": ("procps", "procps", "procps-ng"),
    "ping": ("iputils-ping", "iputils", "iputils"),
    "ip": ("iproute2", "iproute2", "iproute"),
    "ssh": ("openssh-client", "openssh-client", "openssh-clients"),
    "unzip": ("unzip", "unzip", "unzip"),
    "zip": ("zip", "zip", "zip"),
    "xz": ("xz-utils", "xz", "xz"),
    "bzip2": ("bzip2", "bzip2", "bzip2"),
    "bash": ("bash", "bash", "bash"),
    "less": ("less", "less", "less"),
    "vim": ("vim", "vim", "vim-enhanced"),
    "nano": ("nano", "nano", "nano"),
    "jq": ("jq", "jq", "jq"),
    "file": ("file", "file", "file"),
    "gpg": ("gnupg", "gnupg", "gnupg2"),
    "sudo": ("sudo", "sudo", "sudo"),
    "openssl": ("openssl", "openssl", "openssl"),
    "nc": ("netcat-openbsd", "netcat-openbsd", "nmap-ncat"),
    "dig": ("dnsutils", "bind-tools", "bind-utils"),
    "nslookup": ("dnsutils", "bind-tools", "bind-utils"),
    "envsubst": ("gettext-base", "gettext", "gettext"),
    "cmake": ("cmake", "cmake", "cmake"),
    "go": ("golang", "go", "golang"),
    "java": ("default-jre-headless", "openjdk17-jre-headless", "java-17-openjdk-headless"),
    "ruby": ("ruby", "ruby", "ruby"),
    "perl": ("perl", "perl", "perl"),
    "patch": ("patch", "patch", "patch"),
    "tini": ("tini", "tini", "tini"),
    "gosu": ("gosu", "gosu", "gosu"),
    "locale-gen": ("locales", "musl-locales", "glibc-locale-source"),
    "update-ca-certificates": ("ca-certificates", "ca-certificates", "ca-certificates"),
    "add-apt-repository": ("software-properties-common", "", ""),
    "useradd": ("passwd", "shadow", "shadow-utils"),
    "adduser": ("adduser", "shadow", "shadow-utils"),
    "crontab": ("cron", "cronie", "cronie"),
}

# Programs that fetch over https need CA certificates, which slim images lack.
_NEEDS_CA = frozenset({"curl", "wget", "git"})


def _install_command(manager: str, package: str) -> str:
    return {
        "apt-get": f"apt-get update && apt-get install -y --no-install-recommends {package}",
        "apk": f"apk add --no-cache {package}",
        "dnf": f"dnf install -y {package}",
        "microdnf": f"microdnf install -y {package}",
        "yum": f"yum install -y {package}",
        "zypper": f"zypper --non-interactive install {package}",
        "pacman": f"pacman -Sy --noconfirm {package}",
    }.get(manager, f"{manager} install {package}")


def _package_for(program: str, manager: str) -> str | None:
    known = PACKAGES.get(program)
    if known is None:
        return None
    column = {"apt-get": 0, "apk": 1}.get(manager, 2)
    return known[column] or None


_SCRIPT = re.compile(r"\.(?:sh|bash|py|pl|rb)$")


def _command_not_found(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    missing = _missing_program(case)
    if missing is None:
        return None
    program, line = missing
    tail = [t for t in case.step.output_tail if t.strip()]
    if case.step.exit_code not in (127, None) and tail[-1:] != [line]:
        return None  # a "not found" line in the output of a program that failed otherwise
    layer = case.layer
    evidence = [_said(line)]
    head = _head_of(case, program)
    if head is not None:  # the program is in the layer: its interpreter may not be
        return _interpreter_missing(case, program, line, head)
    if "/" in program or _SCRIPT.search(program):
        if layer is not None and "/" in program:
            return None  # the file is not in the layer: missing-file says so
        return _Found(
            f"{_code(program)} was not found: the file is missing, or it is a script whose `#!` "
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
        user_line = _user_line(case)
        who = f"USER {user_line[1]} (line {user_line[0]})" if user_line else "root"
        return _Found(
            "`sudo` is not installed, and a build step does not need it.",
            (
                f"This step runs as {who}: drop `sudo`; to run a step as root after a USER "
                "switch, put `USER root` before it.",
            ),
            tuple(evidence),
        )
    if layer is None:
        return _Found(
            f"{_code(program)} is not installed in the layer this step ran in (not on its PATH).",
            (
                f"Install {_code(program)} with the image's package manager in this RUN or an "
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
        return _Found(
            f"{_code(program)} is in this layer, at {off_path[0]}, but its folder is not on PATH.",
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
                f"This layer has {_code(alt)} ({where}): use it instead of {_code(program)}."
            )
    similar = [p for p in layer.similar if posixpath.basename(p) != program]
    if similar:
        names = [posixpath.basename(p) for p in similar[:3]]
        evidence.append(f"layer: {_join(similar[:3])} on PATH")
        hints.append(f"Similar names on PATH here: {_join([_code(n) for n in names])}.")
    managers = layer.package_managers
    what = layer.os or "this image"
    if managers:
        manager = managers[0]
        evidence.append(f"layer: package manager {manager} ({what})")
        package = _package_for(program, manager)
        extra = " ca-certificates" if program in _NEEDS_CA and manager == "apt-get" else ""
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
            f"{_code(program)} is not installed in this layer; its package manager, {manager}, "
            "can install it."
        )
    else:
        evidence.append(
            f"layer: no package manager ({_join(list(PACKAGE_MANAGERS))} not on PATH; {what})"
        )
        hints.append(
            f"This image has no package manager: start FROM an image that has {_code(program)}, "
            "or install it in a build stage FROM a fuller image and `COPY --from=` that stage."
        )
        summary = (
            f"{_code(program)} is not in this layer ({what}), which has no package manager to "
            "install it with."
        )
    return _Found(summary, tuple(hints), tuple(evidence))


def _interpreter_missing(case: _Case, program: str, line: str, head: FileHead) -> _Found | None:
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
        _said(line),
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
    return _Found(
        f"{_code(program)} exists, but its interpreter {_code(interpreter)} (its `#!` line) is "
        "not in this layer.",
        tuple(hints),
        evidence,
    )


# -- missing-file ------------------------------------------------------------------------------

_NO_SUCH = re.compile(
    r"No such file or directory|does not exist|ENOENT|can't cd to|cannot access|"
    r"no makefile found|can't open"
)
_PYTHON_OPEN = re.compile(r"can't open file '([^']+)'")
_CD = re.compile(r"can't cd to (\S+)")
_NPM_ENOENT = re.compile(r"ENOENT: no such file or directory, \w+ '([^']+)'")


def _missing_path(case: _Case) -> tuple[str | None, str] | None:
    missing = _missing_program(case)
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


def _missing_file(case: _Case) -> _Found | None:
    if not case.runs_command:
        return None
    layer = case.layer
    program = _missing_program(case)
    head = _head_of(case, program[0]) if program is not None else None
    if program is not None and head is not None and head.elf_machine is not None:
        evidence = [_said(program[1]), f"layer: {head.path} is an ELF binary"]
        return _Found(
            f"{_code(program[0])} is in the layer ({head.path}), but the dynamic loader or a "
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
    evidence = [_said(line)]
    if "no makefile found" in line:
        return _Found(
            "make found no Makefile in the working folder.",
            (
                "COPY the Makefile (and sources) before this step, or `make -C <folder>`; "
                "relative paths start at WORKDIR.",
            ),
            tuple(evidence),
        )
    if path is None:
        return _Found(
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
        full = _resolve(path, layer.workdir)
        info = layer.path(full)
        if info is not None and info.exists:
            return None  # it is there: not a missing file (an interpreter or loader is)
        if others:
            evidence.append(f"layer: found {_join(others[:3])}")
            hints.append(
                f"{_code(base)} is at {_join([_code(o) for o in others[:3]])} in this layer: use "
                f"that path (this step's WORKDIR is {workdir})."
            )
        else:
            evidence.append(f"layer: no file named {base}")
            hints.append(
                f"Nothing named {_code(base)} is in this layer: COPY it in before this step (is "
                "it in the build context?), or create it in the same RUN."
            )
    else:
        hints.append(
            f"Check that {_code(path)} is copied (COPY) or made before this step"
            + (", and that relative paths start at the step's WORKDIR." if relative else ".")
        )
    where = f" (relative to WORKDIR {workdir})" if relative and workdir else ""
    return _Found(
        f"{_code(path)}{where} does not exist in this layer.", tuple(hints), tuple(evidence)
    )


# -- command-failed: everything else -----------------------------------------------------------

_SEGMENTS = re.compile(r"&&|\|\||;|\|")
_EXIT_MEANINGS = {
    1: None,
    2: "2 often means a usage error or a shell syntax error",
    126: "126: the program was found but could not be run",
    127: "127: a program was not found",
    130: "130: interrupted (SIGINT)",
    137: "137: killed by SIGKILL, often the out-of-memory killer (give the daemon more memory, "
    "or make the step use less)",
    139: "139: a segmentation fault (SIGSEGV) in the program",
    143: "143: terminated (SIGTERM)",
}


def _command_failed(case: _Case) -> _Found:
    step = case.step
    evidence = [f"exit code {step.exit_code}"] if step.exit_code is not None else []
    tail = [line for line in step.output_tail if line.strip()]
    if tail:
        evidence.append(_said(tail[-1]))
    if step.exit_code is None:
        evidence.append(f'builder: "{step.message}"')
        return _Found(
            f"The builder stopped at {step.instruction or 'the build'}: {step.message}",
            (
                "Read the builder's message above; `docker build --help` and the Dockerfile "
                "reference explain its options.",
            ),
            tuple(evidence),
        )
    segments = [seg for seg in _SEGMENTS.split(step.command or "") if seg.strip()]
    program = _first_word(segments[0]) if segments and case.runs_command else None
    last = _first_word(segments[-1]) if segments and case.runs_command else None
    if case.facts.in_trigger:
        summary = (
            f"An ONBUILD trigger of the base image ran a command that exited with code "
            f"{step.exit_code}."
        )
    elif step.instruction == "RUN" and program and len(segments) == 1:
        summary = f"The command ({_code(program)} ...) ran and exited with code {step.exit_code}."
    elif step.instruction == "RUN":
        summary = f"The RUN's commands ran, and one exited with code {step.exit_code}."
    else:
        summary = f"The step's command exited with code {step.exit_code}."
    hints = [
        "Its own output above says why: the last lines are usually the error.",
        "Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the command "
        "(or `--retry` / `--exec` in CI).",
    ]
    meaning = _EXIT_MEANINGS.get(step.exit_code)
    if meaning:
        hints.insert(1, f"Exit code {meaning}.")
    if case.facts.in_trigger:
        hints.insert(
            1,
            "The trigger comes with the FROM image (`docker image inspect -f "
            "'{{.Config.OnBuild}}' IMAGE` lists them): fix it where that image is built, or "
            "start FROM an image without it.",
        )
    if last in ("grep", "test", "[", "diff", "cmp") and step.exit_code == 1:
        hints.insert(
            0,
            f"The last command, {_code(last)}, exits 1 when its condition is false or nothing "
            "matched: it may have reported a fact, not an error.",
        )
    return _Found(summary, tuple(hints), tuple(evidence))


# -- the table ---------------------------------------------------------------------------------

RULES: tuple[tuple[str, Rule], ...] = (
    ("dockerfile-syntax", _dockerfile_syntax),
    ("base-image", _base_image),
    ("build-context", _build_context),
    ("disk-full", _disk_full),
    ("line-endings", _line_endings),
    ("exec-format", _exec_format),
    ("network", _network),
    ("package-manager-misuse", _package_manager_misuse),
    ("package-not-found", _package_not_found),
    ("permission-denied", _permission_denied),
    ("command-not-found", _command_not_found),
    ("missing-file", _missing_file),
    ("command-failed", _command_failed),
)


_RUN_MESSAGE = re.compile(r"^The command .* returned a non-zero code: \d+$", re.DOTALL)


def _case(step: FailedStep, facts: Facts) -> _Case:
    # The builder's "The command '...' returned a non-zero code" quotes the command, whose
    # words must not pass for output; other messages (COPY, FROM, the runtime) are evidence.
    message = () if _RUN_MESSAGE.match(step.message) else (step.message,)
    return _Case(step, facts, (*step.output_tail, *message))


def diagnose(step: FailedStep, facts: Facts) -> Diagnosis:
    """The diagnosis of a failed step: the first rule of RULES that matches it."""
    case = _case(step, facts)
    for name, rule in RULES:
        found = rule(case)
        if found is not None:
            return Diagnosis(name, found.summary, found.hints, found.evidence)
    raise AssertionError("command-failed matches every failure")  # pragma: no cover


def questions(step: FailedStep, facts: Facts) -> Questions:
    """The lookups in the last good layer that could change this step's diagnosis."""
    case = _case(step, facts)
    if not case.runs_command:
        return Questions()
    commands: list[str] = []
    paths: list[str] = []
    names: list[str] = []
    missing = _missing_program(case)
    if missing is not None:
        program = missing[0]
        commands.append(program)
        if "/" in program:
            paths.append(program)
            names.append(posixpath.basename(program))
        else:
            commands += ALTERNATIVES.get(program, ())
            names.append(program)
    for pattern in (_EXEC_FORMAT, _ELF_AS_SCRIPT):
        hit = case.last(pattern)
        if hit is not None:
            commands.append(next(g for g in hit[0].groups() if g))
    denied = case.last(_DENIED)
    if denied is not None and (path := _denied_path(denied[1])):
        paths.append(path)
    lost = _missing_path(case)
    if lost is not None and lost[0]:
        paths.append(lost[0])
        names.append(posixpath.basename(lost[0]))
    apt = case.last(_APT_UNABLE) or case.last(_APT_NO_CANDIDATE)
    return Questions(
        commands=_unique(commands),
        paths=_unique(paths),
        names=_unique(n for n in names if n),
        probe=apt is not None,
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return tuple(out)


def banner_text(diagnosis: Diagnosis) -> str:
    """The diagnosis for the session banner: the class and summary, then the first hint."""
    text = f"{diagnosis.class_}: {diagnosis.summary}"
    if diagnosis.hints:
        text += f"\n    hint: {diagnosis.hints[0]}"
    return text

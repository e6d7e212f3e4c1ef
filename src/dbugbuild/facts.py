"""Gather what a diagnosis needs beyond the log, then diagnose: the build context's .dockerignore
and file names, and a bounded, read-only look inside the last good layer through the engine.

Best effort: a fact that cannot be had is left out, never an error. The look inside the
layer is one probe container (engine.Engine.probe): read-only, no network, removed and
never committed, killed after a few seconds. Composing its script and reading its output
are pure functions here; the rules themselves are diagnosis.py's.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace

from dbugbuild import diagnosis
from dbugbuild.diagnosis import Facts, FileHead, LayerFacts, PathInfo, Questions
from dbugbuild.dockerfile import Dockerfile
from dbugbuild.engine import Engine
from dbugbuild.errors import DbugbuildError
from dbugbuild.report import Report

PROBE_TIMEOUT = 10.0  # seconds; the probe's finds are bounded too (depth, count)
MAX_CONTEXT_FILES = 20_000  # names listed from the build context for "did you mean"
MAX_DOCKERIGNORE = 1 << 20  # bytes


def explain(
    report: Report,
    *,
    dockerfile: Dockerfile | None,
    dockerfile_text: str | None,
    in_trigger: bool,
    context: str,
    context_dir: str | None,
    engine: Callable[[], Engine | None],
    timeout: float = PROBE_TIMEOUT,
) -> Report:
    """The report with its diagnosis (None on success). `engine` is called only when a look
    inside the last good layer could change the diagnosis and there is such a layer."""
    step = report.failed_step
    if step is None:
        return replace(report, diagnosis=None)
    facts = Facts(
        dockerfile=dockerfile,
        dockerfile_text=dockerfile_text,
        in_trigger=in_trigger,
        context=context,
    )
    if step.instruction in ("COPY", "ADD") and step.exit_code is None and context_dir:
        ignore, files = context_facts(context_dir)
        facts = replace(facts, dockerignore=ignore, context_files=files)
    asked = diagnosis.questions(step, facts)
    if asked.layer and report.last_good_image:
        eng = engine()
        if eng is not None:
            facts = replace(facts, layer=layer_facts(eng, report.last_good_image, asked, timeout))
    return replace(report, diagnosis=diagnosis.diagnose(step, facts))


def context_facts(context_dir: str) -> tuple[str | None, tuple[str, ...] | None]:
    """(.dockerignore text or None, the context's file names relative to it, bounded)."""
    ignore: str | None = None
    try:
        with open(os.path.join(context_dir, ".dockerignore"), "rb") as fh:
            ignore = fh.read(MAX_DOCKERIGNORE).decode("utf-8", errors="replace")
    except OSError:
        ignore = None
    files: list[str] = []
    try:
        for root, dirs, names in os.walk(context_dir):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            rel = os.path.relpath(root, context_dir)
            for name in sorted(names):
                files.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
            if len(files) >= MAX_CONTEXT_FILES:
                break
    except OSError:
        return ignore, None
    return ignore, tuple(files[:MAX_CONTEXT_FILES])


def layer_facts(engine: Engine, image: str, asked: Questions, timeout: float) -> LayerFacts | None:
    """Look inside `image` for what `asked` wants; None when nothing could be learnt."""
    try:
        config = engine.image_config(image)
        if config is None:
            return None
        user = str(config.get("User") or "")
        workdir = str(config.get("WorkingDir") or "/")
        script = probe_script(asked, workdir, user)
        result = engine.probe(
            image, ["/bin/sh", "-c", script], f"probe-{uuid.uuid4().hex[:12]}", timeout
        )
    except DbugbuildError:
        return None
    if result is None:
        return None
    return parse_probe(result.output, image=image, user=user, workdir=workdir)


# -- the probe: a POSIX sh script (busybox ash, dash, bash) and its tab-separated answers ----

_PROBE_HEAD = r"""
say() { printf '%s\t%s\n' "$1" "$2"; }
stat_path() {
  if [ -e "$1" ] || [ -L "$1" ]; then
    say path "$1	$(stat -c '%U:%G	%a	%F' "$1" 2>/dev/null)"
  else
    say path "$1	-"
  fi
}
on_path() {
  for d in $(echo "$PATH" | tr ':' ' '); do
    if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then echo "$d/$1"; return 0; fi
  done
  return 1
}
head_of() {
  [ -f "$1" ] || return 0
  say head "$1	$(head -c 128 "$1" | od -An -tx1 -v | tr -d ' \n')"
  set -- $(head -n 1 "$1" | tr -d '\r' | sed -n 's/^#![ ]*//p')
  [ -n "$1" ] && stat_path "$1"
  return 0
}
say machine "$(uname -m 2>/dev/null)"
if [ -r /etc/os-release ]; then
  say os "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
elif [ -e /bin/busybox ]; then
  say os busybox
fi
for pm in apt-get apk dnf microdnf yum zypper pacman; do
  command -v "$pm" >/dev/null 2>&1 && say pm "$pm"
done
if command -v apt-get >/dev/null 2>&1; then
  say apt_lists "$(ls /var/lib/apt/lists 2>/dev/null | grep -c _Packages)"
fi
"""


def probe_script(asked: Questions, workdir: str, user: str) -> str:
    """The probe's shell script for these questions (names and paths are shell-quoted)."""
    q = shlex.quote
    lines = [_PROBE_HEAD.strip()]
    if user:
        lines.append(f'say id "$(id {q(user)} 2>/dev/null)"')
    for name in asked.commands:
        if "/" in name:
            lines.append(f"head_of {q(_absolute(name, workdir))}")
            continue
        # `command -v` names only the applet in busybox ash: walk PATH as exec would.
        lines.append(f'p=$(on_path {q(name)}) && {{ say command {q(name)}"\t$p"; head_of "$p"; }}')
    names = [n for n in asked.names if n and "/" not in n]
    for name in names:
        # Versioned or suffixed names on PATH: python3.11, gcc-12.
        lines.append(
            'for d in $(echo "$PATH" | tr ":" " "); do '
            f'for f in "$d"/{q(name)}?*; do [ -x "$f" ] && say similar "$f"; done; done'
        )
    for path in _with_parents(_absolute(p, workdir) for p in asked.paths):
        lines.append(f"stat_path {q(path)}")
    if names:
        tests = " -o ".join(f"-name {q(n)}" for n in dict.fromkeys(names))
        lines.append(
            f"find / -xdev -maxdepth 6 \\( {tests} \\) -type f 2>/dev/null | head -n 20 | "
            'while IFS= read -r f; do say elsewhere "$f"; done'
        )
    return "\n".join(lines) + "\n"


def _absolute(path: str, workdir: str) -> str:
    return posixpath.normpath(posixpath.join(workdir or "/", path))


def _with_parents(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for path in paths:
        while path not in out:
            out.append(path)
            if path == "/":
                break
            path = posixpath.dirname(path)
    return out


def parse_probe(output: str, *, image: str, user: str, workdir: str) -> LayerFacts:
    """The probe's `key<TAB>value` lines as LayerFacts (unknown or cut-off lines are skipped)."""
    machine = os_name = user_id = None
    managers: list[str] = []
    apt_lists: int | None = None
    commands: list[tuple[str, str]] = []
    similar: list[str] = []
    elsewhere: list[str] = []
    paths: list[PathInfo] = []
    heads: list[FileHead] = []
    for line in output.splitlines():
        key, _, value = line.partition("\t")
        if key == "machine":
            machine = value or None
        elif key == "os":
            os_name = value or None
        elif key == "id":
            user_id = value or None
        elif key == "pm":
            managers.append(value)
        elif key == "apt_lists" and value.strip().isdigit():
            apt_lists = int(value)
        elif key == "command" and "\t" in value:
            name, _, where = value.partition("\t")
            commands.append((name, where))
        elif key == "similar":
            similar.append(value)
        elif key == "elsewhere":
            elsewhere.append(value)
        elif key == "path":
            paths.append(_path_info(value))
        elif key == "head":
            path, _, hexed = value.partition("\t")
            heads.append(file_head(path, _unhex(hexed)))
    on_path = {where for _, where in commands}
    return LayerFacts(
        image=image,
        machine=machine,
        os=os_name,
        user=user,
        user_id=user_id,
        workdir=workdir,
        package_managers=tuple(m for m in diagnosis.PACKAGE_MANAGERS if m in managers),
        apt_lists=apt_lists,
        commands=tuple(commands),
        similar=tuple(dict.fromkeys(similar)),
        elsewhere=tuple(p for p in dict.fromkeys(elsewhere) if p not in on_path),
        paths=tuple(dict.fromkeys(paths)),
        heads=tuple(heads),
    )


def _path_info(value: str) -> PathInfo:
    parts = value.split("\t")
    if len(parts) < 2 or parts[1] == "-":
        return PathInfo(parts[0], False)
    owner, mode, kind = [*parts, "", "", ""][1:4]
    return PathInfo(parts[0], True, kind or None, owner or None, mode or None)


def _unhex(text: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        return b""


def file_head(path: str, data: bytes) -> FileHead:
    """What the first bytes of a program file say: an ELF machine, or a `#!` line and its end."""
    if data.startswith(b"\x7fELF") and len(data) >= 20:
        big = data[5] == 2  # EI_DATA: 1 little-endian, 2 big-endian
        return FileHead(path, None, False, int.from_bytes(data[18:20], "big" if big else "little"))
    if data.startswith(b"#!"):
        first = data.split(b"\n", 1)[0]
        shebang = first[2:].rstrip(b"\r").strip().decode("utf-8", errors="replace")
        return FileHead(path, shebang, first.endswith(b"\r"), None)
    return FileHead(path, None, False, None)

"""PURE: the probe protocol: the one POSIX sh script that looks inside the last good layer for
what the rules ask (Questions), and the reading of its tab-separated answer (LayerFacts).

The script runs in any /bin/sh (busybox ash, dash, bash) and only reads; names and paths
are shell-quoted. Running it is the engine's (a read-only, network-less container that is
removed and never committed); this module only writes and reads text.
"""

from __future__ import annotations

import shlex

from dbugbuild.diagnosis.facts import FileHead, LayerFacts, PathInfo, Questions
from dbugbuild.diagnosis.paths import absolute, with_parents
from dbugbuild.diagnosis.tables import PACKAGE_MANAGERS

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
            lines.append(f"head_of {q(absolute(name, workdir))}")
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
    for path in with_parents(absolute(p, workdir) for p in asked.paths):
        lines.append(f"stat_path {q(path)}")
    if names:
        tests = " -o ".join(f"-name {q(n)}" for n in dict.fromkeys(names))
        lines.append(
            f"find / -xdev -maxdepth 6 \\( {tests} \\) -type f 2>/dev/null | head -n 20 | "
            'while IFS= read -r f; do say elsewhere "$f"; done'
        )
    return "\n".join(lines) + "\n"


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
        package_managers=tuple(m for m in PACKAGE_MANAGERS if m in managers),
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

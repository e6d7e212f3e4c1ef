"""I/O: the diagnosis' look inside a layer without a container: the probe's script
(diagnosis/probe.py) answered from the layer's overlay folders on this machine (layerfs.py),
as the same text the script prints in a probe container, read by the same parse_probe.

It must never answer otherwise than the container would: whatever it cannot match exactly
(a path the container runtime puts there, a foreign architecture, a locale, a PATH the shell
would read otherwise, more than find's 20 hits) raises Unsure, and the caller starts the
probe container instead. Nothing is written, nothing on the host outside the layer followed.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Mapping
from typing import Any

from dbugbuild.diagnosis import LayerFacts, Questions, parse_probe
from dbugbuild.diagnosis.paths import absolute, with_parents
from dbugbuild.diagnosis.tables import PACKAGE_MANAGERS
from dbugbuild.engine.layerfs import Entry, Union, Unsure

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # both engines'
_CUT = 65536  # what the container look keeps of its output (probe.py, podlook.py)
_MACHINES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
             "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip
# What the container runtime puts in the container's root (moby's initlayer, runc's mounts,
# Podman's bind mounts of hosts, hostname, .containerenv, secrets), and the folders it makes
# when the layer lacks them: a look at any of these is left to the container.
_RUNTIME = {(".dockerenv",), ("etc", "hosts"), ("etc", "hostname"), ("etc", "resolv.conf"),
            ("etc", "mtab"), ("run", ".containerenv")}  # fmt: skip
_MOUNTS = {("dev",), ("proc",), ("sys",), ("run", "secrets")}
_MADE = {("etc",), ("run",)}
_RUNTIME_NAMES = {p[-1] for p in _RUNTIME} | {"console"}
_GLOB = re.compile(r"[*?\[\\]")
_C_LOCALES = ("", "C", "POSIX", "C.UTF-8", "C.utf8")
_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symbolic link"),
          (stat.S_ISCHR, "character special file"), (stat.S_ISBLK, "block special file"),
          (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"))  # fmt: skip
_MAX_FOUND = 20  # find ... | head -n 20: which 20 of more would depend on readdir's order


def overlay_layers(driver: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The layer's folders, top first, from an image inspect's GraphDriver (Docker's overlay2,
    Podman's overlay); None for any other store."""
    if not driver or driver.get("Name") not in ("overlay2", "overlay"):
        return None
    data = driver.get("Data") or {}
    upper = str(data.get("UpperDir") or "")
    lowers = [d for d in str(data.get("LowerDir") or "").split(":") if d]
    return (upper, *lowers) if upper.startswith("/") else None


def fast_layer_facts(
    driver: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    arch: str,
    image: str,
    asked: Questions,
) -> LayerFacts | None:
    """The probe's answer read from the layer's folders (an inspect's GraphDriver names them);
    None when it cannot be matched here (the caller then asks a probe container)."""
    layers = overlay_layers(driver)
    if layers is None or driver is None:
        return None
    user = str(config.get("User") or "")
    workdir = str(config.get("WorkingDir") or "/")
    # A container's `/` is its own layer's root: moby's overlay2 makes it 0755 root:root
    # whatever the image's top layer root says (overlay2/overlay.go create); Podman's store
    # copies the parent's (containers/storage overlay create).
    fixed_root = driver.get("Name") == "overlay2"
    try:
        text = _Look(Union(layers), config, arch, workdir, fixed_root).answer(asked, user)
    except (OSError, ValueError):  # Unsure, a folder gone, a permission, a NUL in a name
        return None
    output = os.fsencode(text)[:_CUT].decode("utf-8", errors="replace")
    return parse_probe(output, image=image, user=user, workdir=workdir)


class _Look:
    """The script's questions, one method each, answered as its shell and tools would."""

    def __init__(
        self, fs: Union, config: Mapping[str, Any], arch: str, workdir: str, fixed_root: bool
    ) -> None:
        self.fs, self.fixed_root = fs, fixed_root
        if fs.root.st.st_uid or fs.root.st.st_gid:  # a remapped store (userns-remap, rootless)
            raise Unsure("the layer's ids are mapped: not the container's")
        env = dict(str(e).partition("=")[::2] for e in config.get("Env") or ())
        for name, value in env.items():
            if (name.startswith("LC_") or name in ("LANG", "LANGUAGE")) and (
                value not in _C_LOCALES
            ):
                raise Unsure("a locale: stat's words may be translated")
        if "IFS" in env:
            raise Unsure("IFS set")
        path = env.get("PATH", DEFAULT_PATH)
        self.path = path.split(":")
        if any(not d.startswith("/") or _GLOB.search(d) or re.search(r"\s", d) for d in self.path):
            raise Unsure("a PATH the shell reads otherwise (empty, relative or glob entries)")
        if _MACHINES.get(os.uname().machine) != arch:
            raise Unsure("another architecture: uname -m may be emulated")
        self.workdir = workdir
        where = self.fs.resolve(workdir)
        if where is None or not where[1].is_dir:
            raise Unsure("no WORKDIR: the engine makes it")
        shell = self.fs.resolve("/bin/sh")
        if shell is None or not _runs(shell[1]):
            raise Unsure("no /bin/sh: the container look cannot start either")
        self.users = self._table("/etc/passwd", 7)
        self.groups = self._table("/etc/group", 4)
        self.out: list[str] = []

    def answer(self, asked: Questions, user: str) -> str:
        self.need("uname", "sed", "tr")
        self.say("machine", os.uname().machine)
        self.os_release()
        managers = [pm for pm in PACKAGE_MANAGERS if self.command_v(pm)]
        for pm in managers:
            self.say("pm", pm)
        if "apt-get" in managers:
            self.need("ls", "grep")
            self.say("apt_lists", str(self.apt_lists()))
        if user:
            self.need("id")
            self.say("id", self.id_of(user))
        for name in asked.commands:
            if "/" in name:
                self.head_of(absolute(name, self.workdir))
                continue
            found = self.on_path(name)
            if found is not None:
                self.say("command", f"{name}\t{found}")
                self.head_of(found)
        names = [n for n in asked.names if n and "/" not in n]
        for name in names:
            self.similar(name)
        for path in with_parents(absolute(p, self.workdir) for p in asked.paths):
            self.stat_path(path)
        if names:
            self.need("find", "head")
            for found in self.find(tuple(dict.fromkeys(names))):
                self.say("elsewhere", found)
        return "".join(self.out)

    def say(self, key: str, value: str) -> None:
        self.out.append(f"{key}\t{value}\n")

    def need(self, *tools: str) -> None:
        for tool in tools:
            if self.on_path(tool) is None:
                raise Unsure(f"no {tool} on PATH")

    # -- the shell's lookups ------------------------------------------------------------

    def lookup(self, path: str, follow: bool = True) -> Entry | None:
        if not path.startswith("/"):
            path = posixpath.join(self.workdir, path)  # the container's cwd (walked physically)
        found = self.fs.resolve(path, follow, self._guard)
        return found[1] if found is not None else None

    def _guard(self, here: tuple[str, ...]) -> None:
        if here in _RUNTIME or here[:1] in _MOUNTS or here[:2] in _MOUNTS:
            raise Unsure("a path the container runtime provides")
        if here in _MADE and self.fs.entry(here) is None:
            raise Unsure("a folder the engine makes when the layer lacks it")

    def on_path(self, name: str) -> str | None:
        """on_path's walk: `[ -f "$d/$1" ] && [ -x "$d/$1" ]`, the first such."""
        for folder in self.path:
            candidate = f"{folder}/{name}"
            found = self.lookup(candidate)
            if found is not None and found.is_file and _runs(found):
                return candidate
        return None

    def command_v(self, name: str) -> bool:
        """`command -v`: ash and dash take the first regular file on PATH, x bits or not
        (bash wants them): a file without any is left to the container."""
        for folder in self.path:
            found = self.lookup(f"{folder}/{name}")
            if found is not None and found.is_file:
                if not _runs(found):
                    raise Unsure(f"{name} without x bits: shells differ")
                return True
        return False

    # -- the script's answers -----------------------------------------------------------

    def os_release(self) -> None:
        found = self.lookup("/etc/os-release")
        if found is None:
            if self.lookup("/bin/busybox") is not None:
                self.say("os", "busybox")
            return
        if found.is_dir:
            self.say("os", "")  # sed cannot read it
            return
        if not found.is_file or found.st.st_size > 1 << 20:
            raise Unsure("an odd /etc/os-release")
        data = self.fs.read_head(found, 1 << 20)
        values = [line[12:] for line in data.split(b"\n") if line.startswith(b"PRETTY_NAME=")]
        value = b"\n".join(values).replace(b'"', b"").rstrip(b"\n")  # $(...) drops the last
        if b"\0" in value:
            raise Unsure("a NUL byte, which the shell drops")
        self.say("os", os.fsdecode(value))

    def apt_lists(self) -> int:
        """`ls /var/lib/apt/lists | grep -c _Packages`."""
        found = self.lookup("/var/lib/apt/lists")
        if found is None or not found.is_dir:
            return 0
        names = [n for n in self.fs.names(found) if not n.startswith(".")]
        if any("\n" in n for n in names):
            raise Unsure("a name with a newline")
        return sum("_Packages" in n for n in names)

    def id_of(self, user: str) -> str:
        """`id USER` of a user named in the layer's /etc/passwd (as busybox and GNU print it)."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", user):
            raise Unsure("a USER that is a number or has a group")
        entry = next((f for f in self._lines("/etc/passwd", 7) if f[0] == user), None)
        if entry is None:
            return ""  # id: unknown user
        uid, gid = int(entry[2]), int(entry[3])
        groups = [gid]
        for fields in self._lines("/etc/group", 4):
            if user in fields[3].split(",") and int(fields[2]) not in groups:
                groups.append(int(fields[2]))
        listed = ",".join(f"{g}{self._named(self.groups, g)}" for g in groups)
        return (
            f"uid={uid}{self._named(self.users, uid)} gid={gid}{self._named(self.groups, gid)}"
            f" groups={listed}"
        )

    def head_of(self, path: str) -> None:
        found = self.lookup(path)
        if found is None or not found.is_file:
            return
        self.need("head", "od")
        head = self.fs.read_head(found, 65536)
        self.say("head", f"{path}\t{head[:128].hex()}")
        if not head.startswith(b"#!"):
            return  # sed prints nothing: `set --` empties $1
        line, newline, _ = head.partition(b"\n")
        if not newline and found.st.st_size > len(head):
            raise Unsure("a first line longer than read")
        words = re.split(rb"[ \t]+", line[2:].replace(b"\r", b"").strip(b" \t"))
        if not words[0]:
            return
        if b"\0" in line or _GLOB.search(os.fsdecode(words[0])):
            raise Unsure("a shebang the shell would expand")
        self.stat_path(os.fsdecode(words[0]))

    def similar(self, name: str) -> None:
        """`for f in "$d"/NAME?*; do [ -x "$f" ] && say similar "$f"; done` for each PATH entry."""
        for folder in self.path:
            where = self.lookup(folder)
            matches = (
                sorted(
                    (n for n in self.fs.names(where) if n.startswith(name) and n != name),
                    key=os.fsencode,
                )
                if where is not None and where.is_dir
                else []
            )
            for candidate in [f"{folder}/{n}" for n in matches] or [f"{folder}/{name}?*"]:
                found = self.lookup(candidate)
                if found is not None and _runs(found):
                    self.say("similar", candidate)

    def stat_path(self, path: str) -> None:
        """`[ -e ] || [ -L ]`, then `stat -c '%U:%G\t%a\t%F'` (busybox and GNU: the same words,
        UNKNOWN for an id the layer does not name)."""
        if path.endswith("/") and path != "/":
            raise Unsure("a trailing slash")
        found = self.lookup(path, follow=False)
        if found is None:
            self.say("path", f"{path}\t-")
            return
        self.need("stat")
        st = found.st
        mode, uid, gid = st.st_mode, st.st_uid, st.st_gid
        if found is self.fs.root and self.fixed_root:
            mode, uid, gid = stat.S_IFDIR | 0o755, 0, 0
        kind = next((k for test, k in _KINDS if test(mode)), None)
        if kind is None:
            kind = "regular empty file" if st.st_size == 0 else "regular file"
        user = self._name(self.users, uid)
        group = self._name(self.groups, gid)
        self.say("path", f"{path}\t{user}:{group}\t{stat.S_IMODE(mode):o}\t{kind}")

    def find(self, names: tuple[str, ...]) -> list[str]:
        """`find / -xdev -maxdepth 6 \\( -name ... \\) -type f`: not into the runtime's mounts."""
        if any(_GLOB.search(n) or n in _RUNTIME_NAMES for n in names):
            raise Unsure("a name find would match as a pattern, or the runtime's file")
        wanted = set(names)
        found: list[str] = []
        todo: list[tuple[tuple[str, ...], Entry]] = [((), self.fs.root)]
        while todo:
            parts, folder = todo.pop()
            for name, entry in sorted(self.fs.names(folder).items(), reverse=True):
                here = (*parts, name)
                if here in _MOUNTS or here[:1] in _MOUNTS:
                    continue
                if name in wanted and entry.is_file:
                    found.append("/" + "/".join(here))
                if entry.is_dir and len(here) < 6:
                    todo.append((here, entry))
        if len(found) > _MAX_FOUND:
            raise Unsure("more hits than head keeps")
        return found

    # -- the layer's names --------------------------------------------------------------

    def _lines(self, path: str, fields: int) -> list[list[str]]:
        """The layer's /etc/passwd (7 fields) or /etc/group (4) as its libc reads them; any
        line that parser might read otherwise is left to the container."""
        found = self.lookup(path)
        if found is None or not found.is_file:
            return []
        text = os.fsdecode(self.fs.read_head(found, 1 << 22))
        rows = [line.split(":") for line in text.split("\n") if line]
        for row in rows:
            numbers = row[2:4] if fields == 7 else row[2:3]  # uid and gid; a group's gid
            if len(row) != fields or not all(n.isdigit() for n in numbers):
                raise Unsure(f"a line of {path} libc may read otherwise")
        return rows

    def _table(self, path: str, fields: int) -> dict[int, str]:
        table: dict[int, str] = {}
        for row in self._lines(path, fields):
            table.setdefault(int(row[2]), row[0])  # getpwuid, getgrgid: the first line
        return table

    def _name(self, table: dict[int, str], number: int) -> str:
        if number == 0 and 0 not in table:
            raise Unsure("no root in the layer's users: Podman may add one")
        return table.get(number, "UNKNOWN")

    @staticmethod
    def _named(table: dict[int, str], number: int) -> str:
        return f"({table[number]})" if number in table else ""


def _runs(entry: Entry) -> bool:
    """test -x as root: any x bit (busybox's and dash's test)."""
    return bool(entry.st.st_mode & 0o111)

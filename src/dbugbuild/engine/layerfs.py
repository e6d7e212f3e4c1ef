"""I/O: a layer's overlay union read on the host, read-only, as the kernel's overlayfs shows it
in a container: the layer's directories (Docker's overlay2 and Podman's overlay store them as
plain folders, top first), looked up top down, whiteouts and opaque folders hiding what is below.

Only reads (lstat, readdir, getxattr, a file's first bytes); symlinks are resolved inside the
layer's root, never on the host's. Anything it cannot answer as the mount would raises
Unsure (an OSError, as a folder vanishing under it does): the caller then starts a container.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

MAX_LINKS = 40  # the kernel's MAXSYMLINKS: a path walk following more fails with ELOOP
# overlayfs(5): a folder whose lower entries are hidden says so in this xattr ("y"), or (the
# tar form image layers arrive in, moby's archive/whiteouts.go) holds this marker file.
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_OPAQUE_MARKER = ".wh..wh..opq"
_WHITEOUT = ".wh."  # `.wh.<name>` hides <name> below (the AUFS form, kept in image tars)
_METACOPY = ("trusted.overlay.metacopy", "user.overlay.metacopy")  # data in a lower layer


class Unsure(OSError):
    """The union holds something this reader does not answer as the kernel would."""


class Entry:
    """A name found in the union: its kind, the layer folders it is in (one for a non-folder,
    top first and merged for a folder), and its lstat (read when first asked for)."""

    __slots__ = ("_st", "kind", "where")

    def __init__(self, where: tuple[str, ...], kind: int, st: os.stat_result | None = None):
        self.where, self.kind, self._st = where, kind, st

    @property
    def st(self) -> os.stat_result:
        if self._st is None:
            self._st = os.lstat(self.where[0])
        return self._st

    @property
    def is_dir(self) -> bool:
        return self.kind == stat.S_IFDIR

    @property
    def is_link(self) -> bool:
        return self.kind == stat.S_IFLNK

    @property
    def is_file(self) -> bool:
        return self.kind == stat.S_IFREG


def _is_whiteout(st: os.stat_result) -> bool:
    """overlayfs' whiteout: a character device 0:0."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError as exc:
            if exc.errno not in (61, 95):  # ENODATA, EOPNOTSUPP: not set
                raise
    return os.path.lexists(os.path.join(path, _OPAQUE_MARKER))


class Union:
    """The merged tree of layer folders (top first), as a read-only overlay mount of them."""

    def __init__(self, layers: tuple[str, ...]) -> None:
        for layer in layers:
            if not os.path.isdir(layer):
                raise Unsure(f"no layer folder {layer}")
        self.layers = layers
        self._root = Entry(layers, stat.S_IFDIR)
        self._cache: dict[tuple[str, ...], Entry | None] = {(): self._root}

    @property
    def root(self) -> Entry:
        return self._root

    def entry(self, parts: tuple[str, ...]) -> Entry | None:
        """The entry at these path components (none of them a symlink but perhaps the last)."""
        if parts in self._cache:
            return self._cache[parts]
        parent = self.entry(parts[:-1])
        found = self._child(parent, parts[-1]) if parent is not None and parent.is_dir else None
        self._cache[parts] = found
        return found

    def _child(self, parent: Entry, name: str) -> Entry | None:
        for index, folder in enumerate(parent.where):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if os.path.lexists(os.path.join(folder, _WHITEOUT + name)):
                    return None
                continue
            if _is_whiteout(st):
                return None
            if not stat.S_ISDIR(st.st_mode):  # a non-folder hides everything below it
                return Entry((path,), stat.S_IFMT(st.st_mode), st)
            return self._merged(path, name, parent.where[index + 1 :], st)
        return None

    @staticmethod
    def _merged(
        path: str, name: str, lower: tuple[str, ...], st: os.stat_result | None = None
    ) -> Entry:
        """A folder found at `path` and merged with its namesakes in the `lower` folders of
        its parent, down to an opaque one, a whiteout or a non-folder (which hide the rest)."""
        where = [path]
        if lower and not _opaque(path):
            for folder in lower:
                below = os.path.join(folder, name)
                try:
                    found = os.lstat(below)
                except FileNotFoundError:
                    if os.path.lexists(os.path.join(folder, _WHITEOUT + name)):
                        break
                    continue
                if _is_whiteout(found) or not stat.S_ISDIR(found.st_mode):
                    break
                where.append(below)
                if folder != lower[-1] and _opaque(below):
                    break
        return Entry(tuple(where), stat.S_IFDIR, st)

    def names(self, entry: Entry) -> dict[str, Entry]:
        """A folder's merged listing (no `.`, `..`, whiteouts or markers), each name's entry."""
        seen: dict[str, Entry | None] = {}
        for index, folder in enumerate(entry.where):
            with os.scandir(folder) as listing:
                for item in listing:
                    name = item.name
                    if name == _OPAQUE_MARKER:
                        continue
                    if name.startswith(_WHITEOUT):
                        seen.setdefault(name[len(_WHITEOUT) :], None)
                        continue
                    if name in seen:
                        continue
                    # the kind from readdir's d_type: no stat for most entries
                    if item.is_symlink():
                        seen[name] = Entry((item.path,), stat.S_IFLNK)
                    elif item.is_dir(follow_symlinks=False):
                        seen[name] = self._merged(item.path, name, entry.where[index + 1 :])
                    elif item.is_file(follow_symlinks=False):
                        seen[name] = Entry((item.path,), stat.S_IFREG)
                    else:
                        st = item.stat(follow_symlinks=False)
                        kind = stat.S_IFMT(st.st_mode)
                        seen[name] = None if _is_whiteout(st) else Entry((item.path,), kind, st)
        return {name: found for name, found in seen.items() if found is not None}

    def resolve(
        self,
        path: str,
        follow: bool = True,
        guard: Callable[[tuple[str, ...]], None] | None = None,
    ) -> tuple[tuple[str, ...], Entry] | None:
        """The canonical components of an absolute path and its entry, symlinks followed inside
        the layer (the last one only when `follow`); None where the kernel's lookup fails
        (ENOENT, ENOTDIR, ELOOP). `guard` sees each path walked (it may raise Unsure)."""
        if not path.startswith("/"):
            raise Unsure("a relative path")
        todo = [p for p in path.split("/") if p]
        if path.endswith("/") and path != "/":
            raise Unsure("a path with a trailing slash")
        done: tuple[str, ...] = ()
        links = 0
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                done = done[:-1]  # `..` of the root is the root
                continue
            here = (*done, part)
            if guard is not None:
                guard(here)
            found = self.entry(here)
            if found is None:
                return None
            if found.is_link and (todo or follow):
                links += 1
                if links > MAX_LINKS:
                    return None
                target = os.readlink(found.where[0])
                if target.startswith("/"):
                    done = ()
                todo[:0] = [p for p in target.split("/") if p]
                continue
            if todo and not found.is_dir:
                return None
            done = here
        found = self.entry(done)
        return (done, found) if found is not None else None

    def read_head(self, entry: Entry, size: int) -> bytes:
        """The first bytes of a regular file (its data must be in its own layer)."""
        for name in _METACOPY:
            try:
                os.getxattr(entry.where[0], name, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (61, 95):
                    raise
                continue
            raise Unsure("a metacopy file: its data is in a lower layer")
        with open(entry.where[0], "rb") as file:
            return file.read(size)

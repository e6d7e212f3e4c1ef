"""PURE: a RUN's BuildKit flags: `--mount=...` (every type and key), `--network`, `--security`.

Read as BuildKit's Dockerfile frontend reads them (moby/buildkit frontend/dockerfile/
instructions/commands_runmount.go `parseMount`, dockerfile2llb/convert_runmount.go and
convert_secrets.go / convert_ssh.go for the defaults), so the debug container can emulate
them. Must not do I/O, print, or read the environment or the clock.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
# The keys parseMount knows; `env` (a secret as an environment variable) is Dockerfile 1.10's.
_KEYS = frozenset(
    {"type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
     "readwrite", "rw", "required", "size", "id", "sharing", "mode", "uid", "gid", "env"}
)  # fmt: skip
# go-units RAMInBytes: a number, an optional binary unit (k = 1024), an optional i and b.
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp])?i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class RunFlagError(ValueError):
    """A RUN flag BuildKit would refuse; the message is BuildKit's wording where it has one."""


@dataclass(frozen=True)
class Mount:
    """One `--mount=` of a RUN, with BuildKit's defaults filled in."""

    type: str  # bind | cache | tmpfs | secret | ssh
    target: str  # absolute, WORKDIR applied; "" for a secret given only as `env`
    source: str  # the path in `from` (or the context), "" for its root
    from_: str | None  # a stage name or index, or an image; None: the build context
    readonly: bool
    id: str  # cache id, secret id or ssh id (their defaults applied); "" for bind/tmpfs
    sharing: str  # cache: shared | private | locked
    mode: int | None
    uid: int | None
    gid: int | None
    required: bool
    size: int | None  # tmpfs size in bytes
    env: str | None  # secret: the environment variable it is exposed as


@dataclass(frozen=True)
class RunFlags:
    """A RUN's flags as BuildKit reads them."""

    mounts: tuple[Mount, ...] = ()
    network: str | None = None  # none | host | default; None when not given
    security: str | None = None  # sandbox | insecure; None when not given


def parse_run_flags(
    flags: Sequence[str], workdir: str = "/", expand: Callable[[str], str] | None = None
) -> RunFlags:
    """The flags of a RUN (Instruction.flags, e.g. `--mount=type=cache,target=/x`).

    `workdir` makes relative mount targets absolute, as BuildKit does with the stage's
    WORKDIR; `expand` substitutes the ARGs and ENV in scope in the mount values.
    """
    mounts: list[Mount] = []
    network = security = None
    ssh_count = 0
    for flag in flags:
        name, eq, value = flag.removeprefix("--").partition("=")
        name = name.lower()
        if name == "mount":
            if not eq:
                raise RunFlagError("missing a value on flag: mount")
            mount = parse_mount(value, workdir, expand, ssh_index=ssh_count)
            ssh_count += mount.type == "ssh"
            mounts.append(mount)
        elif name == "network":
            if value not in NETWORK_MODES:
                raise RunFlagError(f"unsupported network mode {value!r}")
            network = value
        elif name == "security":
            if value not in SECURITY_MODES:
                raise RunFlagError(f"unsupported security mode {value!r}")
            security = value
        elif name == "device":
            continue  # CDI devices (Dockerfile 1.14 labs): not emulated, nothing to read here
        else:
            raise RunFlagError(f"unknown flag: {name}")
    return RunFlags(tuple(mounts), network, security)


def _bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RunFlagError(f"invalid value for {key}: {value}")


def _uint(key: str, value: str, base: int) -> int:
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(c not in digits for c in value) or int(value, base) >= 1 << 32:
        raise RunFlagError(f"invalid value {value} for {key}")
    return int(value, base)


def parse_size(value: str) -> int:
    """Bytes of a tmpfs `size` (go-units RAMInBytes: `64m` is 64 MiB)."""
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        raise RunFlagError(f"invalid value for size: {value}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def split_csv(value: str) -> list[str]:
    """The comma-separated fields of one CSV record, as Go's encoding/csv reads it (BuildKit
    reads the value with it): a field may be quoted, `""` is a quote inside one, and a quote
    anywhere else is an error."""
    fields: list[str] = []
    i, n = 0, len(value)
    while True:
        chars: list[str] = []
        if i < n and value[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise RunFlagError(
                        'failed to parse csv mounts: extraneous or missing " in quoted-field'
                    )
                if value[i] == '"':
                    if i + 1 < n and value[i + 1] == '"':
                        chars.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(value[i])
                i += 1
            if i < n and value[i] != ",":
                raise RunFlagError(
                    'failed to parse csv mounts: extraneous or missing " in quoted-field'
                )
        else:
            end = value.find(",", i)
            end = n if end < 0 else end
            chars.append(value[i:end])
            if '"' in chars[-1]:
                raise RunFlagError('failed to parse csv mounts: bare " in non-quoted-field')
            i = end
        fields.append("".join(chars))
        if i >= n:
            return fields
        i += 1  # the comma


def parse_mount(
    value: str,
    workdir: str = "/",
    expand: Callable[[str], str] | None = None,
    *,
    ssh_index: int = 0,
) -> Mount:
    """One `--mount=` value (without `--mount=`), BuildKit's defaults applied."""
    kind = "bind"
    got: dict[str, str] = {}
    readonly: bool | None = None
    required = False
    for field in split_csv(value):
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                readonly = True
            elif key in ("readwrite", "rw"):
                readonly = False
            elif key == "required":
                if kind not in ("secret", "ssh"):
                    raise RunFlagError(f"unexpected key '{key}' for mount type '{kind}'")
                required = True
            else:
                raise RunFlagError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key not in _KEYS:
            raise RunFlagError(f"unexpected key '{key}' in '{field}'")
        if key == "from" and re.search(r"\$.", val):
            raise RunFlagError(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        if expand is not None and key != "from":
            val = expand(val)
        if key == "type":
            kind = val.lower()
            if kind not in MOUNT_TYPES:
                raise RunFlagError(f"unsupported mount type {val!r}")
        elif key in ("readonly", "ro"):
            readonly = _bool(key, val)
        elif key in ("readwrite", "rw"):
            readonly = not _bool(key, val)
        elif key == "required":
            if kind not in ("secret", "ssh"):
                raise RunFlagError(f"unexpected key '{key}' for mount type '{kind}'")
            required = _bool(key, val)
        elif key == "size" and kind != "tmpfs":
            raise RunFlagError(f"unexpected key '{key}' for mount type '{kind}'")
        else:
            canonical = {"src": "source", "dst": "target", "destination": "target"}
            got[canonical.get(key, key)] = val
    return _validated(kind, got, readonly, required, workdir, ssh_index)


def _validated(
    kind: str,
    got: dict[str, str],
    readonly: bool | None,
    required: bool,
    workdir: str,
    ssh_index: int,
) -> Mount:
    mode = _uint("mode", got["mode"], 8) if "mode" in got else None
    uid = _uint("uid", got["uid"], 10) if "uid" in got else None
    gid = _uint("gid", got["gid"], 10) if "gid" in got else None
    if kind not in ("secret", "ssh", "cache"):
        for key, val in (("mode", mode), ("uid", uid), ("gid", gid)):
            if val is not None:
                raise RunFlagError(f"{key} not allowed for {kind!r} type mounts")
    if readonly is None:  # roAuto: caches and tmpfs are writable, the rest read-only
        readonly = kind not in ("cache", "tmpfs")
    sharing = got.get("sharing", "")
    if sharing and kind != "cache":
        raise RunFlagError(f"invalid cache sharing set for {kind} mount")
    if sharing.lower() not in ("", *SHARING_MODES):
        raise RunFlagError(f"unsupported sharing value {sharing!r}")
    if "env" in got and kind != "secret":
        raise RunFlagError(f"unexpected key 'env' for mount type '{kind}'")
    source, target, mount_id = got.get("source", ""), got.get("target", ""), got.get("id", "")
    from_ = got.get("from") or None
    if kind == "secret":
        if from_ is not None:
            raise RunFlagError("secret mount should not have a from")
        if not source and not target and not mount_id:
            raise RunFlagError("invalid secret mount. one of source, target required")
        if source and mount_id:
            raise RunFlagError("both source and id can't be set")
        mount_id = source or mount_id or posixpath.basename(target)
        source = ""
        if not target and "env" not in got:
            target = "/run/secrets/" + posixpath.basename(mount_id)
    elif kind == "ssh":
        if source:
            raise RunFlagError("ssh does not support source")
        mount_id = mount_id or "default"
        target = target or f"/run/buildkit/ssh_agent.{ssh_index}"
    elif not target:
        raise RunFlagError(f"{kind} mount requires a target")  # BuildKit: "... target required"
    if kind == "cache":
        mount_id = mount_id or target  # BuildKit: the id defaults to the target as written
    elif kind in ("bind", "tmpfs"):
        mount_id = ""
    if target and not target.startswith("/"):
        target = posixpath.join("/", workdir, target)
    target = "/" + posixpath.normpath(target).lstrip("/") if target else ""
    if target == "/":
        raise RunFlagError(f'invalid mount target "{target}"')
    return Mount(
        type=kind,
        target=target,
        source=posixpath.normpath("/" + source).lstrip("/") if source else "",
        from_=from_,
        readonly=readonly,
        id=mount_id,
        sharing=(sharing.lower() or "shared") if kind == "cache" else "",
        mode=mode,
        uid=uid,
        gid=gid,
        required=required,
        size=parse_size(got["size"]) if "size" in got else None,
        env=got.get("env"),
    )


def without_flags(written: str, count: int, escape: str = "\\") -> str:
    """A RUN's command as written (its keyword dropped) without its first `count` flag words
    and the line continuations between them: what a shell can run, the flags emulated."""
    text = written
    for _ in range(count):
        text = _skip_blanks(text, escape)
        if not text.startswith("--"):
            break
        end, quote = 0, ""
        while end < len(text):
            ch = text[end]
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch.isspace() or (ch == escape and text[end + 1 : end + 2] in ("\n", "\r")):
                break
            end += 1
        text = text[end:]
    return _skip_blanks(text, escape)


def _skip_blanks(text: str, escape: str) -> str:
    """`text` without leading blanks and line continuations (escape, then the line's end)."""
    while True:
        stripped = text.lstrip(" \t")
        if stripped.startswith(escape + "\r\n"):
            text = stripped[len(escape) + 2 :]
        elif stripped.startswith(escape + "\n"):
            text = stripped[len(escape) + 1 :]
        else:
            return stripped

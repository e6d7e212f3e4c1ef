"""A BuildKit RUN's `--mount` flags emulated in the debug containers, each said in the banner.

- bind: the build context's files (or a named `--build-context` folder) copied into a
  labelled volume, `.dockerignore` applied as the build applied it; a single file is bound
  read-only. `from=` a stage: that stage is built whole (a prefix build) and its folder
  copied into the volume by the daemon; `from=` an image: the same from the image.
- cache: one labelled volume per cache id, kept for the session, empty at first (BuildKit's
  cache is not reachable from outside the builder).
- secret: the `--secret` file bound read-only at its target, or its value as the variable
  of `env=`; never printed. A missing `required` one is said: BuildKit fails the step.
- ssh: the agent socket of `--ssh` bound at its target, SSH_AUTH_SOCK set to the first.
- tmpfs: a tmpfs.
Paths of this host can only be bound where the daemon runs here (Engine.is_local); on a
remote daemon those mounts are not made, and the banner says so.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dbugbuild.backends.base import BuildInputs
from dbugbuild.backends.sources import (
    SecretSource,
    SourceError,
    SSHSource,
    parse_contexts,
    secrets_by_id,
    ssh_by_id,
)
from dbugbuild.dockerfile.dockerignore import excluded_by
from dbugbuild.dockerfile.runflags import Mount as RunMount
from dbugbuild.engine import Engine, Mount
from dbugbuild.errors import BadInputError

MAX_COPY_FILES = 100_000  # files copied for one bind of the context; more is refused


@dataclass
class Emulated:
    """What the debug containers mount and see for a RUN's flags, and the banner's lines."""

    mounts: list[Mount] = field(default_factory=list)
    secret_env: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # SSH_AUTH_SOCK
    notes: list[str] = field(default_factory=list)
    temp_dirs: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temp_dirs:
            _remove_tree(path)


def _remove_tree(path: str) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(path)


@dataclass(frozen=True)
class MountContext:
    """What emulating the mounts needs: the daemon, the build's inputs, the layer's image (for
    helper containers), the session's labels and id, and how to get a stage's image."""

    engine: Engine
    inputs: BuildInputs
    image: str
    labels: dict[str, str]
    session: str
    stage_image: Callable[[str], str | None]  # a stage's name or index -> its image, or None


def emulate(mounts: tuple[RunMount, ...], ctx: MountContext) -> Emulated:
    """The debug containers' mounts for a RUN's `--mount` flags."""
    out = Emulated()
    opts = ctx.inputs.options
    try:
        secrets = secrets_by_id(getattr(opts, "secrets", ()), ctx.inputs.env)
        ssh = ssh_by_id(getattr(opts, "ssh", ()))
        contexts = parse_contexts(getattr(opts, "build_contexts", ()))
    except SourceError as exc:
        raise BadInputError(f"cannot read the build's options: {exc}", "Check them") from exc
    caches: dict[str, str] = {}
    for n, mount in enumerate(mounts):
        if mount.type == "tmpfs":
            out.mounts.append(Mount("tmpfs", mount.target, size=mount.size))
            out.notes.append(f"mount: tmpfs at {mount.target}")
        elif mount.type == "cache":
            _cache(mount, n, caches, ctx, out)
        elif mount.type == "bind":
            _bind(mount, n, contexts, ctx, out)
        elif mount.type == "secret":
            _secret(mount, secrets, ctx, out)
        elif mount.type == "ssh":
            _ssh(mount, ssh, ctx, out)
    first_ssh = next((m for m in mounts if m.type == "ssh"), None)
    if first_ssh is not None and any(m.target == first_ssh.target for m in out.mounts):
        out.env.append(f"SSH_AUTH_SOCK={first_ssh.target}")
    return out


def pipes_script(name: str, body: str, ctx: MountContext, out: Emulated) -> None:
    """A `RUN <<NAME` whose body starts with `#!`: BuildKit runs the body as an executable
    file it mounts at /dev/pipes/NAME; so does the debug container (a volume)."""
    folder = tempfile.mkdtemp(prefix="dbugbuild-pipes-")
    try:
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(body)
        os.chmod(path, 0o755)
        volume = _volume(ctx, "pipes", 0)
        ctx.engine.fill_volume(volume, ctx.image, [(path, name)], ctx.labels)
    finally:
        _remove_tree(folder)
    out.mounts.append(Mount("volume", "/dev/pipes", volume, read_only=True))
    out.notes.append(f"mount: the heredoc's #! script at /dev/pipes/{name}, as BuildKit runs it")


def _volume(ctx: MountContext, what: str, n: int) -> str:
    name = f"dbugbuild-{ctx.session}-{what}-{n}"
    return ctx.engine.create_volume(name, ctx.labels)


def _cache(
    mount: RunMount, n: int, caches: dict[str, str], ctx: MountContext, out: Emulated
) -> None:
    volume = caches.get(mount.id)
    owner = ""
    if volume is None:
        volume = caches[mount.id] = _volume(ctx, "cache", n)
        seeded = ""
        if {mount.uid, mount.gid, mount.mode} != {None}:
            # BuildKit makes the cache's folder with these (default root, 0755).
            uid, gid = mount.uid or 0, mount.gid or 0
            mode = mount.mode if mount.mode is not None else 0o755
            ctx.engine.own_volume(volume, uid, gid, mode, ctx.labels)
            owner = f", owned by {uid}:{gid} mode {mode:o}"
        if mount.from_ is not None:
            image = _image_of(mount.from_, ctx)
            if image is not None and ctx.engine.seed_volume(
                volume, image, "/" + mount.source, ctx.labels
            ):
                seeded = f", seeded from {mount.from_}:/{mount.source}"
    else:
        seeded = ""
    out.mounts.append(Mount("volume", mount.target, volume, read_only=mount.readonly))
    out.notes.append(
        f"mount: cache {mount.id!r} at {mount.target}{owner}: a volume kept for this session; "
        f"it starts empty{seeded}, unlike BuildKit's cache"
    )


def _image_of(ref: str, ctx: MountContext) -> str | None:
    """The image of `from=`: a stage of the Dockerfile (built), else a local image."""
    image = ctx.stage_image(ref)
    if image is not None:
        return image
    return ctx.engine.image_id(ref)


def _bind(
    mount: RunMount, n: int, contexts: dict[str, str], ctx: MountContext, out: Emulated
) -> None:
    mode = "read-only" if mount.readonly else "writable, its writes discarded as BuildKit does"
    where = mount.from_
    named = contexts.get(where) if where is not None else None
    if where is not None and named is not None and named.startswith("docker-image://"):
        where = named.removeprefix("docker-image://")
        named = None
    if where is not None and named is None:
        image = _image_of(where, ctx)
        if image is None:
            out.notes.append(f"mount: bind at {mount.target} NOT MADE: no stage or image {where}")
            return
        volume = _volume(ctx, "bind", n)
        if not ctx.engine.seed_volume(volume, image, "/" + mount.source, ctx.labels):
            out.notes.append(
                f"mount: bind at {mount.target} NOT MADE: {where}:/{mount.source} is not a "
                "folder (a file bind from a stage is not emulated)"
            )
            return
        out.mounts.append(Mount("volume", mount.target, volume, read_only=mount.readonly))
        out.notes.append(f"mount: bind {where}:/{mount.source} at {mount.target} ({mode})")
        return
    opts = ctx.inputs.options
    root = os.path.join(ctx.inputs.cwd, named if named is not None else opts.context)
    if named is not None and "://" in named:
        out.notes.append(f"mount: bind at {mount.target} NOT MADE: context {where} is {named}")
        return
    local = os.path.join(root, mount.source) if mount.source else root
    label = f"{where or 'context'}:{mount.source or '.'}"
    if not os.path.exists(local):
        out.notes.append(
            f"mount: bind at {mount.target} NOT MADE: {label} does not exist (BuildKit fails)"
        )
        return
    if not os.path.isdir(local):
        if not ctx.engine.is_local:
            out.notes.append(f"mount: bind {label} NOT MADE: {_REMOTE}")
            return
        out.mounts.append(Mount("bind", mount.target, os.path.abspath(local), read_only=True))
        out.notes.append(f"mount: bind {label} at {mount.target} (read-only)")
        return
    files = list(_context_files(root, mount.source, named is None))
    volume = _volume(ctx, "bind", n)
    ctx.engine.fill_volume(volume, ctx.image, files, ctx.labels)
    out.mounts.append(Mount("volume", mount.target, volume, read_only=mount.readonly))
    out.notes.append(
        f"mount: bind {label} at {mount.target} (a copy, .dockerignore applied; {mode})"
    )


_REMOTE = "the Docker daemon is not on this host, so a path here cannot be mounted"


def _context_files(root: str, source: str, main: bool) -> Iterator[tuple[str, str]]:
    """(local path, path in the volume) of the context's folder `source`, the context's
    .dockerignore applied (only the main context has one)."""
    ignore = None
    if main:
        try:
            with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as fh:
                ignore = fh.read()
        except OSError:
            ignore = None
    top = os.path.join(root, source) if source else root
    # A `!pattern` may bring back a file inside an excluded folder: then no folder is skipped.
    prune = ignore is not None and not any(
        line.strip().startswith("!") for line in ignore.splitlines()
    )
    count = 0
    for here, dirs, names in os.walk(top):
        rel_dir = os.path.relpath(here, root).replace(os.sep, "/")
        for name in sorted(dirs) + sorted(names):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if ignore is not None and excluded_by(ignore, rel) is not None:
                if name in dirs and prune:
                    dirs.remove(name)
                if name not in dirs:
                    continue
            count += 1
            if count > MAX_COPY_FILES:
                raise BadInputError(
                    f"the bind mount of {source or '.'} holds more than {MAX_COPY_FILES} files",
                    "Bind a smaller folder, or add the rest to .dockerignore",
                )
            inside = os.path.relpath(os.path.join(here, name), top).replace(os.sep, "/")
            yield os.path.join(here, name), inside


def _secret(
    mount: RunMount, secrets: dict[str, SecretSource], ctx: MountContext, out: Emulated
) -> None:
    source = secrets.get(mount.id)
    where = mount.target or f"${mount.env}"
    if source is None:
        if mount.required:
            out.notes.append(
                f"secret {mount.id!r}: NOT GIVEN (--secret id={mount.id},src=...) and "
                "required: BuildKit fails this step before running it"
            )
        else:
            out.notes.append(
                f"secret {mount.id!r}: not given, so {where} is absent, as in BuildKit"
            )
        return
    value: bytes | None = None
    if source.env is not None:
        if source.env not in ctx.inputs.env:
            out.notes.append(f"secret {mount.id!r}: ${source.env} is not set, so {where} is absent")
            return
        value = ctx.inputs.env[source.env].encode()
    path = os.path.join(ctx.inputs.cwd, source.file) if source.file is not None else None
    if path is not None and not os.path.isfile(path):
        out.notes.append(f"secret {mount.id!r}: {source.file} is not a file, so {where} is absent")
        return
    if mount.env is not None:
        if value is None and path is not None:
            with open(path, "rb") as fh:
                value = fh.read()
        assert value is not None
        out.secret_env.append(f"{mount.env}={value.decode('utf-8', 'replace')}")
        out.notes.append(f"secret {mount.id!r}: as ${mount.env} (value not shown)")
    if not mount.target:
        return
    if not ctx.engine.is_local:
        out.notes.append(f"secret {mount.id!r} at {mount.target} NOT MOUNTED: {_REMOTE}")
        return
    if value is not None and path is None:
        path = _private_file(value, out)
    assert path is not None
    out.mounts.append(Mount("bind", mount.target, os.path.abspath(path), read_only=True))
    owner = "" if {mount.uid, mount.gid, mount.mode} == {None} else "; its uid/gid/mode not applied"
    out.notes.append(f"secret {mount.id!r}: at {mount.target} (read-only{owner})")


def _private_file(value: bytes, out: Emulated) -> str:
    """A file only we can read, holding a secret from the environment; removed at the end."""
    folder = tempfile.mkdtemp(prefix="dbugbuild-secret-")
    out.temp_dirs.append(folder)
    path = os.path.join(folder, "secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return path


def _ssh(mount: RunMount, ssh: dict[str, SSHSource], ctx: MountContext, out: Emulated) -> None:
    source = ssh.get(mount.id)
    if source is None:
        fails = "required: BuildKit fails this step" if mount.required else "not mounted"
        out.notes.append(f"ssh {mount.id!r}: NOT GIVEN (--ssh {mount.id}); {fails}")
        return
    socket = source.paths[0] if len(source.paths) == 1 else None
    if not source.paths:
        socket = ctx.inputs.env.get("SSH_AUTH_SOCK")
    if socket is not None:
        socket = os.path.join(ctx.inputs.cwd, socket)
    if socket is None or not os.path.exists(socket) or not stat.S_ISSOCK(os.stat(socket).st_mode):
        out.notes.append(
            f"ssh {mount.id!r} at {mount.target} NOT MOUNTED: no agent socket (keys given to "
            "--ssh are loaded into BuildKit's own agent, which dbugbuild cannot reach)"
        )
        return
    if not ctx.engine.is_local:
        out.notes.append(f"ssh {mount.id!r} at {mount.target} NOT MOUNTED: {_REMOTE}")
        return
    out.mounts.append(Mount("bind", mount.target, socket))
    out.notes.append(f"ssh {mount.id!r}: the agent socket at {mount.target}")

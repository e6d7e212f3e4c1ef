"""I/O's data: a debug container as plain data, what it runs (ContainerSpec) and mounts (Mount);
containers.py creates it, terminal.py runs it with the CLI. Apart from containers.py so that a
build's start-up, which loads the engine's class, does not make these classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dbugbuild.engine.sdk import docker

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any, Literal


@dataclass(frozen=True)
class Mount:
    """A mount of a debug container, as plain data: a path of the daemon's host (bind), a named
    volume (never pre-filled from the image: a RUN's mount hides what the layer has there),
    or a tmpfs."""

    kind: Literal["bind", "volume", "tmpfs"]
    target: str
    source: str = ""  # the host path (bind) or the volume's name; "" for a tmpfs
    read_only: bool = False
    size: int | None = None  # a tmpfs's size in bytes

    def docker(self) -> Any:
        """The docker-py Mount of it."""
        if self.kind == "tmpfs":
            return docker.types.Mount(self.target, None, type="tmpfs", tmpfs_size=self.size)
        return docker.types.Mount(
            self.target,
            self.source,
            type=self.kind,
            read_only=self.read_only,
            no_copy=self.kind == "volume",
        )

    def cli(self) -> str:
        """The `docker run --mount` value of it."""
        parts = [f"type={self.kind}", f"target={self.target}"]
        if self.kind != "tmpfs":
            parts.append(f"source={self.source}")
        if self.read_only:
            parts.append("readonly")
        if self.kind == "volume":
            parts.append("volume-nocopy")
        if self.size is not None:
            parts.append(f"tmpfs-size={self.size}")
        # The CLI reads the value as CSV: quote every field so a comma in a path survives.
        return ",".join('"' + p.replace('"', '""') + '"' for p in parts)


@dataclass(frozen=True)
class ContainerSpec:
    """A container that runs `argv` in `image` as a build step would: its Env, User, WorkingDir
    and network, the image's ENTRYPOINT ignored (dispatchRun overrides it), with labels."""

    image: str
    argv: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    network: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    mounts: tuple[Mount, ...] = ()
    # KEY=VALUE passed to the container's environment but never written on a command line nor
    # into a committed image: a secret a RUN sees as a variable (`--mount=type=secret,env=`).
    secret_env: tuple[str, ...] = ()
    # Its stdin kept open (and never written): a keep-alive's `read` blocks on it for ever.
    open_stdin: bool = False

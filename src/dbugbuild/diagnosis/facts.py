"""PURE: what a diagnosis knows beyond the log, and the one function that gathers it.

`Facts` is everything the rules may use beyond the located step (which carries its
Instruction and Stage): the Dockerfile's text, the build context's
.dockerignore and file names, and what a read-only look inside the last good layer
found (`LayerFacts`, answering `Questions`). `gather` assembles the log-only part for the
app and the tests alike; what must be read from disk comes in as a callable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbugbuild.report import FailedStep


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
    """What a read-only look inside the last good layer found (the probe: probe.py)."""

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

    dockerfile_text: str | None = None  # the failing instruction itself comes located
    in_trigger: bool = False  # the failure is in an ONBUILD trigger of the base image
    context: str | None = None  # the build context as the user named it
    dockerignore: str | None = None  # the context's .dockerignore text; None: there is none
    context_files: tuple[str, ...] | None = None  # files in the context (relative); None: unlisted
    layer: LayerFacts | None = None  # None: no look inside the layer (no daemon, no image)
    secrets: tuple[str, ...] | None = None  # the ids of the build's --secret; None: unknown
    builder: str | None = None  # the builder that ran it (report "builder"); None: unknown


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


ContextListing = tuple[str | None, tuple[str, ...] | None]  # (.dockerignore text, file names)


def needs_context(step: FailedStep) -> bool:
    """Whether the build context's contents can explain the failure: a COPY/ADD that failed
    before running anything (a source missing, excluded or outside the context)."""
    return step.instruction in ("COPY", "ADD") and step.exit_code is None


def secret_ids(specs: tuple[str, ...]) -> tuple[str, ...]:
    """The ids of `--secret` options (`id=tok,src=tok.txt`, `type=env,id=TOKEN`)."""
    ids = []
    for spec in specs:
        fields = dict(item.partition("=")[::2] for item in spec.split(","))
        ids.append(fields.get("id") or spec.split(",", 1)[0])
    return tuple(ids)


def gather(
    step: FailedStep,
    *,
    dockerfile_text: str | None,
    in_trigger: bool,
    context: str,
    read_context: Callable[[], ContextListing] | None = None,
    secrets: tuple[str, ...] | None = None,
    builder: str | None = None,
) -> Facts:
    """The log-only facts of a failed step. `read_context` (the build context's .dockerignore
    and file names) is called only when they can matter (needs_context); `secrets` are the
    ids the build's --secret options gave (None when unknown: a saved log)."""
    ignore: str | None = None
    files: tuple[str, ...] | None = None
    if read_context is not None and needs_context(step):
        ignore, files = read_context()
    return Facts(
        dockerfile_text=dockerfile_text,
        in_trigger=in_trigger,
        context=context,
        dockerignore=ignore,
        context_files=files,
        secrets=secrets,
        builder=builder,
    )

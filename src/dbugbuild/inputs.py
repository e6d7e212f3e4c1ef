"""I/O: the local files of the user's inputs, each read the one way dbugbuild reads it.

The Dockerfile (its text, its digest, where an editor finds it), a saved log, the build
context's checks, and its .dockerignore and file names for a COPY/ADD diagnosis. The
pure stages take the text and lists this module reads; nothing else reads these files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cached_property

from dbugbuild.errors import BadInputError, NoInputError, UsageError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:  # a build's inputs are read before its CLI starts: these load later
    from collections.abc import Iterator
    from typing import BinaryIO

    from dbugbuild import dockerfile, logs
    from dbugbuild.console import Console
    from dbugbuild.diagnosis import ContextListing
    from dbugbuild.options import BuildOptions

MAX_CONTEXT_FILES = 20_000  # names listed from the build context for "did you mean"
MAX_DOCKERIGNORE = 1 << 20  # bytes


def read_text(path: str) -> str:
    """A Dockerfile's text, its bytes kept (not UTF-8: surrogate escapes; line ends as they
    are), so a digest and a write-back see exactly what is on disk."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        return fh.read()


def digest(text: str) -> str:
    import hashlib  # after the build's start: OpenSSL's loading is 2-3 ms of start-up

    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_dockerfile(text: str | None) -> dockerfile.Dockerfile | None:
    """The parsed Dockerfile, or None when there is none or it does not parse."""
    if text is None:
        return None
    from dbugbuild import dockerfile  # when first asked: a build may start without it

    try:
        return dockerfile.parse(text)
    except dockerfile.DockerfileSyntaxError:
        # The daemon is the judge of syntax: its error is in the log and becomes the report.
        return None


@dataclass(frozen=True)
class DockerfileSource:
    """The Dockerfile as the build read it."""

    shown: str  # the path as the user gave it (or the default)
    location: str  # relative to the working directory, for editors
    text: str | None  # None when there is no such file (only allowed with --log)
    stdin: bool = False

    @cached_property
    def model(self) -> dockerfile.Dockerfile | None:
        """The parsed Dockerfile, once per read (None when absent or not parsable)."""
        return parse_dockerfile(self.text)


def dockerfile_source(opts: BuildOptions, console: Console, required: bool) -> DockerfileSource:
    """The Dockerfile a build reads, as the CLI finds it: -f (or - for stdin), else
    PATH/Dockerfile, else PATH/dockerfile. Not `required`: None text when absent (--log)."""
    if opts.file == "-":
        if not required:
            raise UsageError(
                "-f - (a Dockerfile on stdin) cannot be combined with --log",
                "Give the Dockerfile's path with -f",
            )
        piped = console.stdin.read()
        return DockerfileSource(shown="-", location="-", text=piped, stdin=True)
    if opts.file is not None:
        shown = opts.file
    else:
        shown = os.path.normpath(os.path.join(opts.context, "Dockerfile"))
        lower = os.path.normpath(os.path.join(opts.context, "dockerfile"))
        # The daemon falls back to a lower-case `dockerfile` when `Dockerfile` is absent.
        if not os.path.exists(os.path.join(console.cwd, shown)) and os.path.exists(
            os.path.join(console.cwd, lower)
        ):
            shown = lower
    path = os.path.join(console.cwd, shown)
    location = os.path.relpath(path, console.cwd)
    text: str | None
    try:
        text = read_text(path)  # the one reader: digests compare like with like
    except FileNotFoundError:
        if required:
            raise NoInputError(
                f"no Dockerfile at {shown}", "Give its path with -f, or run in its folder"
            ) from None
        text = None
    except IsADirectoryError:
        raise NoInputError(
            f"{shown} is a folder, not a Dockerfile", "Give the file with -f"
        ) from None
    except OSError as exc:
        raise NoInputError(f"cannot read {shown}: {exc.strerror}", "Check its permissions") from exc
    return DockerfileSource(shown=shown, location=location, text=text)


def _is_remote(context: str) -> bool:
    return context.startswith(("http://", "https://", "git://", "git@", "github.com/"))


def context_dir(context: str, console: Console) -> str:
    """The build context's folder; UsageError for stdin or a remote context, NoInputError when
    it is no folder."""
    if context == "-":
        raise UsageError(
            "a build context on stdin is not supported",
            "Give the folder that holds your Dockerfile and context",
        )
    if _is_remote(context):
        raise UsageError(
            f"remote build context {context} is not supported",
            "Clone it and give the local folder",
        )
    path = os.path.join(console.cwd, context)
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist"
        raise NoInputError(
            f"build context {context} {what}", "Give the folder docker build should use as PATH"
        )
    return path


def log_name(name: str | None) -> str:
    return "standard input" if name in (None, "-") else str(name)


LOG_CHUNK = 1 << 16  # bytes of a saved log read at a time


def read_log(name: str, console: Console) -> Iterator[str]:
    """A saved build log ('-': stdin), read and decoded piece by piece (UTF-8, or UTF-16 or
    UTF-8 with a byte order mark; bad bytes replaced): memory stays flat in its size. The
    file is opened before this returns (NoInputError when it cannot be)."""
    if name == "-":
        binary = getattr(console.stdin, "buffer", None)
        if binary is None:  # a text stream (tests, an embedding program): already decoded
            return iter(lambda: console.stdin.read(LOG_CHUNK), "")
        return _decoded(binary)
    path = os.path.join(console.cwd, name)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by _decoded when read)
    except FileNotFoundError:
        raise NoInputError(f"no log file at {name}", "Give the path of a saved build log") from None
    except IsADirectoryError:
        raise NoInputError(f"{name} is a folder, not a log file", "Give a file") from None
    except OSError as exc:
        raise NoInputError(f"cannot read {name}: {exc.strerror}", "Check its permissions") from exc
    return _decoded(fh, name)


def _decoded(fh: BinaryIO, name: str | None = None) -> Iterator[str]:
    from dbugbuild.logs.text import decode_bytes

    def pieces() -> Iterator[bytes]:
        try:
            while data := fh.read(LOG_CHUNK):
                yield data
        except OSError as exc:
            raise NoInputError(
                f"cannot read {log_name(name)}: {exc.strerror}", "Check the file"
            ) from exc
        finally:
            if name is not None:
                fh.close()

    return decode_bytes(pieces())


def saved_log(name: str | None, console: Console) -> logs.BuildLog:
    """A saved build log ('-' or None: stdin), parsed as its family; BadInputError when it
    holds no build output dbugbuild can read."""
    from dbugbuild import logs

    chunks = read_log(name or "-", console)
    shown = log_name(name)
    try:
        return logs.read_stream(chunks)[1]
    except logs.TtyProgressError as exc:
        raise BadInputError(
            f"{shown} holds BuildKit's tty progress (the screen it redraws on a terminal), "
            "which cannot be read reliably",
            "Save the build's output with --progress=plain (or BUILDKIT_PROGRESS=plain) and "
            "pass that file",
        ) from exc
    except logs.LogFormatError as exc:
        raise BadInputError(
            f"{shown} is not a docker build log: {exc}",
            "Save the output of 'docker build --progress=plain ... 2>&1' (or of 'podman "
            "build ... 2>&1') and pass that file",
        ) from exc


def context_listing(context_dir: str) -> ContextListing:
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


def check_service(build: BuildOptions, service: str, console: Console) -> None:
    """A Compose service's build context and Dockerfile are there; NoInputError in the
    compose file's terms (its build.context, build.dockerfile) when not."""
    if not os.path.isdir(os.path.join(console.cwd, build.context)):
        raise NoInputError(
            f"service {service}'s build context {build.context} is not a folder",
            "Check its build.context in the compose file",
        )
    if build.file is not None and not os.path.isfile(os.path.join(console.cwd, build.file)):
        raise NoInputError(
            f"service {service}'s Dockerfile {build.file} does not exist",
            "Check its build.dockerfile (relative to build.context) in the compose file",
        )


@contextlib.contextmanager
def inline_dockerfile(text: str, name: str, context: str, console: Console) -> Iterator[str]:
    """A Compose `dockerfile_inline` as a file for the build, outside the build `context`
    (a file inside would join the context), removed afterwards: its absolute path."""
    import shutil
    import tempfile  # Compose's only (random, its import, stays out of a build's start-up)

    context_dir = os.path.realpath(os.path.join(console.cwd, context))
    for base in (tempfile.gettempdir(), os.path.join(console.cwd, "..")):
        base = os.path.realpath(base)
        if os.path.commonpath([base, context_dir]) != context_dir:
            break
    else:
        raise UsageError(
            f"no folder outside the build context {context} for {name}'s dockerfile_inline",
            "Set TMPDIR to a folder outside the context",
        )
    folder = tempfile.mkdtemp(prefix=f"dbugbuild-inline-{name}-", dir=base)
    try:
        path = os.path.join(folder, "Dockerfile")
        with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(text)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)

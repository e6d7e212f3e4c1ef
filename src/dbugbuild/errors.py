"""Tool errors and exit codes: the vocabulary of the CLI's one error boundary.

A failed *build* is not a tool error: dbugbuild then exits with the build's own
code (the failing RUN's exit code, or 1). Tool errors use codes chosen apart
from the usual RUN codes (1, 2, 100, 126, 127, 137) where that is possible.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    BUILD_FAILED = 1  # a build failure that carries no exit code (COPY failed, parse error);
    # podman exits 125 there, and so does dbugbuild on Podman (logs.Failure.status)
    USAGE = 2  # bad arguments (argparse's convention)
    INTERNAL = 3  # a bug in dbugbuild
    # `dbugbuild bisect` found no culprit (docs/bisect.md): not tool errors, but answers.
    NOT_SHOWN = 4  # the final layer does not show the asked-for outcome
    NO_TRANSITION = 5  # no layer probed shows the other outcome
    BAD_INPUT = 65  # input we cannot use: a garbage log, a Dockerfile that changed under us
    NO_INPUT = 66  # a path, Dockerfile or log that does not exist or cannot be read
    UNAVAILABLE = 69  # no Docker daemon, or no docker CLI
    CANNOT_WRITE = 73  # a write-back the Dockerfile or its folder refused (sysexits' CANTCREAT)
    INTERRUPTED = 130  # Ctrl-C


class DbugbuildError(Exception):
    """An error a user can cause: one sentence of what happened, one of what to do."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message.rstrip(".")
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else f"{self.message}."


class UsageError(DbugbuildError):
    exit_code = ExitCode.USAGE


class BadInputError(DbugbuildError):
    exit_code = ExitCode.BAD_INPUT


class NoInputError(DbugbuildError):
    exit_code = ExitCode.NO_INPUT


class WriteRefusedError(DbugbuildError):
    """The Dockerfile, its folder or the backups' folder refuses a write-back (read-only,
    immutable): a session goes on; --apply ends with this code after its report."""

    exit_code = ExitCode.CANNOT_WRITE


class EngineUnavailableError(DbugbuildError):
    exit_code = ExitCode.UNAVAILABLE


class EngineError(DbugbuildError):
    """The daemon answered, but not as it should (an API error mid-operation)."""

    exit_code = ExitCode.UNAVAILABLE


class NoShellError(EngineError):
    """The layer has no such program (typically no /bin/sh: an image built FROM scratch)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (running every clean-up) and exit 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

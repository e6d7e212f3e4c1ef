"""The failed build as the debug phase takes it, and what follows from it for every way of
debugging: where state lives, and the write-back of a fix into its Dockerfile."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from dbugbuild.command_options import ComposeService
from dbugbuild.console import Console
from dbugbuild.debug.writeback import DockerfileFile, WriteBack
from dbugbuild.dockerfile import Dockerfile
from dbugbuild.errors import UsageError
from dbugbuild.logs import BuildLog
from dbugbuild.report import Diagnose, Report


@dataclass(frozen=True)
class Failed:
    """A failed build as the debug phase takes it: the report, the log, the Dockerfile."""

    report: Report
    log: BuildLog
    dockerfile: Dockerfile | None
    dockerfile_path: str
    source_text: str | None = None  # the Dockerfile as read when the build started
    source_file: str | None = None  # its absolute path; None for a Dockerfile from stdin
    # The report's diagnosis, to be made again with a look inside a layer the debug phase made
    # (a BuildKit prefix image: the build itself left no layer to look in).
    diagnose: Diagnose | None = None
    compose: ComposeService | None = None  # the Compose service built (`dbugbuild compose`)

    @property
    def write_refusal(self) -> str | None:
        """Why a fix is printed instead of written: the Dockerfile is a compose service's
        `dockerfile_inline`, in a temporary file (the text lives in the compose file)."""
        if self.compose is None or not self.compose.inline:
            return None
        return (
            f"service {self.compose.name}'s Dockerfile is its dockerfile_inline, written to a "
            "temporary file for this build: put the fixed text above into the compose file"
        )


Rebuild = Callable[[], Failed]  # runs the build again (same options); its outcome


def state_home(console: Console) -> str:
    """$XDG_STATE_HOME, or ~/.local/state: session histories and write-back backups."""
    return console.env.get("XDG_STATE_HOME") or os.path.join(
        console.env.get("HOME", os.path.expanduser("~")), ".local", "state"
    )


def writeback_for(
    failed: Failed,
    line: int | None,
    shell: tuple[str, ...],
    console: Console,
    confirm: Callable[[str], bool],
    say: Callable[[str], None],
) -> WriteBack | None:
    """The write-back of the failing instruction at `line`; None when there is no file to
    write (a Dockerfile from stdin, or no line)."""
    if line is None or failed.source_file is None:
        return None
    try:
        file = DockerfileFile.open(
            failed.source_file, failed.dockerfile_path, failed.source_text, state_home(console)
        )
    except UsageError:
        return None
    return WriteBack(file, line, shell, confirm, say, refusal=failed.write_refusal)

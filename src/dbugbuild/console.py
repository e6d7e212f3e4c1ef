"""The process's streams, terminal flags, environment and working directory, as one object.

Injected everywhere output is written, so the CLI runs in-process in tests with
exact output (after httpie's Environment). Colour policy lives here.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import IO, Any

    from dbugbuild.options import ColorChoice


@dataclass
class Console:
    """The process's streams and terminal flags, environment and working directory (tests
    give their own)."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    env: Mapping[str, str]
    cwd: str
    # prompt-toolkit's terminal input and output; None means the process's own terminal.
    # Tests pass a pipe input and an output writing to a buffer.
    prompt_input: Any = None
    prompt_output: Any = None
    # Called when a write finds the terminal gone (EIO): the run ends as SIGHUP ends it
    # (cli.main sets debug.signals.hang_up); the text is dropped.
    hang_up: Callable[[], None] | None = None

    @classmethod
    def real(cls) -> Console:
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            env=dict(os.environ),
            cwd=os.getcwd(),
        )

    def color(self, choice: ColorChoice, for_stderr: bool = False) -> bool:
        """Colour on a TTY only; NO_COLOR (any value) and TERM=dumb turn it off; --color wins."""
        if choice == "always":
            return True
        if choice == "never":
            return False
        if "NO_COLOR" in self.env or self.env.get("TERM") == "dumb":
            return False
        return self.stderr_isatty if for_stderr else self.stdout_isatty

    def write(self, text: str, err: bool = False) -> None:
        stream = self.stderr if err else self.stdout
        try:
            stream.write(text)
            stream.flush()
        except OSError as exc:
            if exc.errno != errno.EIO or self.hang_up is None:
                raise
            self.hang_up()  # raises Terminated(SIGHUP), unless the run is ending already

    def error(self, text: str) -> None:
        self.write(f"dbugbuild: error: {text}\n", err=True)

    def warn(self, text: str) -> None:
        self.write(f"dbugbuild: warning: {text}\n", err=True)

    def emit(
        self,
        format: str,
        color: ColorChoice,
        *,
        text: Callable[[bool], str],
        json: Callable[[], str],
        gcc: Callable[[], str],
        notes: Sequence[str],
    ) -> None:
        """A result on stdout in the asked format: json as it is; gcc with its notes as
        warnings on stderr (gcc lines hold none); text (coloured as `color` says) after a
        blank line that parts it from the build's output, whose last line may lack a newline."""
        if format == "json":
            self.write(json())
        elif format == "gcc":
            self.write(gcc())
            for note in notes:
                self.warn(note)
        else:
            self.write("\n" + text(self.color(color)))


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False

"""The session's commands, without the terminal: a typed line runs as a RUN line would, a
`:command` acts on the layer or the Dockerfile. PURE over its Layer and its sinks.

The prompt loop (session.py) reads the lines; tests drive this dispatch over an in-memory
Layer, and the pty scenarios drive the whole of it on the real daemon.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dbugbuild.debug.layer import Change, CommandResult, Layer
from dbugbuild.errors import (
    BadInputError,
    EngineError,
    NoShellError,
    UsageError,
    WriteRefusedError,
)
from dbugbuild.report.style import short_id

HELP = """\
Commands run as a RUN line would: each in a new process through the step's shell,
as its USER, in its WORKDIR, with its ENV and build ARGs. Files you change persist
from one command to the next; shell state (cd, export) does not, as between RUN lines.
A JSON array (["prog", "arg"]) runs in exec form, without a shell.

  Enter         run the text at the prompt        Alt-Enter (Esc Enter)  new line
  Ctrl-C        stop a running command; clear the line at the prompt
  Ctrl-D        leave (same as :quit)

  :shell        an interactive shell in this layer, the command typed at its prompt
  :reset        discard all changes: back to the last good layer
  :diff         files this session changed in the layer
  :failed [diff|shell]
                what the failed build step left behind (its kept container); BuildKit
                keeps none: it offers to reproduce it by running the step here
  :apply [CMD]  write the last command that succeeded (or CMD) into the Dockerfile,
                in place of the failing RUN; shows the diff and asks first
  :add [CMD]    write it as a new RUN line before the failing instruction
  :continue     rebuild with the same options (earlier steps come from the cache,
                also after --no-cache); a new failure opens here again
  :history      commands run in this session
  :help         this text
  :quit         leave; every container and image of the session is removed
"""

COMMANDS = (
    ":shell",
    ":reset",
    ":diff",
    ":failed",
    ":apply",
    ":add",
    ":continue",
    ":history",
    ":help",
    ":quit",
)

Leave = str  # how a session ended: "quit" or "continue"


@dataclass(frozen=True)
class Subject:
    """What the session is about: where the failure is, what it said, its layer and the
    builder's failed container (for :failed), and the diagnosis for the banner."""

    where: str  # "Dockerfile:8", or the Dockerfile alone when the line is unknown
    message: str
    last_good_image: str
    failed_container: str | None
    diagnosis: str | None = None
    built_with: str | None = None  # which builder ran, and why (report.built_with)
    builder: str = "classic"  # the backend that ran the build (the report's "builder")
    service: str | None = None  # the Compose service whose build failed (`dbugbuild compose`)


class Writer(Protocol):
    """Writes a command back into the Dockerfile (debug.writeback.WriteBack)."""

    def apply(self, command: str) -> bool: ...
    def add(self, command: str) -> bool: ...


class Commands:
    """One session's commands over its layer; everything it says goes to `write`."""

    def __init__(self, layer: Layer, subject: Subject, write: Callable[[str], None]) -> None:
        self.layer = layer
        self.subject = subject
        self.write = write
        self.ran: list[str] = []
        self.last_status: int | None = None
        self.last_success: str | None = None
        self.writeback: Writer | None = None
        self.ask: Callable[[str], bool] | None = None  # a y/N question (the session's)

    def banner(self) -> str:
        env = self.layer.env
        f = self.subject
        what = "the last good image"
        if env.source == "prefix build":
            what = f"{f.builder} keeps no intermediate images: built up to the failing line"
        service = f" (service {f.service})" if f.service else ""
        lines = [
            f"dbugbuild: debugging {f.where}{service}: {f.message}",
            f"  layer: {short_id(f.last_good_image)} ({what})   "
            f"env from: {env.source}" + (f" ({env.note})" if env.note else ""),
            f"  user: {env.user or 'root'}   workdir: {env.workdir}   "
            f"shell: {shlex.join(env.shell)}",
        ]
        if env.network:
            lines.append(f"  network: {env.network}")
        if f.built_with:
            lines.append(f"  built with: {f.built_with}")
        lines += [f"  {line}" for line in env.emulated]
        if f.diagnosis:
            lines.append(f"  diagnosis: {f.diagnosis}")
        lines.append("  Enter runs the command; :help for more; Ctrl-D leaves.")
        return "\n".join(lines) + "\n"

    def last_or_failed(self) -> str:
        """The last command run in the session, else the failed one (what :shell types)."""
        return self.ran[-1] if self.ran else (self.layer.env.command or "")

    def execute(self, text: str) -> CommandResult | None:
        """Run one command like a RUN line; prints its output and an `exit code N` line."""
        self.ran.append(text)
        argv = self.layer.env.argv_for(text)
        try:
            result = self.layer.run(argv, self.write)
        except NoShellError as exc:
            self.write(f"dbugbuild: {exc}\n")
            return None
        except KeyboardInterrupt:  # between steps of a command (creating, committing)
            self.write("\n-- interrupted\n")
            return None
        if result.output and not result.output.endswith("\n"):
            self.write("\n")
        note = " (interrupted)" if result.interrupted else ""
        self.write(f"-- exit code {result.exit_code}{note} ({result.seconds:.1f}s)\n")
        self.last_status = result.exit_code
        if result.exit_code == 0 and not result.interrupted:
            self.last_success = text
        return result

    def command(self, line: str) -> Leave | None:
        """A `:command`; returns how to leave the session, or None to stay."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        matches = [c for c in COMMANDS if c.startswith(name)]
        if len(matches) != 1:
            self.write(f"unknown command {name}; :help lists them\n")
            return None
        name = matches[0]
        try:
            if name == ":quit":
                return "quit"
            if name == ":continue":
                return "continue"
            if name in (":apply", ":add"):
                self._write_back(name, arg)
            elif name == ":help":
                self.write(HELP)
            elif name == ":history":
                for i, text in enumerate(self.ran, 1):
                    self.write(f"{i:3}  {text}\n")
            elif name == ":reset":
                self.layer.reset()
                self.write("-- back to the last good layer; all changes discarded\n")
            elif name == ":diff":
                self._show_changes(self.layer.changes(), "this session changed nothing")
            elif name == ":shell":
                pretype = self.last_or_failed()
                status = self.layer.interactive(self.layer.env.interactive_shell, pretype)
                self.write(f"-- shell exited with {status}; back at the dbugbuild prompt\n")
            elif name == ":failed":
                self._failed(arg or "diff")
        except (
            EngineError,
            BadInputError,
            UsageError,
            WriteRefusedError,
        ) as exc:  # NoShellError too
            self.write(f"dbugbuild: {exc}\n")
        return None

    def _write_back(self, name: str, arg: str) -> None:
        if self.writeback is None:
            self.write("this session cannot write to the Dockerfile\n")
            return
        command = arg or self.last_success
        if not command:
            self.write(f"no command has succeeded yet; run one, or give it: {name} CMD\n")
            return
        if name == ":apply":
            self.writeback.apply(command)
        else:
            self.writeback.add(command)

    def _failed(self, what: str) -> None:
        cid = self.subject.failed_container
        if not cid and self.layer.env.source == "prefix build":
            self._reproduce()
            return
        if not cid:
            self.write("the builder kept no container for the failed step\n")
            return
        if what == "shell":
            image = self.layer.snapshot(cid)
            self.layer.interactive(self.layer.env.interactive_shell, "", image=image)
            self.write("-- left the failed step's state; back at the dbugbuild prompt\n")
        else:
            self._show_changes(
                self.layer.container_changes(cid), "the failed step changed no files"
            )

    def _reproduce(self) -> None:
        """BuildKit keeps nothing of a failed step: offer to run it here, then show its files."""
        builder = self.subject.builder
        self.write(f"{builder} keeps no failed state: no container, no layer of the failed step.\n")
        command = self.layer.env.command
        if self.layer.env.argv is None or not command:
            self.write("the failed step ran no command to reproduce it with\n")
            return
        if self.ask is None or not self.ask("Reproduce it by running the failed step here?"):
            self.write("not run; Enter at the prompt runs it, :diff then shows its files\n")
            return
        self.ran.append(command)
        result = self._run_step(self.layer.env.argv)
        if result is not None:
            self._show_changes(self.layer.changes(), "the step changed no files")

    def _run_step(self, argv: tuple[str, ...]) -> CommandResult | None:
        try:
            result = self.layer.run(argv, self.write)
        except NoShellError as exc:
            self.write(f"dbugbuild: {exc}\n")
            return None
        if result.output and not result.output.endswith("\n"):
            self.write("\n")
        self.write(f"-- exit code {result.exit_code} ({result.seconds:.1f}s)\n")
        self.last_status = result.exit_code
        return result

    def _show_changes(self, changes: list[Change], empty: str) -> None:
        if not changes:
            self.write(empty + "\n")
        for change in changes:
            self.write(f"{change.kind} {change.path}\n")

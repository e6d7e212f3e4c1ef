"""The interactive debug session: the failed command pre-typed, run as a RUN in the last good layer.

It talks to the daemon only through the small `Layer` interface (engine.Workspace
implements it) and to the terminal through prompt-toolkit, whose input and output
are injectable so tests drive it with pipe input.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from dbugbuild.engine import Change, CommandResult, NoShellError
from dbugbuild.errors import BadInputError, EngineError, UsageError
from dbugbuild.report.style import short_id
from dbugbuild.stepenv import StepEnv
from dbugbuild.writeback import WriteBack

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
                what the failed build step left behind (its kept container)
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


class Layer(Protocol):
    """What the session needs of the engine: a debug layer (engine.Workspace)."""

    env: StepEnv

    def run(
        self, argv: Sequence[str], sink: Callable[[str], None] | None = None
    ) -> CommandResult: ...
    def reset(self) -> None: ...
    def changes(self) -> list[Change]: ...
    def interactive(
        self, argv: Sequence[str], pretype: str = "", image: str | None = None
    ) -> int: ...
    def snapshot(self, container_id: str) -> str: ...
    def container_changes(self, container_id: str) -> list[Change]: ...


@dataclass(frozen=True)
class Facts:
    """What the banner says about the failure."""

    where: str  # "Dockerfile:8", or the Dockerfile alone when the line is unknown
    message: str
    last_good_image: str
    failed_container: str | None
    diagnosis: str | None = None


def history_file(state_home: str, dockerfile: str) -> Path:
    """Where the history of sessions on one Dockerfile lives (XDG state dir, never the project)."""
    digest = hashlib.sha256(os.path.abspath(dockerfile).encode()).hexdigest()[:16]
    return Path(state_home) / "dbugbuild" / "history" / digest


def command_completer() -> WordCompleter:
    """Tab completes the session's :commands (only a line that starts with a colon)."""
    return WordCompleter(list(COMMANDS), sentence=True, pattern=re.compile(r"^:\w*"))


def _key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _run(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @kb.add("c-d")
    def _leave(event: KeyPressEvent) -> None:
        # Leave even when the buffer holds the pre-typed command (Ctrl-D would delete a char).
        event.app.exit(exception=EOFError())

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return kb


class Session:
    def __init__(
        self,
        layer: Layer,
        facts: Facts,
        write: Callable[[str], None],
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.layer = layer
        self.facts = facts
        self.write = write
        self.ran: list[str] = []
        self.last_status: int | None = None
        self.last_success: str | None = None
        self.writeback: WriteBack | None = None
        self._input = input
        self._output = output
        self._prompt: PromptSession[str] = PromptSession(
            message=self._message,
            multiline=True,
            key_bindings=_key_bindings(),
            completer=command_completer(),
            complete_while_typing=False,
            history=history or InMemoryHistory(),
            input=input,
            output=output,
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
        )

    def _message(self) -> str:
        return "dbugbuild> "

    def banner(self) -> str:
        env = self.layer.env
        f = self.facts
        lines = [
            f"dbugbuild: debugging {f.where}: {f.message}",
            f"  layer: {short_id(f.last_good_image)} (the last good image)   "
            f"env from: {env.source}",
            f"  user: {env.user or 'root'}   workdir: {env.workdir}   "
            f"shell: {shlex.join(env.shell)}",
        ]
        if env.network:
            lines.append(f"  network: {env.network}")
        if f.diagnosis:
            lines.append(f"  diagnosis: {f.diagnosis}")
        lines.append("  Enter runs the command; :help for more; Ctrl-D leaves.")
        return "\n".join(lines) + "\n"

    def ask(self, question: str) -> bool:
        """A y/N question on the session's terminal (No unless the answer starts with y)."""
        confirm: PromptSession[str] = PromptSession(input=self._input, output=self._output)
        try:
            answer = confirm.prompt(f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower().startswith("y")

    def loop(self) -> Leave:
        """Prompt until :quit, Ctrl-D ("quit") or :continue ("continue")."""
        self.write(self.banner())
        default = self.layer.env.command or ""
        while True:
            try:
                text = self._prompt.prompt(default=default)
            except KeyboardInterrupt:
                default = ""
                continue
            except EOFError:
                self.write("\n")
                return "quit"
            stripped = text.strip()
            if not stripped:
                default = ""
                continue
            if stripped.startswith(":"):
                leave = self.command(stripped)
                if leave is not None:
                    return leave
                default = self.ran[-1] if self.ran else ""
                continue
            self.execute(text)
            default = text

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
                pretype = self.ran[-1] if self.ran else (self.layer.env.command or "")
                status = self.layer.interactive(self.layer.env.interactive_shell, pretype)
                self.write(f"-- shell exited with {status}; back at the dbugbuild prompt\n")
            elif name == ":failed":
                self._failed(arg or "diff")
        except NoShellError as exc:
            self.write(f"dbugbuild: {exc}\n")
        except (EngineError, BadInputError, UsageError) as exc:
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
        cid = self.facts.failed_container
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

    def _show_changes(self, changes: list[Change], empty: str) -> None:
        if not changes:
            self.write(empty + "\n")
        for change in changes:
            self.write(f"{change.kind} {change.path}\n")


def make_history(state_home: str | None, dockerfile: str) -> History:
    if not state_home:
        return InMemoryHistory()
    path = history_file(state_home, dockerfile)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))

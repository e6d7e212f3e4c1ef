"""The interactive debug session: the prompt loop (prompt-toolkit) around the session's commands.

The commands themselves (commands.py) know nothing of the terminal; prompt-toolkit's input
and output are injectable, so tests drive the loop with pipe input.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output

from dbugbuild.debug import signals
from dbugbuild.debug.commands import COMMANDS, Commands, Leave


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
    """The prompt loop of one session: pre-types the failed command, hands each line to its
    Commands, asks y/N questions on the same terminal."""

    def __init__(
        self,
        commands: Commands,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        self.commands = commands
        self._input = input
        self._output = output
        self._prompt: PromptSession[str] = PromptSession(
            message="dbugbuild> ",
            multiline=True,
            key_bindings=_key_bindings(),
            completer=command_completer(),
            complete_while_typing=False,
            history=history or InMemoryHistory(),
            input=input,
            output=output,
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
        )

    def ask(self, question: str) -> bool:
        """A y/N question on the session's terminal (No unless the answer starts with y)."""
        confirm: PromptSession[str] = PromptSession(input=self._input, output=self._output)
        try:
            answer = prompt(confirm, f"{question} [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower().startswith("y")

    def loop(self) -> Leave:
        """Prompt until :quit, Ctrl-D ("quit") or :continue ("continue")."""
        commands = self.commands
        commands.write(commands.banner())
        default = commands.layer.env.command or ""
        while True:
            try:
                text = prompt(self._prompt, default=default)
            except KeyboardInterrupt:
                default = ""
                continue
            except EOFError:
                commands.write("\n")
                return "quit"
            stripped = text.strip()
            if not stripped:
                default = ""
                continue
            if stripped.startswith(":"):
                leave = commands.command(stripped)
                if leave is not None:
                    return leave
                default = commands.ran[-1] if commands.ran else ""
                continue
            commands.execute(text)
            default = text


def prompt(session: PromptSession[str], message: str | None = None, default: str = "") -> str:
    """One prompt, SIGTERM and SIGHUP ending it as its event loop expects (signals.py): the
    application exits with Terminated, which prompt() raises once the terminal is restored."""
    app = session.app
    with signals.redirected(lambda signum: _exit_loop(app)):
        try:
            if message is None:
                return session.prompt(default=default)
            return session.prompt(message, default=default)
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            # The terminal is gone (prompt-toolkit's last redraw found it closed): a hang-up.
            raise signals.terminal_gone() from None
        finally:
            signals.check()  # a signal that came as the prompt was returning anyway


def _exit_loop(app: Application[str]) -> bool:
    """From the signal handler: have the running loop end its application with Terminated."""
    loop = app.loop
    if loop is None:
        return False  # no loop yet (or any more): raised where the main thread is, or by check()

    def end() -> None:
        if app.future is None:  # the application has not started yet: soon
            loop.call_later(0.01, end)
        elif not app.future.done():
            app.exit(exception=signals.terminated())
        # else: it is ending with its own result; prompt()'s check() raises the signal

    try:
        loop.call_soon_threadsafe(end)
    except RuntimeError:  # the loop has closed: the prompt is returning
        return False
    return True


def make_history(state_home: str | None, dockerfile: str) -> History:
    if not state_home:
        return InMemoryHistory()
    path = history_file(state_home, dockerfile)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))

"""Session pieces that need no daemon: completion of :commands, the banner, the history path."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from dbugbuild.debug.commands import COMMANDS, HELP
from dbugbuild.debug.session import command_completer, history_file


def _complete(text: str) -> list[str]:
    completer = command_completer()
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(True))]


def test_session_tab_completes_colon_commands() -> None:
    assert _complete(":sh") == [":shell"]
    assert _complete(":") == list(COMMANDS)
    assert _complete("apt-get") == []  # commands for the container are not completed


def test_session_help_names_every_command() -> None:
    for command in COMMANDS:
        assert command in HELP


def test_session_history_file_is_per_dockerfile(tmp_path: Path) -> None:
    a = history_file(str(tmp_path), "/src/a/Dockerfile")
    b = history_file(str(tmp_path), "/src/b/Dockerfile")
    assert a != b
    assert a.parent == tmp_path / "dbugbuild" / "history"
    assert history_file(str(tmp_path), "/src/a/Dockerfile") == a

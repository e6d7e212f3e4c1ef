"""The session's command dispatch over an in-memory Layer: what each typed line and `:command`
does and says, without a daemon or a terminal (the pty scenarios in test_session.py play the
same commands on the real daemon)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from dbugbuild.debug.commands import HELP, Commands, Subject
from dbugbuild.debug.layer import Change, CommandResult
from dbugbuild.debug.stepenv import DEFAULT_SHELL, StepEnv
from dbugbuild.errors import EngineError, NoShellError

IMAGE = "sha256:" + "ab" * 32


@dataclass
class MemoryLayer:
    """A layer in memory: a command's result is looked up by its text; `touch PATH` adds a
    file, as the real layer would carry it to the next command."""

    env: StepEnv
    results: dict[str, CommandResult] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # path -> docker diff's kind
    ran: list[tuple[str, ...]] = field(default_factory=list)
    shells: list[tuple[tuple[str, ...], str, str | None]] = field(default_factory=list)
    failed_changes: list[Change] = field(default_factory=list)
    raises: BaseException | None = None

    def run(self, argv: Sequence[str], sink: Callable[[str], None] | None = None) -> CommandResult:
        self.ran.append(tuple(argv))
        if self.raises is not None:
            raise self.raises
        text = argv[-1]
        if text.startswith("touch "):
            self.files[text.split(" ", 1)[1]] = "A"
        result = self.results.get(text, CommandResult(0, "", 0.25))
        if sink is not None and result.output:
            sink(result.output)
        return result

    def reset(self) -> None:
        self.files.clear()

    def changes(self) -> list[Change]:
        return [Change(k, p) for p, k in sorted(self.files.items())]

    def interactive(self, argv: Sequence[str], pretype: str = "", image: str | None = None) -> int:
        self.shells.append((tuple(argv), pretype, image))
        return 0

    def snapshot(self, container_id: str) -> str:
        return f"snapshot-of-{container_id}"

    def container_changes(self, container_id: str) -> list[Change]:
        return self.failed_changes


@dataclass
class Writer:
    applied: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def apply(self, command: str) -> bool:
        self.applied.append(command)
        return True

    def add(self, command: str) -> bool:
        self.added.append(command)
        return True


def _env(command: str | None = "cat /missing", network: str | None = None) -> StepEnv:
    return StepEnv(
        IMAGE,
        command,
        None,
        False,
        DEFAULT_SHELL,
        ("A=1",),
        "app",
        "/srv",
        network,
        "reconstructed",
    )


def _session(
    layer: MemoryLayer | None = None, container: str | None = "c0ffee"
) -> tuple[Commands, MemoryLayer, list[str]]:
    layer = layer or MemoryLayer(_env())
    said: list[str] = []
    subject = Subject("Dockerfile:3", "RUN failed with exit code 1", IMAGE, container)
    return Commands(layer, subject, said.append), layer, said


def test_commands_typed_line_runs_through_the_step_shell() -> None:
    commands, layer, said = _session()
    layer.results["cat /missing"] = CommandResult(1, "cat: can't open '/missing'", 0.04)
    result = commands.execute("cat /missing")
    assert result is not None and result.exit_code == 1
    assert layer.ran == [("/bin/sh", "-c", "cat /missing")]
    # The output without a final newline gets one before the status line.
    assert "".join(said) == "cat: can't open '/missing'\n-- exit code 1 (0.0s)\n"
    assert (commands.last_status, commands.last_success) == (1, None)


def test_commands_exec_form_runs_without_a_shell() -> None:
    commands, layer, _ = _session()
    commands.execute('["/app/server", "--check"]')
    assert layer.ran == [("/app/server", "--check")]
    assert commands.last_success == '["/app/server", "--check"]'


def test_commands_interrupted_command_is_no_success() -> None:
    commands, layer, said = _session()
    layer.results["sleep 9"] = CommandResult(137, "", 1.0, interrupted=True)
    commands.execute("sleep 9")
    assert said[-1] == "-- exit code 137 (interrupted) (1.0s)\n"
    assert commands.last_success is None


def test_commands_layer_without_a_shell_says_so_in_one_line() -> None:
    commands, layer, said = _session()
    layer.raises = NoShellError("this layer has no /bin/sh to run the command with", "Use exec")
    assert commands.execute("ls") is None
    assert said == ["dbugbuild: this layer has no /bin/sh to run the command with. Use exec\n"]
    assert commands.ran == ["ls"]


def test_commands_history_lists_what_ran() -> None:
    commands, _, said = _session()
    commands.execute("echo one")
    commands.execute("echo two")
    said.clear()
    assert commands.command(":history") is None
    assert "".join(said) == "  1  echo one\n  2  echo two\n"


def test_commands_diff_and_reset() -> None:
    commands, _, said = _session()
    commands.execute("touch /made-here")
    said.clear()
    commands.command(":diff")
    assert said == ["A /made-here\n"]
    commands.command(":reset")
    assert said[-1] == "-- back to the last good layer; all changes discarded\n"
    said.clear()
    commands.command(":diff")
    assert said == ["this session changed nothing\n"]


@pytest.mark.parametrize(
    ("line", "leave"), [(":quit", "quit"), (":q", "quit"), (":continue", "continue")]
)
def test_commands_that_leave(line: str, leave: str) -> None:
    commands, _, _ = _session()
    assert commands.command(line) == leave


@pytest.mark.parametrize("line", [":h", ":a", ":frobnicate"])
def test_commands_unknown_or_ambiguous_prefix(line: str) -> None:
    commands, _, said = _session()
    assert commands.command(line) is None
    assert said == [f"unknown command {line}; :help lists them\n"]


def test_commands_help() -> None:
    commands, _, said = _session()
    commands.command(":help")
    assert said == [HELP]


def test_commands_shell_types_the_last_command_else_the_failed_one() -> None:
    commands, layer, said = _session()
    commands.command(":shell")
    commands.execute("echo again")
    commands.command(":sh")
    assert layer.shells == [
        (("/bin/sh",), "cat /missing", None),
        (("/bin/sh",), "echo again", None),
    ]
    assert said[-1] == "-- shell exited with 0; back at the dbugbuild prompt\n"


def test_commands_failed_shows_or_opens_the_builders_container() -> None:
    commands, layer, said = _session()
    layer.failed_changes = [Change("D", "/bin/vi"), Change("A", "/left")]
    commands.command(":failed")
    assert said == ["D /bin/vi\n", "A /left\n"]
    commands.command(":failed shell")
    assert layer.shells == [(("/bin/sh",), "", "snapshot-of-c0ffee")]
    assert said[-1] == "-- left the failed step's state; back at the dbugbuild prompt\n"


def test_commands_failed_without_a_kept_container() -> None:
    commands, _, said = _session(container=None)
    commands.command(":failed")
    assert said == ["the builder kept no container for the failed step\n"]


def test_commands_write_back_the_last_success_or_the_given_command() -> None:
    commands, _, said = _session()
    commands.command(":apply")
    assert said == ["this session cannot write to the Dockerfile\n"]
    writer = Writer()
    commands.writeback = writer
    said.clear()
    commands.command(":apply")
    assert said == ["no command has succeeded yet; run one, or give it: :apply CMD\n"]
    commands.execute("cat /one")
    commands.command(":apply")
    commands.command(":add mkdir -p /opt")
    assert (writer.applied, writer.added) == (["cat /one"], ["mkdir -p /opt"])


def test_commands_engine_error_is_one_line_and_the_session_goes_on() -> None:
    commands, layer, said = _session()

    def gone(container_id: str) -> list[Change]:
        raise EngineError("the failed build container c0ffee no longer exists", "Rebuild")

    layer.container_changes = gone
    assert commands.command(":failed diff") is None
    assert said == ["dbugbuild: the failed build container c0ffee no longer exists. Rebuild\n"]


def test_commands_banner_names_the_failure_layer_and_environment() -> None:
    commands, _, _ = _session(MemoryLayer(_env(network="none")))
    assert commands.banner() == (
        "dbugbuild: debugging Dockerfile:3: RUN failed with exit code 1\n"
        "  layer: abababababab (the last good image)   env from: reconstructed\n"
        "  user: app   workdir: /srv   shell: /bin/sh -c\n"
        "  network: none\n"
        "  Enter runs the command; :help for more; Ctrl-D leaves.\n"
    )


def test_commands_banner_says_which_builder_ran_and_why() -> None:
    layer = MemoryLayer(_env())
    subject = Subject(
        "Dockerfile:3",
        "RUN failed with exit code 1",
        IMAGE,
        None,
        built_with="buildkit (auto: line 3 uses `RUN --mount`, which the classic builder refuses)",
    )
    banner = Commands(layer, subject, [].append).banner()
    assert (
        "  built with: buildkit (auto: line 3 uses `RUN --mount`, which the classic builder "
        "refuses)\n" in banner
    )

"""From a working retry to a fixed Dockerfile: :apply, :add, :continue and --apply, on the real
daemon; and the file-level guarantees (atomic, backups, refusing a Dockerfile changed on disk)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conftest import own_label, remove_build, run_cli
from dbugbuild.debug.writeback import DockerfileChangedError, DockerfileFile
from dbugbuild.dockerfile.rewrite import unified_diff
from dbugbuild.engine import Engine
from scenarios import (
    CTRL_C,
    CTRL_D,
    CTRL_U,
    ENTER,
    Scenario,
    do,
    expect,
    play_in_process,
    play_in_pty,
    send,
)

PROMPT = r"dbugbuild>"

HEAD = "FROM busybox\n# make the file the last step needs\nRUN echo one > /one\n"
FAILING = HEAD + "RUN cat /missing-file\n"
FIXED = HEAD + "RUN cat /one\n"


def _leftovers(engine: Engine) -> list[str]:
    containers, images = engine.labelled(own_label())
    return [c[:12] for c in containers] + [i[:19] for i in images]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def _project(tmp_path: Path, text: str, name: str = "Dockerfile") -> Path:
    project = tmp_path / "project"
    (project / name).parent.mkdir(parents=True, exist_ok=True)
    (project / name).write_bytes(text.encode())
    return project


@pytest.mark.docker
@pytest.mark.parametrize("player", [play_in_process, play_in_pty], ids=["in-process", "pty"])
def test_writeback_apply_then_continue_builds(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path, player: object
) -> None:
    project = _project(tmp_path, FAILING)
    scenario = Scenario(
        name="apply-continue",
        dockerfile=FAILING,
        steps=[
            expect(PROMPT),
            send(CTRL_U + "cat /one" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            send(CTRL_U + ":apply" + ENTER),
            expect(r"-RUN cat /missing-file\n\+RUN cat /one\n"),
            expect(r"write Dockerfile\? \[y/N\]"),
            send("y" + ENTER),
            expect(r"wrote Dockerfile \(the previous version is in "),
            expect(PROMPT),
            send(CTRL_U + ":continue" + ENTER),
            expect(r"Step 3/3 : RUN cat /one"),
            expect(r"build succeeded: image [0-9a-f]{12}"),
        ],
        exit_code=0,
    )
    log = player(scenario, project)  # type: ignore[operator]
    assert (project / "Dockerfile").read_text() == FIXED
    # The diff shown is the change written.
    assert unified_diff(FAILING, FIXED, "Dockerfile").replace("\n", "") in (
        log.replace("\r", "").replace("\n", "")
    )
    backups = list((state / "dbugbuild" / "backups").glob("*/Dockerfile.~1~"))
    assert [b.read_text() for b in backups] == [FAILING]
    assert _leftovers(engine) == []


@pytest.mark.docker
def test_writeback_add_keeps_order_then_continue(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    text = "FROM busybox\nRUN cat /opt/app/conf\n"
    project = _project(tmp_path, text)
    scenario = Scenario(
        name="add-continue",
        dockerfile=text,
        steps=[
            expect(PROMPT),
            send(CTRL_U + "mkdir -p /opt/app" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            send(CTRL_U + ":add" + ENTER),
            expect(r"\+RUN mkdir -p /opt/app\n"),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(r"wrote Dockerfile"),
            expect(PROMPT),
            send(CTRL_U + "echo ok > /opt/app/conf" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            send(CTRL_U + ":add" + ENTER),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(r"wrote Dockerfile"),
            expect(PROMPT),
            send(CTRL_U + ":continue" + ENTER),
            expect(r"build succeeded"),
        ],
        exit_code=0,
    )
    play_in_process(scenario, project)
    assert (project / "Dockerfile").read_text() == (
        "FROM busybox\nRUN mkdir -p /opt/app\nRUN echo ok > /opt/app/conf\nRUN cat /opt/app/conf\n"
    )
    assert _leftovers(engine) == []


@pytest.mark.docker
def test_writeback_refuses_a_dockerfile_edited_meanwhile(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    project = _project(tmp_path, FAILING)
    edited = FAILING + "# edited in another window\n"
    scenario = Scenario(
        name="edited-meanwhile",
        dockerfile=FAILING,
        steps=[
            expect(PROMPT),
            send(CTRL_U + "cat /one" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            do(lambda: (project / "Dockerfile").write_text(edited), "edit the Dockerfile"),
            send(CTRL_U + ":apply" + ENTER),
            expect(r"Dockerfile changed on disk since dbugbuild read it; nothing was written"),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=1,
    )
    play_in_process(scenario, project)
    assert (project / "Dockerfile").read_text() == edited
    assert not (state / "dbugbuild" / "backups").exists()


@pytest.mark.docker
def test_writeback_crlf_comments_and_multi_line_survive(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    text = (
        "# escape is the default\r\n"
        "FROM busybox\r\n"
        "# the chain below\r\n"
        "RUN echo first && \\\r\n"
        "    # a comment in the chain\r\n"
        "    false\r\n"
        "# trailing comment\r\n"
    )
    project = _project(tmp_path, text)
    scenario = Scenario(
        name="crlf",
        dockerfile=text,
        steps=[
            expect(r"echo first && \\\n"),  # pre-typed with its lines
            expect(PROMPT),
            # Replace the last line: Ctrl-U clears it, the first line stays.
            send(CTRL_U + "    echo second" + ENTER),
            expect(r"first\nsecond\n"),
            expect(r"exit code 0 "),
            expect(PROMPT),
            # The buffer holds two lines again: Ctrl-C clears all of it, Ctrl-U only a line.
            send(CTRL_C),
            expect(PROMPT),
            send(":apply" + ENTER),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(r"wrote Dockerfile"),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=1,
    )
    play_in_process(scenario, project)
    assert (project / "Dockerfile").read_bytes() == (
        b"# escape is the default\r\n"
        b"FROM busybox\r\n"
        b"# the chain below\r\n"
        b"RUN echo first && \\\r\n"
        b"    echo second\r\n"
        b"# trailing comment\r\n"
    )


@pytest.mark.docker
def test_writeback_apply_option_with_subfolder_dockerfile(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    project = _project(tmp_path, FAILING, "docker/Dockerfile")
    os.chmod(project / "docker" / "Dockerfile", 0o640)
    run = run_cli(
        ["-f", "docker/Dockerfile", "--no-cache", "--format", "json", "--apply", "cat /one",
         "--yes", "."],
        project,
    )  # fmt: skip
    report = run.json()
    try:
        assert run.code == 0
        assert report["exec"][-1] == {"command": "cat /one", "exit_code": 0, "output": "one\n"}
        assert "--apply: wrote docker/Dockerfile" in report["notes"]
        assert (project / "docker" / "Dockerfile").read_text() == FIXED
        assert stat.S_IMODE(os.stat(project / "docker" / "Dockerfile").st_mode) == 0o640
        assert "+RUN cat /one" in run.stderr  # the diff, beside the machine output
        assert sorted(p.name for p in (project / "docker").iterdir()) == ["Dockerfile"]
    finally:
        remove_build(engine, report)


@pytest.mark.docker
def test_writeback_apply_option_line_separator_in_a_comment_edits_the_failing_line(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    # Issue 13, item 1: a U+2028 pasted into a comment made the rewrite count one line more
    # than the builder does; --apply then deleted `ENV A=1` and kept the failing RUN.
    text = "FROM busybox:latest\n# wiki:\u2028keep\nENV A=1\nRUN exit 3\n"
    project = _project(tmp_path, text)
    run = run_cli(
        ["--no-cache", "--format", "json", "--apply", "echo fixed", "--yes", "."], project
    )
    report = run.json()
    try:
        assert (run.code, report["failed_step"]["line"]) == (0, 4)
        assert (project / "Dockerfile").read_bytes() == (
            "FROM busybox:latest\n# wiki:\u2028keep\nENV A=1\nRUN echo fixed\n".encode()
        )
    finally:
        remove_build(engine, report)


@pytest.mark.docker
def test_writeback_apply_option_failing_command_writes_nothing(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    project = _project(tmp_path, FAILING)
    run = run_cli(["--no-cache", "--format", "json", "--apply", "cat /nope", "--yes", "."], project)
    report = run.json()
    try:
        assert run.code == 1
        assert "--apply: not written: the command exited 1" in report["notes"]
        assert (project / "Dockerfile").read_text() == FAILING
    finally:
        remove_build(engine, report)


def test_writeback_apply_option_needs_yes_without_terminal(tmp_path: Path) -> None:
    project = _project(tmp_path, FAILING)
    run = run_cli(["--apply", "true", "."], project)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr == (
        "dbugbuild: error: --apply cannot ask before writing: stdin is not a terminal. "
        "Add --yes to write without asking\n"
    )


def test_writeback_stdin_dockerfile_is_refused(tmp_path: Path) -> None:
    from dbugbuild.errors import UsageError

    with pytest.raises(UsageError, match="a Dockerfile read from stdin cannot be written back"):
        DockerfileFile.open("-", "-", "FROM x\n", str(tmp_path))


def test_writeback_file_atomic_backups_numbered(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("v1\n")
    file = DockerfileFile.open(str(path), "Dockerfile", "v1\n", str(tmp_path / "state"))
    first = file.write("v2\n")
    second = file.write("v3\n")
    assert path.read_text() == "v3\n"
    assert (first.name, first.read_text()) == ("Dockerfile.~1~", "v1\n")
    assert (second.name, second.read_text()) == ("Dockerfile.~2~", "v2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "state"]  # no temp left
    path.write_text("someone else\n")
    with pytest.raises(DockerfileChangedError):
        file.write("v4\n")
    assert path.read_text() == "someone else\n"


@pytest.mark.docker
def test_writeback_continue_reopens_at_the_next_failure(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    text = "FROM busybox\nRUN test -e /a\nRUN cat /b\n"
    project = _project(tmp_path, text)
    scenario = Scenario(
        name="continue-next-failure",
        dockerfile=text,
        steps=[
            expect(r"debugging Dockerfile:2"),
            expect(PROMPT),
            send(CTRL_U + "touch /a" + ENTER),
            expect(r"exit code 0 "),
            expect(PROMPT),
            send(CTRL_U + ":apply" + ENTER),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(PROMPT),
            send(CTRL_U + ":continue" + ENTER),
            expect(r"debugging Dockerfile:3: RUN failed with exit code 1"),  # a new session
            expect(r"dbugbuild> cat /b"),  # with the new failing command pre-typed
            send(CTRL_D),
        ],
        exit_code=1,
    )
    play_in_process(scenario, project)
    assert (project / "Dockerfile").read_text() == "FROM busybox\nRUN touch /a\nRUN cat /b\n"
    assert _leftovers(engine) == []


@pytest.mark.docker
def test_writeback_continue_after_no_cache_reuses_the_first_build(
    engine: Engine, no_leaks: None, tmp_path: Path, state: Path
) -> None:
    """--no-cache refreshed every layer the first build made: `:continue` takes them from the
    cache (as the session's help says) instead of running every step again."""
    project = _project(tmp_path, FAILING)
    scenario = Scenario(
        name="continue-after-no-cache",
        dockerfile=FAILING,
        steps=[
            expect(PROMPT),
            send(CTRL_U + ":apply cat /one" + ENTER),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(PROMPT),
            send(CTRL_U + ":continue" + ENTER),
            expect(r"Step 2/3 : RUN echo one > /one\n ---> Using cache\n"),
            expect(r"build succeeded"),
        ],
        exit_code=0,
        args=("--no-cache",),
    )
    play_in_process(scenario, project)
    assert _leftovers(engine) == []

"""A write-back the file system refuses (issue 13, item 8): an immutable Dockerfile or a
folder that takes no new file. It said "internal error: PermissionError" and ended the session
(exit 3), leaving a backup of a write that never happened; now: one clear line, the session
goes on, no backup and no temporary file, and --apply exits 73 after its report."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import remove_build, run_cli
from dbugbuild.debug.writeback import DockerfileFile
from dbugbuild.engine import Engine
from dbugbuild.errors import ExitCode, WriteRefusedError
from scenarios import CTRL_D, CTRL_U, ENTER, Scenario, expect, play_in_process, send

FAILING = "FROM busybox\nRUN echo one > /one\nRUN cat /missing-file\n"


@contextlib.contextmanager
def refusing(path: Path) -> Iterator[None]:
    """`path` (a file or a folder) refuses writes even to root: immutable (chattr +i); for
    a user that cannot set it, a folder without write permission."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:  # root writes through any mode: only +i refuses
            pytest.skip("chattr is not installed (e2fsprogs): root needs it to refuse a write")
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o555)
    try:
        yield
    finally:
        path.chmod(mode)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_refused_write_leaves_no_backup_and_no_temporary(tmp_path: Path, what: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = project / "Dockerfile"
    path.write_text("v1\n")
    if what == "file" and os.geteuid() != 0:
        pytest.skip("an immutable file needs root (chattr +i)")
    file = DockerfileFile.open(str(path), "Dockerfile", "v1\n", str(tmp_path / "state"))
    with refusing(path if what == "file" else project), pytest.raises(WriteRefusedError) as caught:
        file.write("v2\n")
    assert str(caught.value).startswith("cannot write Dockerfile: ")
    assert "nothing was written" in str(caught.value)
    assert caught.value.exit_code == ExitCode.CANNOT_WRITE == 73
    assert path.read_text() == "v1\n" and file.text == "v1\n"
    assert [p.name for p in project.iterdir()] == ["Dockerfile"]
    backups = tmp_path / "state" / "dbugbuild" / "backups"
    assert not backups.exists() or not any(backups.rglob("*~"))
    assert file.write("v2\n").read_text() == "v1\n"  # writable again: written, backed up


@pytest.mark.docker
def test_apply_in_a_session_into_an_immutable_dockerfile_keeps_the_session(
    engine: Engine, no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("an immutable file needs root (chattr +i)")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(FAILING)
    scenario = Scenario(
        name="apply-refused",
        dockerfile=FAILING,
        steps=[
            expect("dbugbuild>"),
            send(CTRL_U + "cat /one" + ENTER),
            expect(r"exit code 0 "),
            expect("dbugbuild>"),
            send(CTRL_U + ":apply" + ENTER),
            expect(r"write Dockerfile\?"),
            send("y" + ENTER),
            expect(r"dbugbuild: cannot write Dockerfile: Dockerfile refuses the write"),
            expect("dbugbuild>"),
            send(CTRL_U + "echo still-here" + ENTER),  # the session went on
            expect(r"still-here"),
            expect("dbugbuild>"),
            send(CTRL_D),
        ],
        exit_code=1,
    )
    with refusing(project / "Dockerfile"):
        play_in_process(scenario, project)
    assert (project / "Dockerfile").read_text() == FAILING
    assert not any((tmp_path / "state").rglob("*~"))


@pytest.mark.docker
def test_apply_option_into_a_read_only_folder_exits_73_after_the_report(
    engine: Engine, no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(FAILING)
    args = ["--no-cache", "--format", "json", "--apply", "cat /one", "--yes", "."]
    with refusing(project):
        run = run_cli(args, project)
    report = run.json()
    try:
        assert run.code == 73, run.stderr
        errors = [line for line in run.stderr.splitlines() if "error" in line]
        assert errors == [
            f"dbugbuild: error: cannot write Dockerfile: its folder {project} refuses the "
            f"write ({errors[0].split('(', 1)[1].split(')')[0]}); nothing was written. Make "
            "it writable and :apply again, or copy the fix from the diff above"
        ]
        assert any(n.startswith("--apply: not written: cannot write") for n in report["notes"])
        assert (project / "Dockerfile").read_text() == FAILING
        assert [p.name for p in project.iterdir()] == ["Dockerfile"]
        assert not any((tmp_path / "state").rglob("*~"))
    finally:
        remove_build(engine, report)

"""The Podman backend end to end on real Podman (bookworm's 4.3.1, rootful, the tests' private
containers.conf): the held-out style checks, --exec/--retry/--apply in the reconstructed step
environment, the auto choice, a pty session, SIGTERM, `clean`, and no trace left: no container,
no image of a session, no private Podman service or its folder."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

import podman_harness
from conftest import Run, note_build_output, own_label, run_cli
from dbugbuild.debug.stepenv import StepEnv
from dbugbuild.debug.workspace import Workspace
from dbugbuild.engine import Engine
from scenarios import CTRL_U, ENTER, Scenario, expect, play_in_pty, send
from test_workspace import PODMAN_CASES, workspace_of

pytestmark = pytest.mark.podman

PODMAN = ("--backend", "podman")


@dataclass(frozen=True)
class Case:
    """A failing build and what dbugbuild must say about it on Podman."""

    name: str
    dockerfile: str
    line: int
    stage: str | None
    index: tuple[int, int]  # Buildah's STEP i/n of the failing step (per stage)
    exit_code: int  # the build's, and dbugbuild's
    diagnosis: str
    exec: str  # run in the step's environment ...
    exec_output: str  # ... prints this
    retry: int | None  # --retry's exit code; None: the step ran no command
    args: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()


CASES = [
    Case(
        "run-exit-code",
        "FROM busybox\nARG GREETING=hello\nENV APP_HOME=/opt/app\nWORKDIR /opt/app\n"
        'RUN echo "$GREETING from $(pwd)" && exit 3\n',
        line=5,
        stage=None,
        index=(5, 5),
        exit_code=3,
        diagnosis="command-failed",
        exec='echo "$GREETING $APP_HOME $(pwd)"',
        exec_output="hi /opt/app /opt/app\n",  # the --build-arg's value, the ENV, the WORKDIR
        retry=3,
        args=("--build-arg", "GREETING=hi"),
    ),
    Case(
        "missing-command",
        "FROM busybox\nWORKDIR /work\nRUN echo about to && dbugbuild-no-such-command --version\n",
        line=3,
        stage=None,
        index=(3, 3),
        exit_code=127,
        diagnosis="command-not-found",
        exec="pwd",
        exec_output="/work\n",
        retry=127,
    ),
    Case(
        "permission-after-user",
        "FROM busybox\nWORKDIR /srv\nUSER 1234\nRUN touch /etc/dbugbuild-forbidden\n",
        line=4,
        stage=None,
        index=(4, 4),
        exit_code=1,
        diagnosis="permission-denied",
        exec="id -u; pwd",
        exec_output="1234\n/srv\n",
        retry=1,
    ),
    Case(
        "target-stage",
        "FROM busybox AS base\nRUN mkdir -p /opt/base && echo base > /opt/base/marker\n\n"
        "FROM base AS builder\nWORKDIR /build\nENV STAGE=builder\n"
        "RUN cat /opt/base/marker && cat /build/artifact.txt\nRUN echo never reached\n\n"
        "FROM busybox\nCOPY --from=builder /build/marker /marker\n",
        line=7,
        stage="builder",
        index=(4, 5),
        exit_code=1,
        diagnosis="missing-file",
        exec="echo $STAGE; pwd; cat /opt/base/marker",
        exec_output="builder\n/build\nbase\n",
        retry=1,
        args=("--target", "builder"),
    ),
    Case(
        "copy-missing",
        "FROM busybox\nWORKDIR /app\nCOPY present.txt ./\nCOPY missing.txt ./\n",
        line=4,
        stage=None,
        index=(4, 4),
        exit_code=125,  # podman's status for a failure that is no command's
        diagnosis="build-context",
        exec="ls /app",
        exec_output="present.txt\n",
        retry=None,
        files=(("present.txt", "here\n"),),
    ),
]


def _project(tmp_path: Path, dockerfile: str, files: tuple[tuple[str, str], ...] = ()) -> Path:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    for name, text in files:
        (tmp_path / name).write_text(text)
    return tmp_path


def _dbugbuild(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_cli([*PODMAN, "--format", "json", *args, "."], tmp_path, env=env)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_podman_held_out_checks(podman_no_leaks: None, tmp_path: Path, case: Case) -> None:
    project = _project(tmp_path, case.dockerfile, case.files)
    run = _dbugbuild(project, *case.args, "--exec", case.exec, "--retry")
    report = run.json()
    failed = report["failed_step"]
    assert report["builder"] == "podman"
    assert (failed["line"], failed["stage"]) == (case.line, case.stage), run.stderr
    assert (failed["index"], failed["total"]) == case.index
    assert report["exit_code"] == case.exit_code
    assert report["diagnosis"]["class"] == case.diagnosis, report["diagnosis"]
    # Podman removes the failed build container: the environment is reconstructed in the last
    # good layer, the image the step before printed (`--> <id>`, 11 hex digits on 4.3).
    assert report["failed_container"] is None
    before = report["steps"][-2]  # the failing step is the last the build ran
    assert report["last_good_image"] == before["image"]
    assert report["last_good_image"] in run.stderr
    assert [(e["exit_code"], e["output"]) for e in report["exec"]] == [(0, case.exec_output)]
    if case.retry is None:
        assert "retry" not in report  # omitted when nothing ran
        assert "nothing to retry" in run.stderr
    else:
        assert report["retry"]["exit_code"] == case.retry
        # The retry prints what the step printed. Buildah copies a RUN's stdout and stderr from
        # two pipes, so the build log may hold their lines in either order (CI saw the stderr
        # line first): compare the lines, not their order across the two streams.
        retried = report["retry"]["output"].splitlines()
        assert sorted(retried) == sorted(failed["output_tail"]), (retried, failed["output_tail"])
    if case.diagnosis == "permission-denied":
        # The diagnosis looked inside the last good layer, through Podman's service.
        assert "layer: /etc is owned by root:root, mode 755" in report["diagnosis"]["evidence"]


def test_podman_saved_log_then_exec_in_its_layers(podman_no_leaks: None, tmp_path: Path) -> None:
    """`--log` of a podman build's saved output: read as Podman's, and while its images are in
    the store --exec runs there; a failure right after the FROM debugs in the base image."""
    _project(tmp_path, "FROM busybox\nRUN echo from-the-log && exit 9\n")
    built = run_cli([*PODMAN, "--no-shell", "."], tmp_path)
    (tmp_path / "build.log").write_text(built.stdout + built.stderr)
    run = run_cli(["--log", "build.log", "--format", "json", "--exec", "echo $0", "."], tmp_path)
    report = run.json()
    assert (report["builder"], report["exit_code"]) == ("podman", 9)
    base = podman_harness.podman("image", "inspect", "--format", "{{.Id}}", "busybox")
    # Buildah printed no id for the FROM: the store named the base (12 hex digits, Docker's
    # short form: the log printed no id to take the length from).
    assert report["last_good_image"] == base.strip()[:12]
    assert report["exec"] == [{"command": "echo $0", "exit_code": 0, "output": "/bin/sh\n"}]


def test_podman_bisect(podman_no_leaks: None, tmp_path: Path) -> None:
    _project(tmp_path, "FROM busybox\nRUN echo a > /a\nRUN rm /bin/vi\nRUN echo b > /b\n")
    run = run_cli(
        ["bisect", *PODMAN, "--format", "json", "--check", "test -e /bin/vi", "."], tmp_path
    )
    out = run.json()
    assert (run.code, out["verdict"]) == (0, "found"), run.stderr
    assert (out["first_bad_step"]["index"], out["first_bad_step"]["line"]) == (3, 3)


def test_podman_build_output_is_relayed_and_the_status_is_the_builds(
    podman_no_leaks: None, tmp_path: Path
) -> None:
    """Report only: podman's own output, live, and its exit status; a success names its id."""
    project = _project(tmp_path, "FROM busybox\nRUN echo built-by-podman\n")
    run = run_cli([*PODMAN, "--no-shell", "."], project)
    assert run.code == 0, run.stderr
    assert "STEP 2/2: RUN echo built-by-podman\nbuilt-by-podman\n" in run.stderr + run.stdout
    assert "build succeeded: image " in run.stdout
    (project / "Dockerfile").write_text("FROM busybox\nRUN exit 42\n")
    run = run_cli([*PODMAN, "--no-shell", "."], project)
    assert run.code == 42
    assert 'Error: building at STEP "RUN exit 42"' in run.stderr + run.stdout


def test_podman_apply_writes_the_fix(podman_no_leaks: None, tmp_path: Path) -> None:
    project = _project(tmp_path, "FROM busybox\nRUN cat /missing-file\n")
    run = _dbugbuild(project, "--apply", "echo fixed", "--yes")
    assert run.code == 0, run.stderr
    assert (project / "Dockerfile").read_text() == "FROM busybox\nRUN echo fixed\n"


def test_podman_shell_comes_from_the_dockerfile_in_docker_format(
    podman_no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Podman's image config has no SHELL: the Dockerfile's is the step's (docker format);
    in the OCI format Buildah ignores it, and so does the reconstructed environment."""
    project = _project(
        tmp_path, 'FROM busybox\nSHELL ["/bin/sh", "-xc"]\nRUN echo traced && exit 5\n'
    )
    monkeypatch.setenv("BUILDAH_FORMAT", "docker")
    docker_format = _dbugbuild(project, "--retry").json()
    # The trace goes to stderr, the echo to stdout: they interleave in any order, even within
    # a line; the trace is there, so the retry ran with `-xc`.
    traced = docker_format["retry"]["output"]
    assert "+ exit 5" in traced and traced.count("traced") == 2, traced
    monkeypatch.setenv("BUILDAH_FORMAT", "oci")
    oci = _dbugbuild(project, "--no-cache", "--retry").json()
    assert oci["retry"]["output"] == "traced\n"
    assert oci["failed_step"]["output_tail"] == ["traced"]


def test_podman_takes_secret_and_build_context(podman_no_leaks: None, tmp_path: Path) -> None:
    """--secret and --build-context reach `podman build` (the classic builder refuses them):
    the RUN reads the secret, the COPY the named context; --builder is buildx's, refused."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("from-the-named-context\n")
    project = tmp_path / "p"
    project.mkdir()
    _project(
        project,
        "FROM busybox\nCOPY --from=extra note.txt /note.txt\n"
        "RUN --mount=type=secret,id=tok cat /note.txt /run/secrets/tok && exit 3\n",
        (("tok.txt", "the-secret-value\n"),),
    )
    run = _dbugbuild(
        project, "--no-shell", "--secret", "id=tok,src=tok.txt", "--build-context", f"extra={extra}"
    )
    report = run.json()
    assert (report["builder"], run.code) == ("podman", 3), run.stderr
    assert report["failed_step"]["output_tail"] == ["from-the-named-context", "the-secret-value"]
    refused = _dbugbuild(project, "--no-shell", "--builder", "b")
    assert (refused.code, refused.stderr) == (
        2,
        "dbugbuild: error: --builder names a buildx builder, and podman was chosen (--backend "
        "podman). Drop it, or build with BuildKit: --backend buildkit\n",
    )


def test_podman_auto_picks_a_podman_endpoint(
    podman_no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOCKER_HOST at a Podman service (a podman-docker set-up): auto builds with Podman and
    uses that service; dbugbuild starts none of its own."""
    sock = tmp_path / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
        project = tmp_path / "p"
        project.mkdir()
        _project(project, "FROM busybox\nRUN exit 6\n")
        run = run_cli(["--format", "json", "--exec", "echo via-the-service", "."], project)
        report = run.json()
        assert (report["builder"], run.code) == ("podman", 0), run.stderr
        assert report["builder_choice"] == {
            "by": "auto",
            "reason": f"the endpoint unix://{sock} (DOCKER_HOST) is a Podman service",
            "line": None,
        }
        assert report["exec"][0]["output"] == "via-the-service\n"
        assert podman_harness.services() == []
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_podman_auto_without_a_docker_cli(podman_no_leaks: None, tmp_path: Path) -> None:
    """No docker CLI on PATH but a podman one: auto builds with Podman, whatever
    DOCKER_BUILDKIT says (neither of docker's builders can run without docker)."""
    path = "/usr/bin:/usr/sbin:/bin:/sbin"  # the docker CLI here is /usr/local/bin's
    assert shutil.which("docker", path=path) is None
    assert shutil.which("podman", path=path) is not None
    _project(tmp_path, "FROM busybox\nRUN exit 7\n")
    env = {**os.environ, "PATH": path, "DOCKER_BUILDKIT": "1"}
    run = run_cli(["--format", "json", "--no-shell", "."], tmp_path, env=env)
    report = run.json()
    assert (report["builder"], run.code) == ("podman", 7), run.stderr
    assert (report["builder_choice"]["by"], report["builder_choice"]["reason"]) == (
        "auto",
        "there is no docker CLI on PATH, but a podman one",
    )


def test_podman_clean_removes_what_a_crashed_run_left(
    podman_no_leaks: None, tmp_path: Path
) -> None:
    """`dbugbuild clean` covers Podman's store: a labelled container and image are removed."""
    mine = own_label()
    container = podman_harness.podman(
        "create", "--label", "dbugbuild.session=crashed", "--label", mine, "busybox", "true"
    ).strip()
    podman_harness.podman(
        "commit", "--change", "LABEL dbugbuild.session=crashed", "--change", f"LABEL {mine}",
        container,
    )  # fmt: skip
    run = run_cli(["clean", "--label", mine], tmp_path)
    assert run.code == 0, run.stderr
    assert "removed 1 container(s), 1 image(s)" in run.stdout
    assert podman_harness.labelled(mine) == []


def test_podman_workspace_on_the_service(podman_no_leaks: None) -> None:
    """The debug layer through Podman's compat API: a command's changes (without Podman's own
    `C /etc`) in the session's container, a commit of it (an id Podman's calls then accept),
    and close() removing it all; the private service stopped with the engine."""
    engine = Engine.connect_podman(dict(os.environ))
    try:
        base = engine.image_id("busybox")
        assert base is not None
        env = StepEnv(
            image=base, command=None, argv=None, exec_form=False, shell=("/bin/sh", "-c"),
            env=("WHO=podman",), user="", workdir="/", network=None, source="reconstructed",
        )  # fmt: skip
        workspace = Workspace(engine, env, uuid.uuid4().hex[:12])
        result = workspace.run(("/bin/sh", "-c", 'echo "$WHO" > /made'))
        assert (result.exit_code, [(c.kind, c.path) for c in workspace.changes()]) == (
            0,
            [("A", "/made")],
        )
        assert workspace.current == base  # nothing committed: the session's container has it
        assert workspace.run(("cat", "/made")).output == "podman\n"
        assert len(podman_harness.labelled(own_label())) == 1  # the session's container
        image = workspace.image()  # committed when something needs an image: an id Podman takes
        assert image != base and engine.image_id(image) == image
        assert len(podman_harness.labelled(own_label())) == 2
        workspace.close()
        assert podman_harness.labelled(own_label()) == []
        assert len(podman_harness.services()) == 1
    finally:
        engine.close()
    assert podman_harness.services() == []


@pytest.mark.parametrize("case", PODMAN_CASES, ids=lambda c: c.__name__.removeprefix("case_"))
def test_podman_workspace_case(podman_no_leaks: None, case: Callable[[Workspace], None]) -> None:
    """The session's execution model (test_workspace.py's cases) on Podman's compat API: its
    execs, the kill of what a command leaves and of an interrupted one, exact exit codes."""
    engine = Engine.connect_podman(dict(os.environ))
    try:
        base = engine.image_id("busybox")
        assert base is not None
        workspace = workspace_of(engine, base)
        try:
            case(workspace)
        finally:
            workspace.close()
        assert podman_harness.labelled(own_label()) == []
    finally:
        engine.close()


FAILING = "FROM busybox\nRUN echo one > /one\nRUN cat /missing-file\n"

SESSION = Scenario(
    name="podman-session",
    dockerfile=FAILING,
    args=PODMAN,
    steps=[
        expect(r"debugging Dockerfile:3: RUN failed with exit code 1: cat: can't open"),
        expect(r"env from: reconstructed \(Podman removes the failed build container\)"),
        expect(r"dbugbuild> cat /missing-file"),
        send(ENTER),
        expect(r"No such file or directory"),
        expect(r"exit code 1 "),
        send(CTRL_U + "touch /made-here && cat /one" + ENTER),
        expect(r"one\n"),
        expect(r"exit code 0 "),
        send(CTRL_U + ":diff" + ENTER),
        expect(r"A /made-here\n"),  # not Podman's own `C /etc` for its mounts
        expect(r"dbugbuild>"),
        send(CTRL_U + ":shell" + ENTER),
        expect(r"/ # "),  # busybox ash's prompt, then the last command typed at it
        expect(r"touch /made-here && cat /one"),
        send(CTRL_U + "echo in-the-shell-$((6*7)); exit" + ENTER),
        expect(r"in-the-shell-42"),
        expect(r"back at the dbugbuild prompt"),
        send(CTRL_U + "echo fixed" + ENTER),
        expect(r"exit code 0 "),
        send(CTRL_U + ":apply" + ENTER),
        expect(r"write Dockerfile\? \[y/N\]"),
        send("y" + ENTER),
        expect(r"wrote Dockerfile"),
        send(CTRL_U + ":continue" + ENTER),
        expect(r"STEP 3/3: RUN echo fixed"),
        expect(r"build succeeded: image [0-9a-f]{11,12}"),
    ],
    exit_code=0,
)


def test_podman_pty_session_leaves_nothing(
    podman_no_leaks: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text(SESSION.dockerfile)
    log = play_in_pty(SESSION, project)
    assert (project / "Dockerfile").read_text() == FAILING.replace(
        "cat /missing-file", "echo fixed"
    )
    assert "diagnosis: missing-file" in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_podman_signal_in_a_session_leaves_nothing(
    podman_no_leaks: None, tmp_path: Path, signum: signal.Signals
) -> None:
    (tmp_path / "Dockerfile").write_text(FAILING)
    child = _spawn(tmp_path)
    child.expect("dbugbuild> ")
    child.send(CTRL_U + "touch /x" + ENTER)  # the session owns an image now
    child.expect("exit code 0 ")
    child.expect("dbugbuild>")
    assert len(podman_harness.services()) == 1  # its private service, running
    os.kill(child.pid, signum)
    _ended_by(child, signum)


def test_podman_sigterm_during_the_build_stops_the_service(
    podman_no_leaks: None, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo started && sleep 60\n")
    child = _spawn(tmp_path, "--no-cache")
    child.expect("started")
    os.kill(child.pid, signal.SIGTERM)
    _ended_by(child, signal.SIGTERM)


def test_podman_ctrl_c_during_the_build_leaves_nothing(
    podman_no_leaks: None, tmp_path: Path
) -> None:
    """Ctrl-C reaches podman build (the terminal's process group) but not the private
    service (its own session): the build stops, its Buildah containers are removed through
    it, then it stops; exit 130."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo started && sleep 60\n")
    child = _spawn(tmp_path, "--no-cache")
    child.expect("started")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    note_build_output(child.logfile_read.getvalue())
    assert child.exitstatus == 130, child.logfile_read.getvalue()
    assert "dbugbuild: interrupted" in child.logfile_read.getvalue()


def test_podman_error_after_the_service_started_stops_it(
    podman_no_leaks: None, tmp_path: Path
) -> None:
    """podman refuses the build before its first step: one error line, the service stopped."""
    _project(tmp_path, "FROM busybox\nRUN true\n")
    run = run_cli([*PODMAN, "--secret", "id=a,src=/nonexistent-dbugbuild", "."], tmp_path)
    assert run.code == 2, run.stderr
    assert run.stderr.splitlines()[-1].startswith(
        "dbugbuild: error: podman build failed before the build started"
    )


def _spawn(cwd: Path, *args: str) -> Any:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dbugbuild", *PODMAN, *args, "."],
        cwd=str(cwd),
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1", "PROMPT_TOOLKIT_NO_CPR": "1"},
        encoding="utf-8",
        timeout=90,
    )
    child.logfile_read = io.StringIO()
    return child


def _ended_by(child: Any, signum: int) -> None:
    child.expect(pexpect.EOF)
    child.close()
    note_build_output(child.logfile_read.getvalue())
    assert child.exitstatus == 128 + signum or child.signalstatus == signum
    assert "cleaned up" in child.logfile_read.getvalue()

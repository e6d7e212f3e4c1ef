"""Debugging a BuildKit build, end to end on the real daemon through the CLI: `--exec` and
`--retry` in the prefix build's layer, the RUN's mounts, the session in a pty, `:apply`
then `:continue`, bisect's prefix builds, and nothing left behind (also after SIGTERM)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

from conftest import docker_api, note_build_output, own_label, own_leftovers, run_cli
from dbugbuild.bisect import probe_budget
from dbugbuild.engine import LABEL, Engine
from scenarios import (
    CTRL_C,
    CTRL_D,
    CTRL_U,
    ENTER,
    Scenario,
    expect,
    play_in_pty,
    send,
    session_in_pty,
)

pytestmark = pytest.mark.docker

PROMPT = r"dbugbuild>"


def _write(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (tmp_path / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name.replace("__", "/")).write_text(text)
    return tmp_path


def _nothing_left(engine: Engine) -> None:
    """No container, image or volume of the test's own, and no prefix image by its tag."""
    deadline = time.monotonic() + 10
    while own_leftovers(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert own_leftovers(engine) == []
    assert engine.labelled_volumes(LABEL, own_label()) == []
    tagged = [
        tag
        for image in docker_api().images(filters={"label": own_label()})
        for tag in image.get("RepoTags") or ()
    ]
    assert tagged == []


STEP_ENV = """\
FROM busybox AS base
ENV FROM_BASE=1
FROM base
ARG TARGETARCH
ARG MODE=fast
ENV GREETING=hello
WORKDIR /work
USER 1000:1000
SHELL ["/bin/sh", "-e", "-c"]
RUN test "$MODE" = slow || exit 7
"""


def test_buildkit_exec_sees_the_step_environment(engine: Engine, tmp_path: Path) -> None:
    work = _write(tmp_path, STEP_ENV)
    probe = "id -u; pwd; echo $GREETING $FROM_BASE $MODE $TARGETARCH; set -o | grep errexit"
    run = run_cli(
        ["--backend", "buildkit", "--build-arg", "MODE=medium", "--exec", probe, "--retry",
         "--format", "json", "."],
        work,
    )  # fmt: skip
    assert run.code == 0, run.stderr  # the last command's status
    report = run.json()
    assert report["builder"] == "buildkit" and report["failed_step"]["line"] == 10
    assert report["retry"]["exit_code"] == 7  # the RUN's own code, as BuildKit ran it
    out = report["exec"][0]["output"].split()
    assert out[:6] == ["1000", "/work", "hello", "1", "medium", "amd64"]
    assert out[6:] == ["errexit", "on"]  # the step's SHELL, -e
    assert "making the last good layer (prefix build, cached) ... done" in run.stderr
    assert "#1 [internal] load build definition" not in run.stderr.split("making the last")[1]
    _nothing_left(engine)


def test_buildkit_exec_platform_arg_given(engine: Engine, tmp_path: Path) -> None:
    work = _write(tmp_path, "FROM busybox\nARG TARGETPLATFORM\nARG BUILDARCH\nRUN exit 3\n")
    run = run_cli(
        ["--platform", "linux/amd64", "--exec", "echo $TARGETPLATFORM [$BUILDARCH]", "."], work
    )
    assert run.code == 0, run.stderr
    assert "linux/amd64 [amd64]" in run.stdout
    _nothing_left(engine)


SECRET = """\
FROM busybox
RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = right
"""


def test_buildkit_secret_mount_given_and_missing(engine: Engine, tmp_path: Path) -> None:
    work = _write(tmp_path, SECRET, **{"tok.txt": "wrong"})
    run = run_cli(
        ["--secret", "id=tok,src=tok.txt", "--exec", "cat /run/secrets/tok", "--retry", "."], work
    )
    assert run.code == 0, run.stderr
    assert "$ cat /run/secrets/tok\nwrong" in run.stdout
    assert "dbugbuild: secret 'tok': at /run/secrets/tok (read-only)" in run.stderr
    assert re.search(r"-- exit code 1 .*\n\$ cat", run.stdout)  # --retry reproduced it
    missing = run_cli(["--exec", "test -e /run/secrets/tok", "."], work)
    assert missing.code == 1
    assert "secret 'tok': not given, so /run/secrets/tok is absent, as in BuildKit" in (
        missing.stderr
    )
    _nothing_left(engine)


CACHE = """\
FROM busybox
RUN --mount=type=cache,target=/var/cache/app,id=app test -f /var/cache/app/warm
"""


def test_buildkit_cache_mount_is_a_volume_removed_after(engine: Engine, tmp_path: Path) -> None:
    work = _write(tmp_path, CACHE)
    run = run_cli(
        ["--exec", "touch /var/cache/app/warm", "--exec", "ls /var/cache/app", "--retry", "."],
        work,
    )
    assert run.code == 0, run.stderr
    assert "ls /var/cache/app\nwarm\n" in run.stdout  # kept across the session's commands
    assert "it starts empty, unlike BuildKit's cache" in run.stderr
    # --retry ran first, in the empty cache: the RUN fails as it did.
    assert re.search(r"\$ test -f /var/cache/app/warm\n-- exit code 1", run.stdout)
    _nothing_left(engine)


HEREDOC = """\
FROM busybox
RUN <<EOT
set -e
echo from the body
exit 5
EOT
"""


def test_buildkit_retry_reproduces_a_heredoc_run(engine: Engine, tmp_path: Path) -> None:
    work = _write(tmp_path, HEREDOC)
    run = run_cli(["--retry", "--format", "json", "."], work)
    assert run.code == 5, run.stderr
    retry = run.json()["retry"]
    assert (retry["exit_code"], retry["output"]) == (5, "from the body\n")
    assert retry["command"] == "<<EOT\nset -e\necho from the body\nexit 5\nEOT"
    _nothing_left(engine)


SESSION = """\
FROM busybox
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/scratch <<EOT
echo building
exit 3
EOT
"""


def test_buildkit_session_banner_mounts_and_pretyped_heredoc(
    engine: Engine, tmp_path: Path
) -> None:
    scenario = Scenario(
        name="buildkit-banner",
        dockerfile=SESSION,
        steps=[
            expect(r"making the last good layer \(prefix build, cached\) \.\.\. done"),
            expect(r"debugging Dockerfile:3"),
            expect(r"buildkit keeps no intermediate images: built up to the failing line"),
            expect(r"env from: prefix build"),
            expect(r"mount: cache '/root/.cache' at /root/.cache: a volume kept for this"),
            expect(r"mount: tmpfs at /scratch"),
            expect(r"dbugbuild> <<EOT"),  # the heredoc RUN pre-typed as written, body and all
            expect(r"\.+ echo building"),
            expect(r"\.+ exit 3"),
            expect(r"\.+ EOT"),
            send(ENTER),
            expect(r"building\n"),
            expect(r"exit code 3 "),
            expect(PROMPT),
            send(CTRL_C),  # the heredoc is pre-typed again: Ctrl-C clears all of its lines
            expect(PROMPT),
            send(":failed" + ENTER),
            expect(r"buildkit keeps no failed state: no container, no layer of the failed step"),
            expect(r"Reproduce it by running the failed step here\? \[y/N\]"),
            send("y" + ENTER),
            expect(r"building\n-- exit code 3"),
            expect(PROMPT),
            send(CTRL_D),
        ],
        exit_code=3,
    )
    (tmp_path / "Dockerfile").write_text(scenario.dockerfile)
    play_in_pty(scenario, tmp_path)
    _nothing_left(engine)


def test_buildkit_apply_then_continue_rebuilds_with_buildkit(
    engine: Engine, tmp_path: Path
) -> None:
    dockerfile = 'FROM busybox\nARG TARGETARCH\nRUN test -z "$TARGETARCH"\nRUN echo after\n'
    scenario = Scenario(
        name="buildkit-apply-continue",
        dockerfile=dockerfile,
        steps=[
            expect(r"dbugbuild> test -z"),
            send(CTRL_U + 'test -n "$TARGETARCH"' + ENTER),
            expect(r"exit code 0 "),
            send(CTRL_U + ":apply" + ENTER),
            expect(r"\[y/N\]"),
            send("y" + ENTER),
            expect(PROMPT),
            send(CTRL_U + ":continue" + ENTER),
            expect(r"#\d+ \[3/3\] RUN echo after"),  # BuildKit's own output: it rebuilt
            expect(r"#\d+ exporting to image"),
        ],
        exit_code=0,
    )
    (tmp_path / "Dockerfile").write_text(scenario.dockerfile)
    log = play_in_pty(scenario, tmp_path)
    # The rebuilt image is the user's (docker build leaves it too): the test's, removed.
    engine.remove_images(set(re.findall(r"writing image (sha256:[0-9a-f]{64})", log)))
    assert 'RUN test -n "$TARGETARCH"\n' in (tmp_path / "Dockerfile").read_text()
    _nothing_left(engine)


def test_buildkit_bisect_probes_are_prefix_builds_within_the_bound(
    engine: Engine, tmp_path: Path
) -> None:
    steps = ["FROM busybox", "RUN touch /marker"]
    steps += [f"RUN echo {n} > /step{n}" for n in range(2, 9)]
    steps.insert(6, "RUN rm /marker")  # the culprit: line 8, after the meta ARG
    work = _write(tmp_path, "\n".join(["ARG TARGETARCH", *steps]) + "\n")
    run = run_cli(
        ["bisect", "--backend", "buildkit", "--check", "test -f /marker", "--format", "json", "."],
        work,
    )
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    final = engine.image_id(result["build"]["image"])  # the build's image: the test's
    engine.remove_images({final} if final else set())
    culprit = result["first_bad_step"]
    assert (culprit["line"], culprit["text"], culprit["index"]) == (8, "RUN rm /marker", 7)
    built = re.findall(
        r"making the layer of step \d+ \(prefix build, cached\) \.\.\. done", run.stderr
    )
    layers = len(steps)
    assert 2 <= len(built) <= 1 + probe_budget(layers)
    assert len(built) == result["probes"]
    assert "each probed layer was a prefix build (cached)" in " ".join(result["notes"])
    _nothing_left(engine)


def test_buildkit_sigterm_in_the_session_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    _write(tmp_path, CACHE)
    child, log = session_in_pty(tmp_path)
    child.send(CTRL_U + "touch /var/cache/app/x /made" + ENTER)  # a commit and a volume's file
    child.expect("exit code 0 ")
    child.expect("dbugbuild>")
    assert engine.labelled_volumes(LABEL, own_label()) != []
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 128 + signal.SIGTERM or child.signalstatus == signal.SIGTERM
    note_build_output(log.getvalue())
    _nothing_left(engine)


SHEBANG = """\
FROM busybox
RUN <<EOT
#!/bin/sh
echo "script as $0"
exit 6
EOT
"""


def test_buildkit_retry_runs_a_shebang_heredoc_as_buildkit_does(
    engine: Engine, tmp_path: Path
) -> None:
    # BuildKit runs a #! heredoc body as a file at /dev/pipes/<name>; so does the debug container.
    work = _write(tmp_path, SHEBANG)
    run = run_cli(["--retry", "--exec", "ls -l /dev/pipes", "."], work)
    assert run.code == 0, run.stderr
    assert "script as /dev/pipes/EOT\n-- exit code 6" in run.stdout
    assert "-rwxr-xr-x" in run.stdout and "the heredoc's #! script at /dev/pipes/EOT" in run.stderr
    _nothing_left(engine)


def test_buildkit_apply_keeps_the_heredoc_form(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = _write(tmp_path / "ctx", "FROM busybox\nRUN <<EOT\necho one\nexit 4\nEOT\nRUN true\n")
    run = run_cli(["--apply", "<<EOT\necho one\nEOT", "--yes", "."], work)
    assert run.code == 0, run.stderr
    assert (work / "Dockerfile").read_text() == "FROM busybox\nRUN <<EOT\necho one\nEOT\nRUN true\n"
    _nothing_left(engine)


def test_buildkit_log_with_its_context_rebuilds_the_prefix_there(
    engine: Engine, tmp_path: Path
) -> None:
    work = _write(tmp_path, "FROM busybox\nENV WHERE=prefix\nRUN exit 3\n")
    built = subprocess.run(
        ["docker", "buildx", "build", "--progress=plain", "."],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 1
    (tmp_path / "ci.log").write_text(built.stdout + built.stderr)
    run = run_cli(["--log", "ci.log", "--exec", "echo $WHERE", "."], work)
    assert run.code == 0, run.stderr
    assert "$ echo $WHERE\nprefix\n" in run.stdout
    without = run_cli(["--log", "ci.log", "--exec", "echo $WHERE"], work)
    assert without.code == 65
    assert without.stderr.endswith(
        "dbugbuild: error: BuildKit keeps no intermediate images, so dbugbuild builds the last "
        "good layer from the build context, and no context was given with --log. Give the "
        "build's context after the log: dbugbuild --log FILE PATH\n"
    )
    _nothing_left(engine)


SHELL_MOUNTS = """\
FROM busybox
RUN --mount=type=cache,target=/var/cache/app --mount=type=secret,id=tok \\
    test -f /var/cache/app/warm
"""


def test_buildkit_shell_has_the_mounts(engine: Engine, tmp_path: Path) -> None:
    scenario = Scenario(
        name="buildkit-shell",
        dockerfile=SHELL_MOUNTS,
        steps=[
            expect(PROMPT),
            send(CTRL_U + ":shell" + ENTER),
            expect(r"/ # [^\n]*test -f /var/cache/app/warm"),  # typed at ash's own prompt
            send(ENTER),  # it fails there too, silently
            expect(r"/ # "),
            send('touch /var/cache/app/warm; echo "tok=[$(cat /run/secrets/tok)]"' + ENTER),
            expect(r"tok=\[t0k\]"),
            send("exit" + ENTER),
            expect(r"back at the dbugbuild prompt"),
            expect(PROMPT),
            send(CTRL_U + "ls /var/cache/app" + ENTER),
            expect(r"warm\n"),  # the shell wrote to the session's cache volume
            expect(r"exit code 0 "),
            send(CTRL_U + ":quit" + ENTER),
        ],
        exit_code=1,
        # Dockerfile 1.10's `env=` is refused by Engine 26's frontend: the secret is a file.
        args=("--secret", "id=tok,env=DBB_TOKEN"),
    )
    (tmp_path / "Dockerfile").write_text(scenario.dockerfile)
    log = play_in_pty(scenario, tmp_path, env={"DBB_TOKEN": "t0k"})
    assert "secret 'tok': at /run/secrets/tok (read-only)" in log
    _nothing_left(engine)


def test_buildkit_diagnosis_looks_inside_the_prefix_image(engine: Engine, tmp_path: Path) -> None:
    # The build left no layer to look in; once the debug phase has built one, the diagnosis
    # looks there (which package manager the layer has).
    work = _write(tmp_path, "FROM debian:bookworm\nARG TARGETARCH\nRUN apk add curl\n")
    report_only = run_cli(["--no-shell", "--format", "json", "."], work).json()
    assert not any(e.startswith("layer:") for e in report_only["diagnosis"]["evidence"])
    run = run_cli(["--exec", "true", "--format", "json", "."], work)
    assert run.code == 0, run.stderr
    diagnosis = run.json()["diagnosis"]
    assert diagnosis["class"] == "command-not-found"
    assert (
        "layer: package manager apt-get (Debian GNU/Linux 12 (bookworm))" in (diagnosis["evidence"])
    )
    _nothing_left(engine)

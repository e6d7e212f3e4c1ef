"""The last good layer of a BuildKit failure on the real daemon: the prefix build, the step's
environment read from it, the RUN's mounts emulated in the debug containers, and nothing
left behind. The whole tool on BuildKit is tests/test_buildkit_debug.py."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import docker_api, own_label, own_leftovers
from dbugbuild import report
from dbugbuild.backends import BuildInputs, DebugLayer, FailureSite
from dbugbuild.backends.buildkit import BuildKitBackend
from dbugbuild.backends.lastgood import prefix_layer
from dbugbuild.debug.workspace import Workspace
from dbugbuild.dockerfile import parse
from dbugbuild.engine import LABEL, Engine
from dbugbuild.errors import BadInputError
from dbugbuild.logs import BuildLog
from dbugbuild.options import BuildOptions

pytestmark = pytest.mark.docker


@pytest.fixture
def daemon() -> Iterator[Engine]:
    """An engine that labels what it makes with the running test's own label."""
    eng = Engine.connect(os.environ)
    yield eng
    eng.close()


def _site(
    workdir: Path, line: int, options: BuildOptions | None = None, said: list[str] | None = None
) -> FailureSite:
    text = (workdir / "Dockerfile").read_text()
    df = parse(text)
    ins = df.instruction_at(line)
    assert ins is not None and ins.stage is not None
    stage = df.stages[ins.stage]
    failed = report.FailedStep(
        1, 1, ins.keyword, ins.line, ins.end_line, stage.name, None, 1, "failed", (), ins, stage
    )
    rep = report.Report(
        "failed", "Dockerfile", None, (), failed, None, None, (), 1, builder="buildkit"
    )
    sink = said if said is not None else []
    inputs = BuildInputs(
        options=options or BuildOptions(),
        cwd=str(workdir),
        env=dict(os.environ),
        dockerfile_text=text,
        dockerfile_file=str(workdir / "Dockerfile"),
        context_given=True,
        say=sink.append,
        show=sink.append,
    )
    return FailureSite(rep, BuildLog((), None, None, ()), df, {}, None, inputs)


def _run(ws: Workspace, command: str) -> tuple[int, str]:
    result = ws.run(ws.env.argv_for(command))
    return result.exit_code, result.output


def _open(daemon: Engine, site: FailureSite, session: str) -> tuple[Workspace, DebugLayer]:
    layer = prefix_layer(BuildKitBackend(), daemon, site, daemon.labels(session))
    ws = Workspace(daemon, layer.env, session, mounts=layer.mounts, secret_env=layer.secret_env)
    return ws, layer


def _own_volumes(daemon: Engine) -> list[str]:
    return daemon.labelled_volumes(LABEL, own_label())


STEP_ENV = """\
ARG BASE=busybox
ARG FROM_META=meta-default
FROM ${BASE} AS base
ENV FROM_BASE=1
FROM base
ARG TARGETARCH
ARG MODE=fast
ARG UNSET
ARG GIVEN
ARG FROM_META
ENV GREETING=hello
WORKDIR /work
USER 1000:1000
SHELL ["/bin/sh", "-e", "-c"]
RUN test "$MODE" = slow
"""


def test_prefix_layer_step_env_from_buildkit(daemon: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(STEP_ENV)
    said: list[str] = []
    opts = BuildOptions(build_args=("GIVEN=yes",))
    site = replace(_site(tmp_path, 15, opts, said), build_args={"GIVEN": "yes"})
    ws, layer = _open(daemon, site, "bkl-env")
    try:
        env = layer.env
        assert env.source == "prefix build"
        assert (env.user, env.workdir, env.shell) == ("1000:1000", "/work", ("/bin/sh", "-e", "-c"))
        assert env.command == 'test "$MODE" = slow'
        assert env.argv == ("/bin/sh", "-e", "-c", 'test "$MODE" = slow')
        assert "TARGETARCH=amd64" in env.env and "MODE=fast" in env.env
        assert "GIVEN=yes" in env.env and not any(e.startswith("UNSET=") for e in env.env)
        assert "FROM_META=meta-default" in env.env  # a meta ARG redeclared in the stage
        code, out = _run(ws, "id -u; pwd; echo $GREETING $FROM_BASE $TARGETARCH $GIVEN")
        assert (code, out.split()) == (0, ["1000", "/work", "hello", "1", "amd64", "yes"])
        assert ws.run(env.argv or ()).exit_code == 1  # --retry: the RUN's own exit code
        # The prefix image carries the session's labels (and so the test's), and a tag.
        info = docker_api().inspect_image(env.image)
        assert info["Config"]["Labels"][LABEL] == "bkl-env"
        assert info["RepoTags"] == ["dbugbuild-prefix-bkl-env:1"]
        assert said[0] == "dbugbuild: making the last good layer (prefix build, cached) ... "
        assert said[1].startswith("done (")
    finally:
        ws.close()
    assert own_leftovers(daemon) == []


MOUNTS = """\
FROM busybox
WORKDIR /app
RUN mkdir /home/u && chown 1000 /home/u
RUN --mount=type=cache,target=/cache,uid=1000,mode=0750 \\
    --mount=type=secret,id=tok \\
    --mount=type=secret,id=envtok,env=TOKEN \\
    --mount=type=secret,id=absent \\
    --mount=type=secret,id=needed,required \\
    --mount=type=bind,source=src,target=data \\
    --mount=type=bind,source=src,target=/rw,rw \\
    --mount=type=tmpfs,target=/scratch,size=1m \\
    exit 9
"""


def test_prefix_layer_mounts_emulated_and_removed(daemon: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(MOUNTS)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "kept.txt").write_text("kept\n")
    (tmp_path / "src" / "ignored.log").write_text("ignored\n")
    (tmp_path / ".dockerignore").write_text("src/*.log\n")
    (tmp_path / "tok.txt").write_text("s3cr3t")
    opts = BuildOptions(secrets=("id=tok,src=tok.txt", "id=envtok,env=DBB_TEST_TOKEN"))
    site = _site(tmp_path, 4, opts)
    assert site.inputs is not None
    site = replace(site, inputs=replace(site.inputs, env={**os.environ, "DBB_TEST_TOKEN": "t0k"}))
    ws, layer = _open(daemon, site, "bkl-mounts")
    try:
        notes = "\n".join(layer.env.emulated)
        assert "cache '/cache' at /cache, owned by 1000:0 mode 750" in notes
        assert "starts empty" in notes
        assert "secret 'needed': NOT GIVEN" in notes and "BuildKit fails this step" in notes
        assert "secret 'absent': not given, so /run/secrets/absent is absent" in notes
        assert "s3cr3t" not in notes and "t0k" not in notes
        assert layer.env.command == "exit 9"
        code, out = _run(
            ws,
            "stat -c '%u %a' /cache; cat /run/secrets/tok; echo; echo $TOKEN; ls /app/data; ls /rw;"
            " touch /rw/new /scratch/x /cache/c; test ! -e /run/secrets/absent; echo made > f",
        )
        assert code == 0, out
        assert out.split() == ["1000", "750", "s3cr3t", "t0k", "kept.txt", "kept.txt"]
        assert not (tmp_path / "src" / "new").exists()  # a rw bind never writes the context
        # Nothing is committed for a command; an image of the session's state (what needs
        # one) keeps the command's files but no secret in its Env.
        assert ws.current == layer.env.image
        committed = docker_api().inspect_image(ws.image())["Config"]["Env"]
        assert not any("t0k" in e for e in committed)
        code, out = _run(ws, "cat f; ls /cache")
        assert out.split() == ["made", "c"]  # the cache volume is kept for the session
        assert len(_own_volumes(daemon)) == 3  # the cache and the two context copies
    finally:
        ws.close()
        if layer.cleanup is not None:
            layer.cleanup()
    assert _own_volumes(daemon) == []
    assert own_leftovers(daemon) == []


def test_prefix_layer_bind_from_a_stage_builds_it(daemon: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox AS tools\nRUN mkdir /out && echo tool > /out/t\n"
        "FROM busybox\nRUN --mount=type=bind,from=tools,source=/out,target=/t "
        "--mount=from=busybox:latest,src=/etc,dst=/img cat /t/t && exit 2\n"
    )
    said: list[str] = []
    ws, layer = _open(daemon, _site(tmp_path, 4, said=said), "bkl-stage")
    try:
        assert "mount: bind tools:/out at /t (read-only)" in layer.env.emulated
        assert "mount: bind busybox:latest:/etc at /img (read-only)" in layer.env.emulated
        assert any("stage tools for a mount" in s for s in said)
        code, out = _run(ws, "cat /t/t; test -f /img/passwd && echo image")
        assert (code, out) == (0, "tool\nimage\n")
    finally:
        ws.close()
    assert _own_volumes(daemon) == [] and own_leftovers(daemon) == []


def test_prefix_layer_failing_prefix_shows_its_log_and_leaves_nothing(
    daemon: Engine, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY missing.txt /\nRUN exit 1\n")
    said: list[str] = []
    with pytest.raises(Exception, match="the prefix build that makes the last good layer"):
        site = _site(tmp_path, 3, said=said)
        prefix_layer(BuildKitBackend(), daemon, site, daemon.labels("bkl-fail"))
    assert said[1] == "failed (exit 1)\n" and "missing.txt" in said[2]
    assert own_leftovers(daemon) == []


def test_prefix_layer_without_a_context_says_what_is_missing(
    daemon: Engine, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 1\n")
    site = _site(tmp_path, 2)
    assert site.inputs is not None
    site = replace(site, inputs=replace(site.inputs, context_given=False))
    with pytest.raises(BadInputError, match="no context was given with --log"):
        prefix_layer(BuildKitBackend(), daemon, site, daemon.labels("bkl-noctx"))


def test_clean_removes_a_crashed_sessions_volumes(daemon: Engine, tmp_path: Path) -> None:
    from conftest import run_cli

    name = f"dbugbuild-crashed-{own_label().rsplit('=', 1)[1]}-cache-0"
    daemon.create_volume(name, daemon.labels("crashed"))
    run = run_cli(["clean"], tmp_path)
    assert run.code == 0, run.stderr
    assert f"removed volume {name}" in run.stdout.splitlines()
    assert run.stdout.splitlines()[-1].endswith(", 1 volume(s)")
    assert _own_volumes(daemon) == []


def test_prefix_layer_honours_the_dockerfiles_own_dockerignore(
    daemon: Engine, tmp_path: Path
) -> None:
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's:
    # the prefix, written elsewhere, must see it too (or its COPY misses the cache).
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\nRUN exit 3\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("private.txt\n")
    (tmp_path / "private.txt").write_text("not for the image\n")
    (tmp_path / "public.txt").write_text("in\n")
    ws, _ = _open(daemon, _site(tmp_path, 3), "bkl-ignore")
    try:
        code, out = _run(ws, "ls /ctx")
        assert (code, out.split()) == (0, ["Dockerfile", "Dockerfile.dockerignore", "public.txt"])
    finally:
        ws.close()
    assert own_leftovers(daemon) == []


def test_prefix_layer_ssh_agent_socket(daemon: Engine, tmp_path: Path) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp_path / "Dockerfile").write_text(
            "FROM busybox\nRUN --mount=type=ssh,id=agent,required test -z $SSH_AUTH_SOCK\n"
        )
        opts = BuildOptions(ssh=(f"agent={sock}",))
        ws, layer = _open(daemon, _site(tmp_path, 2, opts), "bkl-ssh")
        try:
            assert (
                "ssh 'agent': the agent socket at /run/buildkit/ssh_agent.0" in layer.env.emulated
            )
            code, out = _run(ws, 'echo $SSH_AUTH_SOCK; test -S "$SSH_AUTH_SOCK" && echo socket')
            assert (code, out) == (0, "/run/buildkit/ssh_agent.0\nsocket\n")
        finally:
            ws.close()
    finally:
        agent.terminate()
        agent.wait()
    assert own_leftovers(daemon) == []


def test_clean_counts_a_crashed_sessions_tagged_prefix_image(
    daemon: Engine, tmp_path: Path
) -> None:
    """A session killed with -9 leaves its prefix image, tagged: `clean` removes it and says
    so (removing its last tag removed the image: that was counted as not removed)."""
    from conftest import run_cli

    (tmp_path / "Dockerfile").write_text("FROM busybox\nENV CRASHED=1\nRUN exit 1\n")
    layer = prefix_layer(BuildKitBackend(), daemon, _site(tmp_path, 3), daemon.labels("killed"))
    image = layer.env.image
    run = run_cli(["clean"], tmp_path)
    assert run.code == 0, run.stderr
    assert f"removed image {image.removeprefix('sha256:')[:12]}" in run.stdout.splitlines()
    assert run.stdout.splitlines()[-1] == "dbugbuild clean: removed 0 container(s), 1 image(s)"
    assert daemon.image_id(image) is None

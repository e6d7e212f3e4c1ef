"""`dbugbuild compose` on the real daemon with the real compose plugin (2.26.1): projects of
two or three services built in compose's order, the first failure reported with its service
and debugged (a pty session, --exec, --apply, :continue), bisect --service, and the model
compose itself resolves (.env, an override file, dockerfile_inline).

Each test has a compose project name of its own; what its builds tag is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conftest import PRINTED_CONTAINERS, Run, docker_api, remove_build, run_cli
from dbugbuild.engine import Engine
from scenarios import CTRL_U, ENTER, Scenario, do, expect, play_in_process, play_in_pty, send

pytestmark = pytest.mark.docker

PROMPT = r"dbugbuild>"
VALIDATOR = Draft202012Validator(
    json.loads(resources.files("dbugbuild.report").joinpath("report.schema.json").read_text())
)


@pytest.fixture
def name(engine: Engine) -> Iterator[str]:
    """A compose project name of this test's own; its images (`NAME-*` tags) go afterwards."""
    project = f"dbugbuild-test-compose-{uuid.uuid4().hex[:8]}"
    yield project
    tagged = docker_api().images(name=f"{project}-*")
    engine.remove_images({str(i["Id"]) for i in tagged})


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session histories and write-back backups in the test's folder, not the user's."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def _files(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def _compose(root: Path, name: str, *args: str) -> tuple[Run, list[dict[str, Any]]]:
    """`dbugbuild compose -p NAME ARGS` in `root`; with --format json, its reports."""
    run = run_cli(["compose", "-p", name, *args], root)
    reports = [json.loads(line) for line in run.stdout.splitlines()] if "json" in args else []
    for report in reports:
        assert [e.message for e in VALIDATOR.iter_errors(report)] == []
    return run, reports


def _three_services(root: Path, token: str, dotenv: str | None = None) -> Path:
    """api builds; worker (after api) fails unless QUEUE is `never`; zlast would build."""
    files = {
        "compose.yaml": (
            "services:\n"
            "  zlast:\n    build: ./zlast\n"
            "  worker:\n    build:\n      context: ./worker\n"
            "      args:\n        QUEUE: ${QUEUE:-emails}\n"
            "    depends_on: [api]\n"
            "  api:\n    build: ./api\n"
        ),
        "api/Dockerfile": f"FROM busybox\nRUN echo api-{token}\n",
        "worker/Dockerfile": (
            f'FROM busybox\nARG QUEUE\nRUN echo "worker-{token} queue=$QUEUE" && '
            'test "$QUEUE" = never\n'
        ),
        "zlast/Dockerfile": f"FROM busybox\nRUN echo zlast-{token}\n",
    }
    if dotenv is not None:
        files[".env"] = dotenv
    return _files(root, files)


def test_compose_first_failure_is_reported_with_its_service(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    root = _three_services(tmp_path, name)
    run, reports = _compose(root, name, "--no-shell", "--format", "json")
    try:
        assert run.code == 1, run.stderr[-2000:]
        # api first (worker depends on it), then worker fails; zlast is never built.
        assert [(r["service"], r["status"]) for r in reports] == [
            ("api", "succeeded"),
            ("worker", "failed"),
        ]
        api, worker = reports
        assert api["image"] and engine.image_id(f"{name}-api") == engine.image_id(api["image"])
        assert api["tags"] == [f"{name}-api:latest"]
        failed = worker["failed_step"]
        assert (worker["dockerfile"], failed["line"], failed["instruction"]) == (
            "worker/Dockerfile",
            3,
            "RUN",
        )
        assert f"worker-{name} queue=emails" in failed["output_tail"]
        assert worker["exit_code"] == 1
        assert any(n.startswith("not built after this failure: zlast") for n in worker["notes"])
        assert engine.image_id(f"{name}-zlast") is None
        assert "dbugbuild: building service api (1/3)" in run.stderr
        assert "dbugbuild: building service zlast" not in run.stderr
        # The same in the text report and as gcc lines (from the cache, no new build).
        text = run_cli(["compose", "-p", name, "--no-shell"], root)
        assert text.code == 1
        assert "  service: api\n" in text.stdout
        assert "  --> worker/Dockerfile:3\n  service: worker\n" in text.stdout
        gcc = run_cli(["compose", "-p", name, "--no-shell", "--format", "gcc"], root)
        assert gcc.stdout.startswith("worker/Dockerfile:3:1: error: service worker: RUN failed")
    finally:
        for report in reports:
            remove_build(engine, report)
        for container in PRINTED_CONTAINERS:  # the text and gcc runs' failed containers
            engine.remove_container(container)


def test_compose_exec_sees_the_args_interpolated_from_dotenv(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    root = _three_services(tmp_path, name, dotenv="QUEUE=from-dotenv\n")
    run, reports = _compose(root, name, "--format", "json", "--exec", "echo queue=$QUEUE", "worker")
    try:
        assert run.code == 0, run.stderr[-2000:]  # the status of the last command run
        (report,) = reports  # only the named service
        assert report["service"] == "worker"
        assert f"worker-{name} queue=from-dotenv" in report["failed_step"]["output_tail"]
        assert [(e["command"], e["output"], e["exit_code"]) for e in report["exec"]] == [
            ("echo queue=$QUEUE", "queue=from-dotenv\n", 0)
        ]
        assert engine.image_id(f"{name}-api") is None  # not named: not built
    finally:
        remove_build(engine, report)


def test_compose_session_in_a_pty_names_the_service(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str, state: Path
) -> None:
    root = _three_services(tmp_path, name)
    scenario = Scenario(
        name="compose-session",
        dockerfile="",
        steps=[
            expect(r"building service worker \(2/3\)"),
            expect(r"  --> worker/Dockerfile:3\n  service: worker"),
            expect(r"not built after this failure: zlast"),
            expect(r"debugging worker/Dockerfile:3 \(service worker\): RUN failed with exit code"),
            expect(PROMPT + r' echo "worker-'),  # the failed command, pre-typed
            send(ENTER),
            expect(r"exit code 1 "),
            send(CTRL_U + "echo in-session=$QUEUE" + ENTER),
            expect(r"in-session=emails\n"),
            expect(PROMPT),
            send(CTRL_U + ":quit" + ENTER),
        ],
        exit_code=1,
        args=["compose", "-p", name],
        context=(),
    )
    play_in_pty(scenario, root)
    assert engine.image_id(f"{name}-zlast") is None


def test_compose_continue_carries_on_with_the_next_services(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str, state: Path
) -> None:
    root = _three_services(tmp_path, name)
    worker = root / "worker" / "Dockerfile"

    def fix() -> None:
        worker.write_text(f'FROM busybox\nARG QUEUE\nRUN echo "worker-{name} fixed=$QUEUE"\n')

    scenario = Scenario(
        name="compose-continue",
        dockerfile="",
        steps=[
            expect(r"debugging worker/Dockerfile:3 \(service worker\)"),
            expect(PROMPT),
            do(fix, "fix worker/Dockerfile"),
            send(CTRL_U + ":continue" + ENTER),
            expect(rf"worker-{name} fixed=emails"),
            expect(r"build succeeded: image [0-9a-f]{12} \(" + name + r"-worker:latest\)"),
            expect(r"building service zlast \(3/3\)"),
            expect(r"build succeeded: image [0-9a-f]{12} \(" + name + r"-zlast:latest\)"),
        ],
        exit_code=0,
        args=["compose", "-p", name],
        context=(),
    )
    play_in_process(scenario, root)
    for service in ("api", "worker", "zlast"):
        assert engine.image_id(f"{name}-{service}") is not None, service


def test_compose_every_service_builds(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    root = _three_services(tmp_path, name, dotenv="QUEUE=never\n")
    run, reports = _compose(root, name, "--no-shell", "--format", "json")
    try:
        assert run.code == 0, run.stderr[-2000:]
        assert [(r["service"], r["status"], r["exit_code"]) for r in reports] == [
            ("api", "succeeded", 0),
            ("worker", "succeeded", 0),
            ("zlast", "succeeded", 0),
        ]
        for report in reports:
            tag = f"{name}-{report['service']}"
            assert report["tags"] == [f"{tag}:latest"]
            assert engine.image_id(tag) == engine.image_id(report["image"]), tag
    finally:
        for report in reports:
            remove_build(engine, report)


def test_compose_override_file_changes_the_target(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    root = _files(
        tmp_path,
        {
            "compose.yaml": "services:\n  app:\n    build:\n      context: .\n      target: prod\n",
            "compose.override.yaml": "services:\n  app:\n    build:\n      target: dev\n",
            "Dockerfile": (
                f"FROM busybox AS prod\nRUN echo prod-{name}\n"
                f"FROM prod AS dev\nRUN echo dev-{name} && exit 5\n"
            ),
        },
    )
    reports: list[dict[str, Any]] = []
    try:
        # Only compose.yaml: target prod builds.
        run, prod = _compose(root, name, "-f", "compose.yaml", "--no-shell", "--format", "json")
        reports += prod
        assert (run.code, prod[0]["status"]) == (0, "succeeded")
        # compose reads compose.override.yaml by itself: target dev, which fails.
        run, dev = _compose(root, name, "--no-shell", "--format", "json")
        reports += dev
        assert run.code == 5
        assert (dev[0]["failed_step"]["stage"], dev[0]["failed_step"]["line"]) == ("dev", 4)
    finally:
        for report in reports:
            remove_build(engine, report)


def test_compose_dockerfile_inline_is_debugged_and_never_written(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str, state: Path
) -> None:
    compose_file = (
        "services:\n  inline:\n    build:\n      context: .\n      dockerfile_inline: |\n"
        f"        FROM busybox\n        RUN echo inline-{name} && exit 6\n"
    )
    root = _files(tmp_path, {"compose.yaml": compose_file, "app.txt": "context\n"})
    run, reports = _compose(
        root, name, "--format", "json", "--apply", f"echo fixed-{name}", "--yes"
    )
    try:
        (report,) = reports
        assert report["service"] == "inline"
        assert (report["exit_code"], report["failed_step"]["line"]) == (6, 2)
        temporary = Path(report["dockerfile"])
        assert temporary.name == "Dockerfile" and not temporary.is_relative_to(root)
        assert not temporary.parent.exists()  # removed after the run
        assert any("dockerfile_inline, written to" in n for n in report["notes"])
        assert any(n.startswith("--apply: not written: service inline's") for n in report["notes"])
        assert f"the fixed Dockerfile:\nFROM busybox\nRUN echo fixed-{name}\n" in run.stderr
        assert (root / "compose.yaml").read_text() == compose_file
        assert sorted(p.name for p in root.iterdir()) == ["app.txt", "compose.yaml"]
    finally:
        remove_build(engine, report)


def test_compose_apply_writes_the_services_dockerfile_in_its_subfolder(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str, state: Path
) -> None:
    dockerfile = f"FROM busybox\nRUN cat /missing-{name}\n"
    root = _files(
        tmp_path,
        {
            "compose.yaml": (
                "services:\n  app:\n    build:\n      context: ./src\n"
                "      dockerfile: ../docker/app.Dockerfile\n"
            ),
            "src/app.txt": "the context\n",
            "docker/app.Dockerfile": dockerfile,
        },
    )
    run, reports = _compose(root, name, "--format", "json", "--apply", f"echo ok-{name}", "--yes")
    try:
        (report,) = reports
        assert run.code == 0, run.stderr[-2000:]
        assert report["dockerfile"] == "docker/app.Dockerfile"
        assert "--apply: wrote docker/app.Dockerfile" in report["notes"]
        assert (root / "docker" / "app.Dockerfile").read_text() == (
            f"FROM busybox\nRUN echo ok-{name}\n"
        )
        assert not (root / "src" / "Dockerfile").exists()
    finally:
        remove_build(engine, report)
    # The fixed Dockerfile builds.
    again, built = _compose(root, name, "--no-shell", "--format", "json")
    assert (again.code, built[0]["status"]) == (0, "succeeded")
    remove_build(engine, built[0])


def test_compose_buildkit_only_key_picks_buildkit(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    # Nothing in the Dockerfile needs BuildKit: the compose key additional_contexts does.
    root = _files(
        tmp_path,
        {
            "compose.yaml": (
                "services:\n  app:\n    build:\n      context: .\n"
                "      additional_contexts:\n        extra: ./extra\n"
            ),
            "Dockerfile": (
                f"FROM busybox\nCOPY --from=extra note.txt /note.txt\n"
                f"RUN cat /note.txt && echo bk-{name} && exit 4\n"
            ),
            "extra/note.txt": f"from-the-extra-context-{name}\n",
        },
    )
    # --exec runs in BuildKit's last good layer, a prefix build with the same build context.
    run, reports = _compose(root, name, "--format", "json", "--exec", "cat /note.txt")
    (report,) = reports
    assert run.code == 0, run.stderr[-2000:]  # the status of the last command run
    assert report["exit_code"] == 4
    assert report["exec"][0]["output"] == f"from-the-extra-context-{name}\n"
    assert report["builder"] == "buildkit"
    assert report["builder_choice"] == {
        "by": "auto",
        "reason": "--build-context is an option only BuildKit has",
        "line": None,
    }
    assert f"from-the-extra-context-{name}" in report["failed_step"]["output_tail"]


def test_compose_bisect_service_finds_the_line(
    engine: Engine, no_leaks: None, tmp_path: Path, name: str
) -> None:
    root = _files(
        tmp_path,
        {
            "compose.yaml": "services:\n  other:\n    image: busybox\n  app:\n    build: app\n",
            "app/Dockerfile": (
                f"FROM busybox\nRUN echo {name} > /marker\nRUN echo two-{name}\n"
                f"RUN rm /marker\nRUN echo four-{name}\n"
            ),
        },
    )
    run = run_cli(["bisect", "--service", "app", "-p", name, "--check", "test -f /marker"], root)
    assert run.code == 0, run.stderr[-2000:]
    assert "bisect: step 4 broke it" in run.stdout
    assert "  --> app/Dockerfile:4\n  > 4 | RUN rm /marker" in run.stdout


def test_compose_errors_are_one_line(tmp_path: Path, name: str) -> None:
    root = _three_services(tmp_path, name)
    (root / "compose.yaml").write_text(
        (root / "compose.yaml").read_text() + "  db:\n    image: busybox\n"
    )
    for args, code, said in [
        (["nosuch"], 2, "compose: no such service: nosuch. Name a service of the project"),
        (["db"], 2, "service 'db' has no build section: compose pulls its image (busybox)"),
        (["-f", "nope.yaml"], 66, "compose: open "),
    ]:
        run = run_cli(["compose", "-p", name, *args], root)
        assert (run.code, run.stdout) == (code, ""), run.stderr
        assert run.stderr.startswith(f"dbugbuild: error: {said}"), run.stderr
        assert run.stderr.count("\n") == 1
    (root / "compose.yaml").write_text("services:\n  a:\n    build: ${WHERE:?say where}\n")
    run = run_cli(["compose", "-p", name], root)
    assert run.code == 65
    assert run.stderr == (
        "dbugbuild: error: compose cannot read the project: error while interpolating "
        "services.a.build: required variable WHERE is missing a value: say where. Fix the "
        "compose file ('docker compose config' shows what compose reads)\n"
    )


def test_compose_warnings_are_passed_on(tmp_path: Path, name: str) -> None:
    """compose's own warning (an unset variable) is relayed, and a bad file stops before any
    build: no daemon is asked for anything."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    build:\n      context: .\n      args:\n        X: ${UNSET_X_DB}\n"
        "      dockerfile: missing.Dockerfile\n"
    )
    run = run_cli(["compose", "-p", name, "--no-shell"], tmp_path)
    assert 'dbugbuild: warning: compose: The "UNSET_X_DB" variable is not set.' in run.stderr
    assert (run.code, run.stderr.splitlines()[-1]) == (
        66,
        "dbugbuild: error: service a's Dockerfile missing.Dockerfile does not exist. Check its "
        "build.dockerfile (relative to build.context) in the compose file",
    )


def test_compose_the_plugin_is_2_26_1() -> None:
    done = subprocess.run(
        ["docker", "compose", "version", "--short"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    assert done.stdout.strip().startswith("2.26.1")


def test_compose_standalone_docker_compose_v2_is_asked_without_the_plugin(tmp_path: Path) -> None:
    """No docker CLI on PATH (so no plugin): a docker-compose of v2 resolves the project."""
    from dbugbuild.command_options import ComposeProject
    from dbugbuild.engine.compose import find_cli, resolved

    standalone = shutil.which("docker-compose")
    if standalone is None:
        pytest.skip("no standalone docker-compose here")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-compose").symlink_to(standalone)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    cli = find_cli(env)
    assert (cli.argv, cli.version.split(".")[0]) == ((str(bin_dir / "docker-compose"),), "2")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: .\n")
    data, said = resolved(cli, ComposeProject(name="standalone"), (), env, str(tmp_path))
    assert (data["name"], data["services"]["a"]["build"]["context"], said) == (
        "standalone",
        str(tmp_path),
        "",
    )

"""`dbugbuild compose` and `bisect --service` without a daemon: the command lines, their usage
errors, no Compose CLI at all, and the report of a service in each rendering."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import run_cli
from dbugbuild import report
from dbugbuild.command_options import ComposeProject
from dbugbuild.compose_cli import handles, parse_bisect_args, parse_compose_args
from dbugbuild.errors import UsageError
from dbugbuild.options import BuildOptions


def test_compose_cli_parses_composes_options_and_dbugbuilds() -> None:
    options = parse_compose_args(
        [
            "web", "api", "web", "-f", "a.yaml", "--file", "b.yaml", "--profile", "p",
            "--env-file", "e.env", "--project-directory", "dir", "-p", "name", "--no-cache",
            "--pull", "--backend", "classic", "--format", "json", "--exec", "ls", "--retry",
            "--keep", "--apply", "true", "--yes", "--no-shell", "--color", "never",
        ]
    )  # fmt: skip
    assert options.services == ("web", "api")
    project = ComposeProject(("a.yaml", "b.yaml"), ("p",), ("e.env",), "dir", "name")
    assert options.project == project
    assert options.project.argv() == (
        "--file", "a.yaml", "--file", "b.yaml", "--profile", "p", "--env-file", "e.env",
        "--project-directory", "dir", "--project-name", "name",
    )  # fmt: skip
    run = options.run
    assert run.build == BuildOptions(no_cache=True, pull=True, backend="classic")
    assert (run.format, run.exec, run.retry, run.keep, run.apply, run.yes, run.no_shell) == (
        "json", ("ls",), True, True, "true", True, True,
    )  # fmt: skip
    assert run.compose is None  # set per service


def test_compose_cli_bisect_service() -> None:
    assert handles(["compose"]) and handles(["bisect", "--service=app", "--check", "x"])
    assert not handles(["bisect", "--check", "x", "."]) and not handles(["."])
    options = parse_bisect_args(
        ["--service", "app", "--check", "test -f /x", "-f", "c.yaml", "--until-pass",
         "--stage", "build", "--probe-timeout", "5", "--format", "json"]
    )  # fmt: skip
    assert (options.service, options.project.files) == ("app", ("c.yaml",))
    bisect = options.bisect
    assert (bisect.check, bisect.until_pass, bisect.stage, bisect.probe_timeout) == (
        "test -f /x", True, "build", 5.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["compose", "--build-arg", "X=1"], "unknown option --build-arg for compose. The build's"),
        (["compose", "-t", "x"], "unknown option -t for compose"),
        (["compose", "--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
        (["bisect", "--service", "app"], "the following arguments are required: --check"),
        (["bisect", "--service", "app", "--check", " "], "--check is empty"),
        (["bisect", "--service", "app", "--check", "x", "."], "unexpected argument '.'"),
        (["bisect", "--service", "app", "--check", "x", "--image", "i"], "unknown option --image"),
    ],
)
def test_compose_cli_usage_errors_are_one_line(args: list[str], said: str, tmp_path: Path) -> None:
    run = run_cli(args, tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith(f"dbugbuild: error: {said}")
    assert run.stderr.count("\n") == 1


def test_compose_cli_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["compose", "--help"], tmp_path).code == 0
    shown = capsys.readouterr().out  # argparse prints --help itself
    assert shown.startswith("usage: dbugbuild compose [-h]")
    assert "one report per line, a service each" in " ".join(shown.split())
    assert run_cli(["--help"], tmp_path).code == 0
    assert "'dbugbuild compose --help'" in " ".join(capsys.readouterr().out.split())


def test_compose_without_a_compose_cli_is_exit_69(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: .\n")
    run = run_cli(["compose"], tmp_path, env={"PATH": str(empty), "HOME": str(tmp_path)})
    assert run.code == 69
    assert run.stderr == (
        "dbugbuild: error: no Docker Compose CLI was found (neither `docker compose`, the v2 "
        "plugin, nor `docker-compose` on PATH). Install Docker Compose v2: the compose plugin "
        "(Debian trixie: 'apt-get install docker-compose'; Docker's packages: "
        "docker-compose-plugin; https://docs.docker.com/compose/install/)\n"
    )


def test_compose_v1_is_refused_by_name(tmp_path: Path) -> None:
    """A docker-compose that says it is 1.x (bookworm's 1.29.2 prints `1.29.2` for
    `version --short`) is refused before it is asked for a model it cannot print."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker-compose"
    fake.write_text('#!/bin/sh\n[ "$1 $2" = "version --short" ] && echo 1.29.2 && exit 0\nexit 9\n')
    fake.chmod(0o755)
    run = run_cli(["compose"], tmp_path, env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert run.code == 69
    assert run.stderr.startswith(
        "dbugbuild: error: docker-compose 1.29.2 is Compose v1, whose `config` cannot print "
        "the resolved project as JSON. Install Docker Compose v2"
    )


def _failed_report() -> report.Report:
    step = report.FailedStep(
        2, 2, "RUN", 2, 2, None, "false", 1, "The command returned a non-zero code: 1", ()
    )
    return report.Report(
        status="failed", dockerfile="web/Dockerfile", image=None, tags=(), failed_step=step,
        last_good_image="abc", failed_container=None, steps=(), exit_code=1, service="web",
    )  # fmt: skip


def test_compose_report_names_its_service_in_every_rendering() -> None:
    failed = _failed_report()
    assert json.loads(report.render_json(failed))["service"] == "web"
    line = report.render_json(failed, one_line=True)
    assert line.count("\n") == 1 and json.loads(line)["service"] == "web"
    assert "  --> web/Dockerfile:2\n  service: web\n" in report.render_text(failed)
    assert report.render_gcc(failed).startswith("web/Dockerfile:2:1: error: service web: RUN")
    plain = replace(failed, service=None)
    assert "service" not in json.loads(report.render_json(plain))
    assert "service" not in report.render_text(plain)
    built = replace(failed, status="succeeded", failed_step=None, image="sha256:1", exit_code=0)
    assert report.render_text(built).splitlines()[1] == "  service: web"


def test_compose_project_argv_is_empty_by_default() -> None:
    assert ComposeProject().argv() == ()
    with pytest.raises(UsageError):
        parse_compose_args(["--no-such"])

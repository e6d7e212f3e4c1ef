"""The CLI's contract without a build: arguments, input errors, exit codes, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli
from dbugbuild import __version__
from dbugbuild.arguments import parse_args, parse_clean_args
from dbugbuild.command_options import CleanOptions
from dbugbuild.options import run_labels


def test_parse_args_docker_spelling() -> None:
    opts = parse_args(
        [
            "-f",
            "d/Dockerfile",
            "-t",
            "a:1",
            "--tag",
            "b",
            "--build-arg",
            "X=1",
            "--build-arg",
            "Y",
            "--target",
            "t",
            "--no-cache",
            "--pull",
            "--network",
            "host",
            "--platform",
            "linux/amd64",
            "--label",
            "k=v",
            "ctx",
        ]
    )
    assert opts.build.context == "ctx"
    assert opts.build.file == "d/Dockerfile"
    assert opts.build.tags == ("a:1", "b")
    assert opts.build.build_args == ("X=1", "Y")
    assert (opts.build.target, opts.build.network, opts.build.platform) == (
        "t",
        "host",
        "linux/amd64",
    )
    assert opts.build.no_cache and opts.build.pull
    assert opts.build.labels == ("k=v",)
    assert (opts.format, opts.color, opts.no_shell, opts.log) == ("text", "auto", False, None)


def test_parse_args_options_both_builders_take() -> None:
    """--add-host, --shm-size and --cache-from (Compose's extra_hosts, shm_size, cache_from):
    passed on to the classic builder and to BuildKit alike, as given."""
    from dbugbuild import backends

    opts = parse_args(
        ["--add-host", "db:10.0.0.2", "--add-host=v6:::1", "--shm-size", "268435456",
         "--cache-from", "app:cache", "--cache-from", "type=local,src=/c", "."]
    )  # fmt: skip
    build = opts.build
    assert (build.add_hosts, build.shm_size, build.cache_from) == (
        ("db:10.0.0.2", "v6:::1"), "268435456", ("app:cache", "type=local,src=/c"),
    )  # fmt: skip
    shared = (
        "--add-host", "db:10.0.0.2", "--add-host", "v6:::1", "--shm-size", "268435456",
        "--cache-from", "app:cache", "--cache-from", "type=local,src=/c",
    )  # fmt: skip
    for name in ("classic", "buildkit"):
        argv = backends.backend(name).build_command(build, "/w", None).argv
        assert argv[-len(shared) - 1 :] == (*shared, "."), name


@pytest.mark.parametrize("option", ["--squash", "--force-rm", "-q", "--progress=plain", "--rm"])
def test_cli_unsupported_docker_option_is_named(tmp_path: Path, option: str) -> None:
    run = run_cli([option, "."], tmp_path)
    name = option.split("=")[0]
    assert run.code == 2
    assert run.stderr == (
        f"dbugbuild: error: docker build option {name} is not supported by dbugbuild. "
        "Drop it, or run 'docker build' directly for that build\n"
    )
    assert run.stdout == ""


def test_cli_unknown_option(tmp_path: Path) -> None:
    run = run_cli(["--frobnicate"], tmp_path)
    assert (run.code, run.stderr) == (
        2,
        "dbugbuild: error: unknown option --frobnicate. See 'dbugbuild --help'\n",
    )


def test_cli_bad_format_value(tmp_path: Path) -> None:
    run = run_cli(["--format", "xml"], tmp_path)
    assert run.code == 2
    assert run.stderr.startswith("dbugbuild: error: argument --format: invalid choice: 'xml'")
    assert run.stderr.count("\n") == 1


def test_cli_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(["--version"], tmp_path)
    assert run.code == 0
    assert capsys.readouterr().out == f"dbugbuild {__version__}\n"


def test_cli_missing_context(tmp_path: Path) -> None:
    run = run_cli(["nowhere"], tmp_path)
    assert (run.code, run.stdout) == (66, "")
    assert run.stderr == (
        "dbugbuild: error: build context nowhere does not exist. "
        "Give the folder docker build should use as PATH\n"
    )


def test_cli_missing_dockerfile(tmp_path: Path) -> None:
    run = run_cli(["."], tmp_path)
    assert run.code == 66
    assert run.stderr == (
        "dbugbuild: error: no Dockerfile at Dockerfile. Give its path with -f, or run in its "
        "folder\n"
    )


def test_cli_missing_log(tmp_path: Path) -> None:
    run = run_cli(["--log", "build.log"], tmp_path)
    assert (run.code, run.stderr) == (
        66,
        "dbugbuild: error: no log file at build.log. Give the path of a saved build log\n",
    )


def test_cli_garbage_log(tmp_path: Path) -> None:
    (tmp_path / "build.log").write_bytes(os.urandom(300) + b"\nhello world\n")
    run = run_cli(["--log", "build.log"], tmp_path)
    assert run.code == 65
    assert run.stderr.startswith("dbugbuild: error: build.log is not a docker build log: ")
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_cli_no_daemon_is_one_line_exit_69(tmp_path: Path) -> None:
    # A real connection attempt to a socket nobody listens on: the engine path, not a mock.
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")
    run = run_cli(["."], tmp_path, env=env)
    assert run.code == 69
    assert run.stderr.startswith(
        f"dbugbuild: error: no Docker daemon is reachable at unix://{tmp_path}/no-such.sock"
    )
    assert run.stderr.endswith("at a running daemon\n")
    assert run.stderr.count("\n") == 1


def test_cli_log_from_stdin_garbage(tmp_path: Path) -> None:
    run = run_cli(["--log", "-"], tmp_path, stdin="")
    assert run.code == 65
    assert run.stderr.count("\n") == 1


def test_cli_clean_takes_labels_to_scope_it() -> None:
    assert parse_clean_args([]) == CleanOptions()
    assert parse_clean_args(["--label", "ci.job=7", "--label", "x"]) == CleanOptions(
        labels=("ci.job=7", "x")
    )


def test_cli_clean_refuses_arguments(tmp_path: Path) -> None:
    run = run_cli(["clean", "now"], tmp_path)
    assert (run.code, run.stderr) == (
        2,
        "dbugbuild: error: clean takes no arguments, got now. Run 'dbugbuild clean --help'\n",
    )


@pytest.mark.parametrize("value", ["ci.job", "=1", "a b=1", "k=v w"])
def test_cli_run_labels_malformed_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """DBUGBUILD_LABELS is checked before the daemon is tried: one line, exit 2."""
    run = run_cli(["clean"], tmp_path, env={**os.environ, "DBUGBUILD_LABELS": value})
    assert run.code == 2
    assert run.stderr.startswith("dbugbuild: error: DBUGBUILD_LABELS holds ")
    assert run.stderr.count("\n") == 1


def test_run_labels_parses_pairs() -> None:
    assert run_labels({}) == {}
    assert run_labels({"DBUGBUILD_LABELS": "ci.job=123, runner=a-1,,empty="}) == {
        "ci.job": "123",
        "runner": "a-1",
        "empty": "",
    }

"""Our own arguments are checked before anything runs (issue 13, item 8): a malformed
--build-arg, --label, --secret, --ssh, --build-context, --platform or DBUGBUILD_LABELS is one
line `dbugbuild: error: ...`, exit 2. It was docker's usage text (or its ERROR line) after a
connection and a build start, then our line about docker's. These tests run with no Docker
endpoint: an error that came from a build would be "no daemon" (69), not 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

BAD = [
    ("--build-arg", "=x"),
    ("--build-arg", " =x"),
    ("--label", "=x"),
    ("--secret", "foo"),
    ("--secret", "id=a,bogus=1"),
    ("--secret", "id=a,type=socket"),
    ("--ssh", "=x"),
    ("--ssh", "default=a,,b"),
    ("--build-context", "=x"),
    ("--build-context", "a"),
    ("--build-context", "a="),
    ("--platform", "linux//amd64"),
    ("--platform", ","),
    ("--platform", "a/b/c/d"),
    ("--platform", "linux/amd64,"),
]


@pytest.mark.parametrize(("flag", "value"), BAD, ids=[f"{f}={v}" for f, v in BAD])
def test_malformed_build_flag_is_our_one_line(tmp_path: Path, flag: str, value: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN false\n")
    for args in ([flag, value, "--no-shell", "."], ["bisect", flag, value, "--check", "true"]):
        run = run_cli(args, tmp_path)
        assert (run.code, run.stdout) == (2, ""), run.stderr
        assert run.stderr == (
            f"dbugbuild: error: {flag} '{value}' is malformed: expected "
            f"{run.stderr.split('expected ', 1)[1].split('. Fix')[0]}. Fix {flag}\n"
        )


GOOD = [
    ("--build-arg", "A=1"),
    ("--build-arg", "A"),
    ("--build-arg", "A="),
    ("--label", "k"),
    ("--secret", "id=a,src=a"),
    ("--secret", "id=tok,env=DBB_TOKEN"),
    ("--secret", "id=tok,type=env,env=X"),
    ("--secret", "src=a"),
    ("--ssh", "default"),
    ("--ssh", "key=/a,/b"),
    ("--build-context", "base=../base"),
    ("--build-context", "img=docker-image://busybox:latest"),
    ("--platform", "linux/amd64"),
    ("--platform", "linux/arm64/v8,linux/amd64"),
    ("--platform", "linux"),
    ("--platform", "windows(10.0.17763)/amd64"),
]


@pytest.mark.parametrize(("flag", "value"), GOOD, ids=[f"{f}={v}" for f, v in GOOD])
def test_well_formed_build_flag_passes_the_check(tmp_path: Path, flag: str, value: str) -> None:
    """Accepted: the run goes on to look for a daemon, which this test has none of (69)."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN false\n")
    run = run_cli([flag, value, "--no-shell", "."], tmp_path)
    assert "is malformed" not in run.stderr
    assert run.code == 69, run.stderr


@pytest.mark.parametrize("labels", ["=x", "a b=c", "x", "k=v,=y"])
def test_malformed_run_labels_stop_before_a_log_is_read(tmp_path: Path, labels: str) -> None:
    """DBUGBUILD_LABELS was checked only when an engine connected: a --log run read (and
    refused) its log first."""
    log = tmp_path / "build.log"
    log.write_text("")
    env = {"DBUGBUILD_LABELS": labels}
    for args in (["--log", str(log)], ["clean"], ["--no-shell", "."]):
        run = run_cli(args, tmp_path, env={**_environ(), **env})
        assert run.code == 2, run.stderr
        assert run.stderr.startswith("dbugbuild: error: DBUGBUILD_LABELS holds ")
        assert run.stderr.count("\n") == 1


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)

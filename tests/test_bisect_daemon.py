"""`dbugbuild bisect` on the real daemon: each case of issue 5 builds a small busybox Dockerfile
(--no-cache) and finds the line that changed the check, probing the layers as session commands
run (the step's SHELL, USER, WORKDIR, Env and build ARGs); probes leave nothing behind."""

from __future__ import annotations

import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, docker_api, note_build_output, own_label, remove_build, run_cli
from dbugbuild.engine import Engine

pytestmark = pytest.mark.docker


def _bisect(tmp_path: Path, text: str, *args: str) -> tuple[Run, dict[str, Any]]:
    """`dbugbuild bisect --no-cache --format json ARGS .` on a Dockerfile of `text`."""
    (tmp_path / "Dockerfile").write_text(text)
    run = run_cli(["bisect", "--no-cache", "--format", "json", *args, "."], tmp_path)
    assert run.stdout, run.stderr
    return run, run.json()


def _most(layers: int) -> int:
    """Probes allowed: the final layer, then ceil(log2 n) + 2."""
    return 1 + math.ceil(math.log2(layers)) + 2


def _assert_nothing_left(engine: Engine, out: dict[str, Any]) -> None:
    """No labelled container or image grew from the bisected layers: probes commit nothing."""
    api = docker_api()
    layers = {engine.image_id(p["image"]) for p in out["probe_log"]}
    labelled = api.images(all=True, filters={"label": own_label()})
    assert not [i["Id"] for i in labelled if i.get("ParentId") in layers]
    containers = api.containers(all=True, filters={"label": own_label()})
    assert not [c["Id"] for c in containers if c["ImageID"] in layers]


def _step(out: dict[str, Any], key: str) -> tuple[Any, ...]:
    step = out[key]
    return (step["index"], step["line"], step["instruction"], step["text"])


def test_bisect_file_removed_by_find(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """The check also writes a file: a probe's changes are never committed."""
    run, out = _bisect(
        tmp_path,
        "FROM busybox\n"
        "RUN mkdir -p /app && echo conf > /app/app.conf\n"
        "ENV A=1\n"
        "RUN echo step > /step\n"
        "RUN find /etc /app -name 'group' -exec rm {} +\n"
        "RUN echo more > /more\n"
        "LABEL done=yes\n",
        "--check",
        "touch /tmp/probe && test -f /etc/group",
    )
    try:
        assert run.code == 0
        assert _step(out, "first_bad_step") == (
            5,
            5,
            "RUN",
            "RUN find /etc /app -name 'group' -exec rm {} +",
        )
        assert _step(out, "last_good_step")[:2] == (4, 4)
        assert out["first_bad_step"]["end_line"] == 5
        assert out["verdict"] == "found" and out["inconsistent"] is False
        assert out["layers"] == 7
        assert out["probes"] == len(out["probe_log"]) <= _most(7)
        assert out["probe_log"][0]["index"] == 7  # the final layer first
        outcomes = {p["index"]: p["exit_code"] for p in out["probe_log"]}
        assert outcomes[5] == 1 and outcomes[4] == 0
        assert out["build"]["status"] == "succeeded"
        _assert_nothing_left(engine, out)
    finally:
        remove_build(engine, out["build"])


def _built_images(output: str) -> list[str]:
    """The images a --no-cache build printed for its non-FROM steps, in order."""
    images, keyword = [], ""
    for line in output.splitlines():
        step = re.match(r"Step \d+/\d+ : (\S+)", line)
        if step:
            keyword = step.group(1).upper()
        image = re.match(r" ---> ([0-9a-f]{12})$", line)
        if image and keyword != "FROM":
            images.append(image.group(1))
    return images


_HELLO = (
    "RUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho hi\\n' > /usr/local/bin/hello "
    "&& chmod +x /usr/local/bin/hello\n"
)


def _remove_printed(engine: Engine, output: str) -> None:
    """Remove what a --no-cache build printed: its steps' containers (if kept) and images."""
    for container in re.findall(r"^ ---> Running in ([0-9a-f]{12})$", output, re.M):
        engine.remove_container(container)
    for image in reversed(_built_images(output)):
        engine.remove_image(image)


def test_bisect_path_broken_by_env_gcc(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A metadata-only step is the culprit; gcc output is one line at its line. (A busybox
    applet such as `ls` runs whatever PATH says: the check is a script found on PATH.)"""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nWORKDIR /srv\n" + _HELLO + "ENV PATH=/nowhere\nLABEL a=b\n"
    )
    run = run_cli(["bisect", "--no-cache", "--format", "gcc", "--check", "hello", "."], tmp_path)
    try:
        assert run.code == 0, run.stderr
        assert run.stdout == (
            "Dockerfile:4:1: error: bisect: step 4 broke it: `hello` passes before it and "
            "fails from it on\n"
        )
        # The base layer has no hello either: the latest transition, and a note saying so.
        assert "dbugbuild: warning: the check fails at the first layer (step 1) too" in run.stderr
    finally:
        _remove_printed(engine, run.stderr)


def test_bisect_check_needs_the_step_user(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """Each probe runs as its layer's USER, in its WORKDIR: the USER step is the culprit."""
    run, out = _bisect(
        tmp_path,
        "FROM busybox\n"
        "RUN mkdir /data && echo secret > /data/s && chmod 700 /data\n"
        "WORKDIR /data\n"
        "USER 1234\n"
        "RUN true\n"
        "LABEL x=1\n",
        "--check",
        'echo "$(id -u) $PWD"; cat /data/s',
    )
    try:
        assert run.code == 0
        assert _step(out, "first_bad_step") == (4, 4, "USER", "USER 1234")
        assert _step(out, "last_good_step")[:3] == (3, 3, "WORKDIR")
        log = {p["index"]: p for p in out["probe_log"]}
        # The probe's stdout and stderr come back through the Engine's multiplexed log
        # stream, which does not keep their relative order: compare the lines, not the order.
        assert sorted(log[4]["output"].splitlines(keepends=True)) == sorted(
            ["1234 /data\n", "cat: can't open '/data/s': Permission denied\n"]
        )
        assert log[3]["output"] == "0 /data\nsecret\n"  # one stream: in order
        _assert_nothing_left(engine, out)
    finally:
        remove_build(engine, out["build"])


_STATUS = "FROM busybox\nRUN echo broken > /status\nENV X=1\nRUN echo ok > /status\nLABEL y=2\n"


def test_bisect_until_pass_and_the_image_answers(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    """--until-pass finds the step that made it pass; on the same image (--image, no build)
    the default question has no culprit (exit 4), a check failing everywhere none (exit 5),
    and a probe that runs too long is killed and counts as failing."""
    run, out = _bisect(tmp_path, _STATUS, "--until-pass", "--check", "grep -qx ok /status")
    try:
        assert run.code == 0
        assert _step(out, "first_bad_step") == (4, 4, "RUN", "RUN echo ok > /status")
        assert out["until_pass"] is True and out["inconsistent"] is False
        final = out["build"]["image"]

        shown = run_cli(["bisect", "--image", final, "--check", "grep -qx ok /status"], tmp_path)
        assert shown.code == 4
        assert shown.stdout.startswith(
            "\nbisect: no culprit: `grep -qx ok /status` passes in the final layer"
        )
        assert "use --until-pass to find the step that made it pass" in shown.stdout

        never = run_cli(
            [
                "bisect",
                "--image",
                final,
                "-f",
                "Dockerfile",
                "--check",
                "false",
                "--format",
                "json",
            ],
            tmp_path,
        )
        assert never.code == 5
        assert never.json()["verdict"] == "no-transition"

        slow = run_cli(
            [
                "bisect",
                "--image",
                final,
                "-f",
                "Dockerfile",
                "--until-pass",
                "--probe-timeout",
                "1",
                "--check",
                "grep -qx ok /status || sleep 30",
                "--format",
                "json",
            ],
            tmp_path,
        )
        assert slow.code == 0, slow.stderr
        result = slow.json()
        assert _step(result, "first_bad_step")[:2] == (4, 4)
        timed_out = [p for p in result["probe_log"] if p["outcome"] == "timeout"]
        assert timed_out and all(p["seconds"] < 10 for p in timed_out)
        assert any("timed out after 1 s" in n for n in result["notes"])
        _assert_nothing_left(engine, result)
    finally:
        remove_build(engine, out["build"])


def test_bisect_build_failing_partway(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    run, out = _bisect(
        tmp_path,
        "FROM busybox\nRUN echo 1 > /a\nRUN touch /marker\nRUN echo more\nRUN exit 3\n",
        "--check",
        "test ! -e /marker",
    )
    try:
        assert run.code == 0
        assert _step(out, "first_bad_step") == (3, 3, "RUN", "RUN touch /marker")
        assert out["layers"] == 4  # the failing step made none
        assert out["build"]["status"] == "failed"
        assert out["build"]["failed_step"]["exit_code"] == 3
        assert any(n.startswith("the build failed at step 5 (Dockerfile:5") for n in out["notes"])
        # The build's failed container is removed: bisect keeps nothing of the build it made
        # but docker build's own cache.
        assert not engine.container_exists(out["build"]["failed_container"])
        cid = out["build"]["failed_container"]
        assert f"the build's failed container {cid} is removed" in out["notes"]
    finally:
        remove_build(engine, out["build"])


def test_bisect_non_monotonic_until_pass(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """Passes, fails, passes again: the latest transition, and the inconsistency noted."""
    run, out = _bisect(
        tmp_path,
        "FROM busybox\nRUN touch /broken\nENV A=1\nRUN echo x > /x\nRUN rm /broken\nLABEL z=1\n",
        "--until-pass",
        "--check",
        "test ! -e /broken",
    )
    try:
        assert run.code == 0
        assert _step(out, "first_bad_step") == (5, 5, "RUN", "RUN rm /broken")
        assert out["inconsistent"] is True
        assert any("it is not monotonic over the layers" in n for n in out["notes"])
        first = next(p for p in out["probe_log"] if p["index"] == 1)
        assert first["outcome"] == "pass"
    finally:
        remove_build(engine, out["build"])


def test_bisect_image_history(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """An image built by plain `docker build`: its history without a Dockerfile, its lines
    with one; with the Dockerfile the probes see the build ARGs in scope, as a RUN would."""
    text = "FROM busybox\nARG MODE=debug\n" + _HELLO + "ENV PATH=/nowhere\nLABEL a=b\n"
    (tmp_path / "Dockerfile").write_text(text)
    built = subprocess.run(
        ["docker", "build", "--no-cache", "."],
        cwd=tmp_path,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    note_build_output(built.stdout + built.stderr)
    assert built.returncode == 0, built.stderr
    images = _built_images(built.stdout)
    try:
        final = images[-1]
        plain = run_cli(
            ["bisect", "--image", final, "--check", "hello", "--format", "json"], tmp_path
        )
        out = plain.json()
        assert plain.code == 0
        bad = out["first_bad_step"]
        assert (bad["line"], bad["instruction"], bad["text"], bad["image"]) == (
            None,
            "ENV",
            "ENV PATH=/nowhere",
            images[2],
        )
        assert out["dockerfile"] is None and out["image"] == final

        mapped = run_cli(
            ["bisect", "--image", final, "-f", "Dockerfile", "--check", "hello"], tmp_path
        )
        assert mapped.code == 0
        assert mapped.stdout.startswith(
            "\nbisect: step 4 broke it: `hello` passes before it and fails from it on\n"
            "  --> Dockerfile:4\n"
            "  > 4 | ENV PATH=/nowhere\n"
        )

        args = run_cli(
            [
                "bisect",
                "--image",
                final,
                "-f",
                "Dockerfile",
                "--format",
                "json",
                "--check",
                'test "$MODE" != debug',
            ],
            tmp_path,
        )
        assert args.code == 0
        assert _step(args.json(), "first_bad_step") == (2, 2, "ARG", "ARG MODE=debug")
    finally:
        _remove_printed(engine, built.stdout)


def test_bisect_nothing_to_bisect(engine: Engine, no_leaks: None, tmp_path: Path) -> None:
    """A build that made no layer is reported as dbugbuild reports it, with its exit code."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nFROBNICATE x\n")
    run = run_cli(["bisect", "--check", "true", "--format", "json", "."], tmp_path)
    assert run.code == 1
    report = run.json()
    assert report["status"] == "failed" and report["steps"] == []
    assert run.stderr.endswith(
        "dbugbuild: warning: nothing to bisect: the build failed before the stage made a layer; "
        "fix the build first, or give --stage a stage that ran\n"
    )

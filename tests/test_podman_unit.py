"""The Podman backend without Podman: `--log` on recorded Podman 4.3 logs (with the cases'
Dockerfiles), on public Podman 5, 4.6 and 1.x logs; the Buildah family mapped onto the common
model; the per-stage step numbering in locate; podman's argv; the auto rule; what Podman's
/version says; the Dockerfile's SHELL; the diff and folder clean-ups. All hermetic."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, run_cli
from dbugbuild import backends, logs
from dbugbuild.arguments import parse_args
from dbugbuild.backends import choice
from dbugbuild.backends.podman import build_argv, shell_in_effect
from dbugbuild.dockerfile import parse
from dbugbuild.engine import reach
from dbugbuild.engine.podman import is_podman, remove_stale_service_folders, without_mount_noise
from dbugbuild.errors import UsageError
from dbugbuild.logs.buildah import parse as parse_buildah
from dbugbuild.logs.buildah import to_build_log
from dbugbuild.options import BuildOptions

PODMAN = FIXTURES / "podman"
CASES = PODMAN / "cases"

# (case, failed index/total, line, stage, exit code, class, last good image): what the report
# of each recorded Podman 4.3 log says with its case's Dockerfile (and --target), read from
# the logs under tests/fixtures/podman/logs/.
RECORDED = [
    ("run-exit-100", (5, 6), 5, None, 100, "package-manager-misuse", "1db3f08e484"),
    ("run-exit-127", (4, 5), 4, None, 127, "command-not-found", "7a0f61f36ce"),
    ("user-permission", (5, 6), 5, None, 1, "permission-denied", "41f6db85448"),
    ("target-stage", (5, 6), 8, "builder", 1, "missing-file", "3b23a8efe4a"),
    ("multistage-nonfinal", (4, 4), 4, "builder", 1, "missing-file", "ba30a9d0e30"),
    ("copy-missing", (4, 5), 4, None, 125, "build-context", "00dc3571633"),
    ("multiline-run", (3, 4), 3, None, 3, "command-failed", "22e3480d358"),
    ("build-flags", (4, 4), 4, None, 4, "command-failed", "8512d9f31bb"),
    ("missing-base", (1, 2), 1, None, 125, "base-image", None),
    ("missing-base-shortname", (1, 2), 1, None, 125, "base-image", None),
    ("syntax-error-args", (2, 3), 2, None, 125, "dockerfile-syntax", None),
    # The failing RUN follows the FROM: its last good layer is the base, which only the
    # store can name (with no Podman reachable, none).
    ("exec-form", (2, 2), 2, None, 3, "command-failed", None),
]


def _log_report(case: str, name: str | None = None) -> tuple[int, dict[str, Any]]:
    spec = json.loads((CASES / case / "case.json").read_text())
    args = spec["args"]
    target = ["--target", args[args.index("--target") + 1]] if "--target" in args else []
    log = PODMAN / "logs" / f"{name or case}.log"
    run = run_cli(["--log", str(log), "--format", "json", *target], CASES / case)
    return run.code, run.json()


@pytest.mark.parametrize(("case", "index", "line", "stage", "code", "class_", "good"), RECORDED)
def test_podman_log_recorded(
    case: str,
    index: tuple[int, int],
    line: int,
    stage: str | None,
    code: int,
    class_: str,
    good: str | None,
) -> None:
    status, report = _log_report(case)
    failed = report["failed_step"]
    assert report["builder"] == "podman"
    assert (failed["index"], failed["total"]) == index  # Buildah's STEP i/n, per stage
    assert (failed["line"], failed["stage"]) == (line, stage)
    assert status == report["exit_code"] == code
    assert report["diagnosis"]["class"] == class_
    assert report["last_good_image"] == good
    assert report["failed_container"] is None
    assert report["notes"] == []


@pytest.mark.parametrize("case", ["run-exit-127", "target-stage", "copy-missing"])
def test_podman_log_without_cache_reads_alike(case: str) -> None:
    """The --no-cache recording of a case reports the same failure (other ids)."""
    cached, uncached = _log_report(case)[1], _log_report(case, f"{case}.no-cache")[1]
    for key in ("index", "total", "line", "stage", "exit_code", "command"):
        assert cached["failed_step"][key] == uncached["failed_step"][key]


@pytest.mark.parametrize(
    ("case", "image"),
    [("success", "7931e8ec346"), ("multistage-success", "d0d65c25a75")],
)
def test_podman_log_success(case: str, image: str) -> None:
    status, report = _log_report(case)
    assert (status, report["status"], report["image"]) == (0, "succeeded", image)
    assert report["failed_step"] is None


def test_podman_log_onbuild_trigger_maps_to_the_from_line() -> None:
    """The parent's ONBUILD RUN runs as an extra step after the FROM (`STEP 2/3` of a
    two-instruction Containerfile): its line is the FROM's."""
    status, report = _log_report("onbuild-trigger")
    assert (report["failed_step"]["line"], report["failed_step"]["index"]) == (1, 2)
    assert status == 7
    assert report["notes"] == ["the failure happened in an ONBUILD trigger of the base image"]


def test_podman_log_syntax_error_is_found_on_its_line() -> None:
    _, report = _log_report("syntax-error")
    assert report["diagnosis"]["class"] == "dockerfile-syntax"
    assert report["diagnosis"]["summary"].startswith("Line 3 starts with `RUNN`")
    assert report["exit_code"] == 125


# (public log, failed index/total, instruction, exit code): Podman 5, 4.6, 2.x and 1.x logs users
# posted (tests/fixtures/podman/public/*.source), read without their Dockerfiles.
PUBLIC = [
    ("podman5-multistage-runtime-error", (2, 2), "RUN", 1),
    ("podman4.6-runtime-sdbus", (2, 2), "RUN", 1),
    ("podman-copy-from-missing", (4, 13), "COPY", 125),
    ("podman2-run-exit1", (2, None), "RUN", 1),  # Podman 1.x/2.x: `STEP 2:`, no total
    ("podman1.8-run-redacted", (15, None), "RUN", 1),
    ("podman1.4-copy-error", (9, None), "COPY", 125),
    ("buildah1.23-bud-workdir-denied", (2, 2), "WORKDIR", 125),
]


@pytest.mark.parametrize(("name", "index", "instruction", "code"), PUBLIC)
def test_podman_log_public(
    tmp_path: Path, name: str, index: tuple[int, int | None], instruction: str, code: int
) -> None:
    run = run_cli(["--log", str(PODMAN / "public" / f"{name}.log"), "--format", "json"], tmp_path)
    report = run.json()
    failed = report["failed_step"]
    assert report["builder"] == "podman"
    assert ((failed["index"], failed["total"]), failed["instruction"]) == (index, instruction)
    assert run.code == report["exit_code"] == code


def test_podman_log_public_podman5_names_its_stage() -> None:
    """`[1/2] STEP 2/2:` is stage 1 of 2 in the common model; its ids are Podman 5's 12."""
    text = (PODMAN / "public" / "podman5-multistage-runtime-error.log").read_text()
    log = logs.read(text)
    assert logs.detect(text) == "buildah"
    assert [(s.stage, s.stages, s.index, s.total) for s in log.steps] == [
        (1, 2, 1, 2),
        (1, 2, 2, 2),
    ]
    copy = logs.read((PODMAN / "public" / "podman-copy-from-missing.log").read_text())
    assert copy.last_good_image == "8b3e1d89b44c"
    assert copy.failure is not None and copy.failure.status == 125


def test_podman_log_public_successes() -> None:
    for name, image in [
        ("buildah-build-success-no-layers", "094a0c66ede"),
        ("podman1.2-success", "e7f81be21379abe27d4a63cc9348edf047d0179c41382e5debc3db437b0ab444"),
    ]:
        log = logs.read((PODMAN / "public" / f"{name}.log").read_text())
        assert (log.succeeded, log.image) == (True, image)


def test_podman_log_cut_off_is_refused(tmp_path: Path) -> None:
    run = run_cli(["--log", str(PODMAN / "public" / "podman5-cut-off.log")], tmp_path)
    assert run.code == 65
    assert "it was cut off" in run.stderr


def test_mapping_keeps_stages_and_the_earlier_stage_as_base() -> None:
    """`FROM <64-hex> AS builder` (a stage on an earlier one) gets that stage's image, as
    printed; the failing step is the one the error quotes."""
    log = to_build_log(parse_buildah([(PODMAN / "logs" / "target-stage.log").read_text()]))
    from_builder = log.steps[2]
    assert (from_builder.instruction, from_builder.stage, from_builder.image) == (
        "FROM",
        2,
        "0ef7dffbeef",
    )
    assert log.failed_at == len(log.steps) - 1
    assert log.failure is not None and log.failure.status is None  # a RUN's: its own code
    assert logs.detect((PODMAN / "logs" / "target-stage.log").read_text()) == "buildah"


def test_detect_leaves_classic_logs_classic() -> None:
    text = (FIXTURES / "logs" / "run-exit-100.txt").read_text()
    assert logs.detect(text) == "classic"


def test_build_argv_has_layers_and_every_flag() -> None:
    options = BuildOptions(
        context="ctx",
        file="ctx/Containerfile",
        tags=("a:1",),
        build_args=("X=1", "Y"),
        target="builder",
        no_cache=True,
        pull=True,
        network="host",
        platform="linux/amd64",
        labels=("k=v",),
        secrets=("id=token,src=t.txt",),
        ssh=("default",),
        build_contexts=("base=../base",),
        backend="podman",
    )
    assert build_argv(options) == (
        "build", "--layers", "--file", "ctx/Containerfile", "--tag", "a:1",
        "--build-arg", "X=1", "--build-arg", "Y", "--target", "builder", "--no-cache",
        "--pull=always", "--network", "host", "--platform", "linux/amd64",
        "--secret", "id=token,src=t.txt", "--ssh", "default", "--build-context", "base=../base",
        "--label", "k=v", "ctx",
    )  # fmt: skip


def test_cli_backend_and_secret() -> None:
    options = parse_args(["--backend", "podman", "--secret", "id=a,src=b", "."])
    assert (options.build.backend, options.build.secrets) == ("podman", ("id=a,src=b",))
    assert parse_args(["."]).build.backend == "auto"


def test_classic_refuses_secrets_podman_takes_them() -> None:
    """The legacy builder has no --secret: the choice refuses it rather than drop it; Podman
    (and BuildKit) take it, and podman refuses only buildx's --builder."""
    plain = "FROM busybox\n"
    secret = BuildOptions(secrets=("id=a,src=b",), backend="classic")
    with pytest.raises(UsageError, match="--secret is a BuildKit option, and the classic builder"):
        backends.choose_for(secret, parse(plain), plain, None)
    podman = replace(secret, backend="podman", ssh=("default",), build_contexts=("a=b",))
    assert backends.choose_for(podman, parse(plain), plain, None).backend == "podman"
    found = backends.choose_for(replace(secret, backend="auto"), parse(plain), plain, None, "why")
    assert (found.backend, found.by, found.reason) == ("podman", "auto", "why")
    with pytest.raises(UsageError, match=r"--builder names a buildx builder, and podman was"):
        backends.choose_for(replace(podman, builder="b"), parse(plain), plain, None)


def test_auto_rule() -> None:
    """auto: Podman found (the endpoint, or only a podman CLI) wins over DOCKER_BUILDKIT and
    the BuildKit triggers; --backend wins over Podman found."""
    text = "FROM busybox\nRUN --mount=type=cache,target=/c true\n"
    model, build = parse(text), BuildOptions()
    found = "the endpoint unix:///run/podman/podman.sock (DOCKER_HOST) is a Podman service"
    for env in (None, "1", "0"):
        picked = choice.choose("auto", env, model, text, build, found)
        assert (picked.backend, picked.by, picked.reason) == ("podman", "auto", found)
    assert choice.choose("auto", None, model, text, build, None).backend == "buildkit"
    assert choice.choose("auto", None, parse("FROM a\n"), "FROM a\n", build).backend == "classic"
    forced = choice.choose("classic", None, model, text, build, found)
    assert (forced.backend, forced.by) == ("classic", "--backend")
    assert choice.choose("podman", "1", model, text, build).backend == "podman"


def test_only_podman_reads_path(tmp_path: Path) -> None:
    for name in ("podman", "docker"):
        (tmp_path / name).mkdir()
        tool = tmp_path / name / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    assert reach.only_podman({"PATH": str(tmp_path / "podman")})
    assert not reach.only_podman({"PATH": f"{tmp_path / 'podman'}:{tmp_path / 'docker'}"})
    assert not reach.only_podman({"PATH": str(tmp_path / "docker")})


def test_is_podman_on_recorded_versions() -> None:
    api = PODMAN / "api"
    assert is_podman(json.loads((api / "podman-4.3.1-version.json").read_text()))
    assert not is_podman(json.loads((api / "docker-26.1.5-version.json").read_text()))
    assert not is_podman({})


@pytest.mark.parametrize(
    ("text", "line", "shell"),
    [
        ('FROM busybox\nSHELL ["/bin/sh", "-xc"]\nRUN x\n', 3, ("/bin/sh", "-xc")),
        ('FROM busybox\nRUN x\nSHELL ["/bin/sh", "-xc"]\n', 2, None),  # set after the step
        ('FROM busybox AS a\nSHELL ["/bin/ash", "-c"]\nFROM a\nRUN x\n', 4, ("/bin/ash", "-c")),
        ('FROM busybox\nSHELL ["/bin/ash", "-c"]\nFROM busybox\nRUN x\n', 4, None),
        ('FROM busybox AS a\nSHELL ["sh", "-c"]\nFROM a\nSHELL ["bash", "-c"]\nRUN x\n', 5,
         ("bash", "-c")),
    ],
)  # fmt: skip
def test_shell_in_effect(text: str, line: int, shell: tuple[str, ...] | None) -> None:
    dockerfile = parse(text)
    stage = next(s for s in dockerfile.stages if any(i.line == line for i in s.instructions))
    assert shell_in_effect(dockerfile, stage, line) == shell


def test_without_mount_noise() -> None:
    assert without_mount_noise([("C", "/etc"), ("A", "/made")]) == [("A", "/made")]
    passwd = [("C", "/etc"), ("C", "/etc/passwd"), ("A", "/x")]
    assert without_mount_noise(passwd) == passwd  # something under /etc changed: kept


def test_stale_service_folders_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = tmp_path / "dbugbuild-podman-gone"
    gone.mkdir()
    running = tmp_path / "dbugbuild-podman-running"
    running.mkdir()
    (running / "podman.sock").write_text("")  # a service's socket is still there
    other = tmp_path / "unrelated"
    other.mkdir()
    assert remove_stale_service_folders({}) == [str(gone)]
    assert sorted(os.listdir(tmp_path)) == ["dbugbuild-podman-running", "unrelated"]


def test_podman_reports_follow_the_schema() -> None:
    """The JSON of Podman reports (11-hex ids, per-stage numbering, exit 125) is the schema's."""
    from importlib import resources

    from jsonschema import Draft202012Validator

    schema = json.loads(
        resources.files("dbugbuild.report").joinpath("report.schema.json").read_text()
    )
    validator = Draft202012Validator(schema)
    for case in ("target-stage", "copy-missing", "success", "onbuild-trigger"):
        report = _log_report(case)[1]
        assert [e.message for e in validator.iter_errors(report)] == [], case

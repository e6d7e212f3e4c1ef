"""The diagnosis of BuildKit builds on their recorded logs (tests/fixtures/buildkit/logs/,
Engine 26.1.5, buildx 0.13.1): BuildKit's wordings of the classes dbugbuild already knew
(a COPY source missing or .dockerignore'd, a base image, parse errors), and the classes only
BuildKit has (a mount from a missing stage, a secret not passed, a cache mount's contents,
a platform ARG not declared). Each log is read as `dbugbuild --log` reads it, located with
its case's Dockerfile and diagnosed from the log alone (BuildKit keeps no layer to look in),
with the build's secrets known (a live build: none given) and not (a saved log)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, run_cli
from dbugbuild import diagnosis, inputs, logs
from dbugbuild.inputs import parse_dockerfile
from dbugbuild.report import Diagnosis, FailedStep, locate

BUILDKIT = FIXTURES / "buildkit"

# The class of each recorded failure: (secrets known, secrets unknown).
CLASSES: dict[str, tuple[str, str]] = {
    # apt's "E: " and its message split by its stdout's newline (as on a loaded CI machine).
    "apt-error-split": ("package-not-found", "package-not-found"),
    "cache-mount-fail": ("cache-mount", "cache-mount"),
    "cache-mount-missing-file": ("cache-mount", "cache-mount"),
    "copy-chmod-missing": ("build-context", "build-context"),
    "copy-dockerignored": ("build-context", "build-context"),
    "copy-from-missing-stage": ("mount-source", "mount-source"),
    "copy-from-stage-missing-file": ("build-context", "build-context"),
    "copy-missing": ("build-context", "build-context"),
    "copy-missing.docker-build": ("build-context", "build-context"),
    "exec-form-fail": ("command-failed", "command-failed"),
    "heredoc-fail": ("command-failed", "command-failed"),
    "long-output-fail": ("command-failed", "command-failed"),
    "mount-from-missing-stage": ("mount-source", "mount-source"),
    "multiline-run-fail": ("missing-file", "missing-file"),
    "onbuild-fail": ("command-failed", "command-failed"),
    "parallel-stage-fail": ("command-failed", "command-failed"),
    "platform-arg-partial": ("platform-arg", "platform-arg"),
    "platform-arg-undeclared": ("platform-arg", "platform-arg"),
    "pull-missing-base": ("base-image", "base-image"),
    "run-exit-100": ("package-not-found", "package-not-found"),
    "run-exit-100.cached": ("package-not-found", "package-not-found"),
    "run-exit-100.docker-build": ("package-not-found", "package-not-found"),
    "run-exit-127": ("command-not-found", "command-not-found"),
    "run-exit-127.docker-build": ("command-not-found", "command-not-found"),
    # Without knowing the build's --secret options, an empty secret says nothing.
    "secret-not-passed": ("missing-secret", "command-failed"),
    "secret-required-not-passed": ("missing-secret", "missing-secret"),
    "secret-target-not-passed": ("missing-secret", "missing-secret"),
    "shell-pipefail": ("command-failed", "command-failed"),
    "syntax-bad-flag": ("dockerfile-syntax", "dockerfile-syntax"),
    "syntax-unknown-instruction": ("dockerfile-syntax", "dockerfile-syntax"),
    "syntax-unknown-instruction.docker-build": ("dockerfile-syntax", "dockerfile-syntax"),
    "unnamed-stage-fail": ("command-failed", "command-failed"),
}


def _diagnosed(name: str, secrets: tuple[str, ...] | None) -> tuple[FailedStep, Diagnosis]:
    meta = json.loads((BUILDKIT / "logs" / f"{name}.meta.json").read_text())
    folder = BUILDKIT / "cases" / meta["case"]
    text = (folder / "Dockerfile").read_text()
    log = logs.read((BUILDKIT / "logs" / f"{name}.log").read_text())
    assert log.failure is not None

    def diagnose(step: FailedStep, image: str | None) -> Diagnosis:
        assert image is None  # BuildKit keeps no last good image
        facts = diagnosis.gather(
            step,
            dockerfile_text=text,
            in_trigger=log.failure is not None and log.failure.in_trigger,
            context=".",
            read_context=lambda: inputs.context_listing(str(folder)),
            secrets=secrets,
            builder="buildkit",
        )
        return diagnosis.diagnose(step, facts, None)

    report = locate(
        log,
        dockerfile=parse_dockerfile(text),
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
        diagnose=diagnose,
    )
    assert report.failed_step is not None and report.diagnosis is not None
    return report.failed_step, report.diagnosis


def test_diagnosis_buildkit_every_recorded_failure_is_here() -> None:
    failing = []
    for log in sorted((BUILDKIT / "logs").glob("*.log")):
        try:
            parsed = logs.read(log.read_text())
        except logs.LogFormatError:
            continue
        if parsed.failure is not None:
            failing.append(log.name[: -len(".log")])
    assert sorted(CLASSES) == sorted(failing)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_diagnosis_buildkit_class(name: str) -> None:
    known, unknown = CLASSES[name]
    assert _diagnosed(name, ())[1].class_ == known
    assert _diagnosed(name, None)[1].class_ == unknown


# Whole diagnoses where BuildKit's wording is the whole evidence.
WHOLE: dict[str, tuple[Any, ...]] = {
    "copy-from-missing-stage": (
        "mount-source",
        "Line 5 takes files from `bulder` (`COPY --from=bulder`), which is no stage of this "
        "Dockerfile, so BuildKit tried to pull it as an image and could not.",
        (
            "Did you mean the stage `builder`? Write `from=builder` on line 5.",
            "`from=` takes a stage defined before line 5 (`FROM ... AS bulder`), an image, or a "
            "context given with `--build-context bulder=...`.",
        ),
    ),
    "copy-dockerignored": (
        "build-context",
        "`settings.local.json` is excluded from the build context by .dockerignore line 2 "
        "(`*.local.json`).",
        (
            "Add the line `!settings.local.json` after line 2 of .dockerignore, or remove "
            "`*.local.json` if the image needs those files.",
        ),
    ),
    "copy-from-stage-missing-file": (
        "build-context",
        "`/out/app.bin` is not in `builder`: `COPY --from=builder` copies from that stage's (or "
        "image's) files, not from the build context.",
        (
            "Check where `builder` writes it: build that stage alone and look (`dbugbuild "
            "--target builder`, or `docker run --rm IMAGE ls -la` on its image); a relative "
            "source is relative to its root, not its WORKDIR.",
        ),
    ),
    "secret-required-not-passed": (
        "missing-secret",
        "The build was not given the secret `tok`, which the RUN on line 2 mounts with "
        "`required=true`.",
        (
            "Pass it to the build: `--secret id=tok,src=PATH` (a file), or "
            "`--secret id=tok,env=VARIABLE` (an environment variable).",
            "A secret never lands in the image or its cache: pass it to every build that runs "
            "the step, CI included.",
        ),
    ),
    "syntax-unknown-instruction": (
        "dockerfile-syntax",
        "Line 3 starts with `RUNN`, which is not a Dockerfile instruction.",
        (
            "Did you mean `RUN`? Write `RUN ...` on line 3.",
            "Each line starts with an instruction (RUN, COPY, ENV, ...) unless the line before "
            "it ends with `\\`.",
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_diagnosis_buildkit_whole(name: str) -> None:
    found = _diagnosed(name, None)[1]
    assert (found.class_, found.summary, found.hints) == WHOLE[name]


def test_diagnosis_buildkit_mount_source_found_its_line_without_an_excerpt() -> None:
    """BuildKit prints no excerpt for a `from=` it cannot resolve: the one line naming it."""
    step, found = _diagnosed("mount-from-missing-stage", None)
    assert (step.index, step.instruction, step.line, step.end_line) == (None, "RUN", 5, 6)
    assert found.evidence[-1] == (
        "Dockerfile line 5: `RUN --mount=type=bind,from=bulder,source=/out,target=/mnt \\`"
    )


def test_diagnosis_buildkit_the_command_is_no_output() -> None:
    """BuildKit's `process "..." did not complete successfully` quotes the command: its
    words (`test -f /etc/...`) are not evidence of a missing file."""
    _, found = _diagnosed("heredoc-fail", ())
    assert found.class_ == "command-failed"
    assert found.summary == "The RUN's heredoc script ran, and a command in it exited with code 1."


def test_diagnosis_buildkit_secret_ids() -> None:
    assert diagnosis.secret_ids(("id=tok,src=tok.txt", "type=env,id=TOKEN", "plain")) == (
        "tok",
        "TOKEN",
        "plain",
    )


def test_diagnosis_buildkit_platform_mismatch_of_the_base_image(tmp_path: Path) -> None:
    """A public log (uraimo/run-on-arch-action#154, a .source beside it): the base image has
    no manifest for the platform. Read with --log and no Dockerfile: the excerpt's FROM."""
    log = BUILDKIT / "public" / "platform-no-match-manifest.log"
    run = run_cli(["--log", str(log), "--format", "json"], tmp_path)
    report = run.json()
    failed = report["failed_step"]
    assert (failed["index"], failed["instruction"], failed["line"], run.code) == (
        None, "FROM", 1, 1
    )  # fmt: skip
    assert report["diagnosis"]["class"] == "base-image"
    assert report["diagnosis"]["summary"] == (
        "`ppc64le/ubuntu:22.04` has no image for this machine's platform."
    )
    assert report["notes"] == [
        "no Dockerfile at Dockerfile: its lines are from the log's excerpt "
        "(Dockerfile.ppc64le.ubuntu22.04)"
    ]

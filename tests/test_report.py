"""The report's contract without a daemon: every recorded build's JSON report validates against
the shipped schema (src/dbugbuild/report/report.schema.json), the schema and docs/report.md describe
exactly the fields `to_dict` writes, and the gcc and text renderings are exact, whole outputs.

Reports come from the recorded logs (`--log`), in-process. The docker CLI is kept off PATH: for
an ONBUILD trigger failure a --log run would otherwise ask the daemon for the parent image, and
the report would depend on what that daemon holds.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import fields, replace
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conftest import FIXTURES, TESTS, Run, run_cli
from dbugbuild import dockerfile, logs
from dbugbuild.report import (
    BuilderChoice,
    Diagnosis,
    ExecResult,
    FailedStep,
    Report,
    StepReport,
    json_name,
    locate,
    render_gcc,
    render_text,
    to_dict,
)

BUILDS = FIXTURES / "builds"
LOGS = FIXTURES / "logs"
HISTORIC = LOGS / "historic"
DOCS = TESTS.parent / "docs" / "report.md"
CASES = sorted(p.name for p in BUILDS.iterdir() if (p / "case.json").is_file())
HISTORIC_LOGS = sorted(p.name for p in HISTORIC.glob("*.txt") if not p.name.startswith("buildkit-"))
NO_DOCKER = {"PATH": ""}


def _schema() -> dict[str, Any]:
    text = resources.files("dbugbuild.report").joinpath("report.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


VALIDATOR = Draft202012Validator(_schema())


def _case(name: str) -> dict[str, Any]:
    return json.loads((BUILDS / name / "case.json").read_text())  # type: ignore[no-any-return]


def _case_args(name: str) -> list[str]:
    case = _case(name)
    args = ["-f", case["dockerfile"]]
    if case["target"]:
        args += ["--target", case["target"]]
    args += [f"--label={k}={v}" for k, v in case["labels"].items()]
    return args


def _from_log(name: str, *options: str, fmt: str = "json") -> Run:
    """dbugbuild --log on a recorded case, in its directory, with its options (or `options`)."""
    args = list(options) if options else _case_args(name)
    return run_cli(
        [*args, "--log", str(LOGS / f"{name}.txt"), "--format", fmt, "--color", "never"],
        BUILDS / name,
        env=NO_DOCKER,
    )


def _errors(instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(instance)
    ]


# -- the schema --------------------------------------------------------------------------------


def test_schema_is_draft_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is True


def _described_objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    defs = schema["$defs"]
    return {
        "report": schema,
        "failed_step": defs["failedStep"],
        "step": defs["step"],
        "exec": defs["commandResult"],
        "diagnosis": defs["diagnosis"],
        "builder_choice": defs["builderChoice"],
    }


def test_schema_lists_exactly_the_fields_to_dict_writes() -> None:
    objects = _described_objects(_schema())
    json_fields = [f for f in fields(Report) if f.metadata.get("json", True)]
    always = ["schema_version", "builder", "builder_choice"] + [
        f.name for f in json_fields if not f.metadata.get("omit_none")
    ]
    assert objects["report"]["required"] == always
    assert list(objects["report"]["properties"]) == [*always, "service", "exec", "retry"]
    for name, cls in (
        ("failed_step", FailedStep),
        ("step", StepReport),
        ("exec", ExecResult),
        ("diagnosis", Diagnosis),
        ("builder_choice", BuilderChoice),
    ):
        names = [json_name(f) for f in fields(cls) if f.metadata.get("json", True)]
        required = [
            json_name(f)
            for f in fields(cls)
            if f.metadata.get("json", True) and not f.metadata.get("omit_none")
        ]
        assert objects[name]["required"] == required, name
        assert list(objects[name]["properties"]) == names, name


def test_schema_describes_every_property() -> None:
    schema = _schema()
    for name, obj in _described_objects(schema).items():
        assert obj["description"], name
        for prop, sub in obj["properties"].items():
            assert len(sub.get("description", "")) > 20, f"{name}.{prop}"
    for name, sub in schema["$defs"].items():
        assert sub["description"], name


# -- every recorded report validates ---------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_recorded_report_validates(name: str) -> None:
    run = _from_log(name)
    report = run.json()
    assert _errors(report) == []
    assert run.code == report["exit_code"] == _case(name)["expected_exit_code"]


# Real CI logs that end mid-build: neither a result nor an error to report.
CUT_OFF = {"real-gha-pull.txt", "real-gha-retry.txt"}


@pytest.mark.parametrize("name", HISTORIC_LOGS)
def test_historic_log_report_validates(name: str) -> None:
    """Logs from other Docker versions and CI systems, with no Dockerfile: nothing mapped."""
    run = run_cli(["--log", name, "--format", "json"], HISTORIC, env=NO_DOCKER)
    if name in CUT_OFF:
        assert (run.code, run.stdout) == (65, "")
        assert run.stderr.endswith("it was cut off. Save the whole output of the build\n")
        return
    report = run.json()
    assert _errors(report) == []
    assert run.code == report["exit_code"]
    assert "no Dockerfile at Dockerfile: lines not mapped" in report["notes"]


_DELETE = object()


def _mutated(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    report = copy.deepcopy(_from_log("run-exit-100").json())
    target = report
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return report  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("steps",), _DELETE),
        (("failed_step", "output_tail"), _DELETE),
        (("failed_step", "line"), "5"),
        (("failed_step", "line"), 0),
        (("last_good_image",), "sha256:7745079d5461"),
        (("failed_container",), "172B2AF322BB"),
        (("schema_version",), 2),
        (("status",), "succeeded"),  # with a failed_step and exit code 100
        (("image",), "7745079d5461"),  # an image on a failed build
        (("exec",), []),
        (("diagnosis",), None),  # a failed build always has a diagnosis
        (("diagnosis", "class"), "compile-error"),  # not one of the 13 classes
        (("diagnosis", "hints"), _DELETE),
        (("retry",), {"command": "apt-get -y update-all", "exit_code": 100}),
    ],
)
def test_schema_rejects(path: tuple[str | int, ...], value: Any) -> None:
    assert _errors(_mutated(path, value)) != []


# -- the documentation --------------------------------------------------------------------------


def test_docs_example_is_the_recorded_report() -> None:
    text = DOCS.read_text()
    example = re.search(r"```json\n(.*?)```", text, re.DOTALL)
    assert example is not None
    assert json.loads(example.group(1)) == _from_log("run-exit-100").json()


def test_docs_name_every_field() -> None:
    text = DOCS.read_text()
    for obj in _described_objects(_schema()).values():
        for prop in obj["properties"]:
            assert f"`{prop}`" in text, prop


# -- to_dict -------------------------------------------------------------------------------------

FAILED_STEP = FailedStep(
    index=2,
    total=2,
    instruction="RUN",
    line=2,
    end_line=3,
    stage="build",
    command="make &&     make test",
    exit_code=2,
    message="The command '/bin/sh -c make &&     make test' returned a non-zero code: 2",
    output_tail=("make: *** No targets specified and no makefile found.  Stop.",),
)

DIAGNOSIS = Diagnosis(
    "missing-file",
    "make found no Makefile in the working folder.",
    (
        "COPY the Makefile (and sources) before this step, or `make -C <folder>`; relative "
        "paths start at WORKDIR.",
    ),
    ('output: "make: *** No targets specified and no makefile found.  Stop."',),
)

FAILED = Report(
    status="failed",
    dockerfile="./Dockerfile",
    image=None,
    tags=(),
    failed_step=FAILED_STEP,
    last_good_image="634a12f5cd7e",
    failed_container="916a15ed9295",
    steps=(
        StepReport(1, "FROM", 1, 1, "build", "634a12f5cd7e", True),
        StepReport(2, "RUN", 2, 3, "build", None, False),
    ),
    exit_code=2,
    diagnosis=DIAGNOSIS,
    location="Dockerfile",
    source_lines=("RUN make && \\", "    make test"),
)

FAILED_DICT = {
    "schema_version": 1,
    "builder": "classic",
    "builder_choice": None,
    "status": "failed",
    "dockerfile": "./Dockerfile",
    "image": None,
    "tags": [],
    "failed_step": {
        "index": 2,
        "total": 2,
        "instruction": "RUN",
        "line": 2,
        "end_line": 3,
        "stage": "build",
        "command": "make &&     make test",
        "exit_code": 2,
        "message": "The command '/bin/sh -c make &&     make test' returned a non-zero code: 2",
        "output_tail": ["make: *** No targets specified and no makefile found.  Stop."],
    },
    "last_good_image": "634a12f5cd7e",
    "failed_container": "916a15ed9295",
    "steps": [
        {
            "index": 1,
            "instruction": "FROM",
            "line": 1,
            "end_line": 1,
            "stage": "build",
            "image": "634a12f5cd7e",
            "cached": True,
        },
        {
            "index": 2,
            "instruction": "RUN",
            "line": 2,
            "end_line": 3,
            "stage": "build",
            "image": None,
            "cached": False,
        },
    ],
    "exit_code": 2,
    "notes": [],
    "diagnosis": {
        "class": "missing-file",
        "summary": "make found no Makefile in the working folder.",
        "hints": [
            "COPY the Makefile (and sources) before this step, or `make -C <folder>`; relative "
            "paths start at WORKDIR."
        ],
        "evidence": ['output: "make: *** No targets specified and no makefile found.  Stop."'],
    },
}


def test_to_dict_omits_exec_and_retry_when_none() -> None:
    out = to_dict(FAILED)
    assert out == FAILED_DICT
    assert "exec" not in out and "retry" not in out
    assert _errors(out) == []


def test_to_dict_includes_exec_and_retry_when_set() -> None:
    report = replace(
        FAILED,
        exec=(
            ExecResult("ls /src", 0, "Makefile.am\nsrc\n"),
            ExecResult("make -C src", 2, "make: *** No rule to make target 'all'.  Stop.\n"),
        ),
        retry=ExecResult("make &&     make test", 2, ""),
    )
    out = to_dict(report)
    assert out == {
        **FAILED_DICT,
        "exec": [
            {"command": "ls /src", "exit_code": 0, "output": "Makefile.am\nsrc\n"},
            {
                "command": "make -C src",
                "exit_code": 2,
                "output": "make: *** No rule to make target 'all'.  Stop.\n",
            },
        ],
        "retry": {"command": "make &&     make test", "exit_code": 2, "output": ""},
    }
    assert list(out)[-2:] == ["exec", "retry"]
    assert _errors(out) == []


def test_to_dict_exec_without_retry() -> None:
    out = to_dict(replace(FAILED, exec=(ExecResult("true", 0, ""),)))
    assert out == {**FAILED_DICT, "exec": [{"command": "true", "exit_code": 0, "output": ""}]}


# -- render_gcc ----------------------------------------------------------------------------------

RUN_100 = "RUN failed with exit code 100: E: Invalid operation update-all"


def _run_100(where: str) -> str:
    """The gcc lines of run-exit-100: the error, then its diagnosis as notes."""
    return (
        f"{where} error: {RUN_100}\n"
        f"{where} note: package-manager-misuse: apt-get has no operation `update-all`.\n"
        f"{where} note: hint: To refresh the package lists and upgrade: `apt-get update && "
        "apt-get -y upgrade`.\n"
        f"{where} note: hint: apt-get's first word is an operation: install, remove, update, "
        "upgrade, ... (`apt-get --help` lists them).\n"
    )


SUBDIR_DOCKERFILE = BUILDS / "subdir-target" / "docker" / "Dockerfile"


@pytest.mark.parametrize(
    ("name", "options", "code", "stdout", "stderr"),
    [
        pytest.param("run-exit-100", (), 100, _run_100("Dockerfile:5:1:"), "", id="run"),
        pytest.param(
            "syntax-error",
            (),
            1,
            "Dockerfile:3:1: error: dockerfile parse error line 3: unknown instruction: FOO\n"
            "Dockerfile:3:1: note: dockerfile-syntax: Line 3 starts with `FOO`, which is not a "
            "Dockerfile instruction.\n"
            "Dockerfile:3:1: note: hint: Each line starts with an instruction (RUN, COPY, ENV, "
            "...) unless the line before it ends with `\\`.\n",
            "",
            id="syntax-error",
        ),
        pytest.param("success", (), 0, "", "", id="success"),
        pytest.param(
            "copy-dockerignored",
            (),
            1,
            "Dockerfile:4:1: error: COPY failed: file not found in build context or excluded by "
            ".dockerignore: stat secret.txt: file does not exist\n"
            "Dockerfile:4:1: note: build-context: `secret.txt` is excluded from the build "
            "context by .dockerignore line 1 (`secret.txt`).\n"
            "Dockerfile:4:1: note: hint: Add the line `!secret.txt` after line 1 of "
            ".dockerignore, or remove `secret.txt` if the image needs those files.\n",
            "",
            id="copy-no-exit-code",
        ),
        pytest.param(
            "onbuild-trigger",
            (),
            3,
            "Dockerfile:1:1: error: FROM failed with exit code 3: second trigger fails\n",
            "dbugbuild: warning: the failure happened in an ONBUILD trigger of the base image\n",
            id="onbuild-trigger",
        ),
        pytest.param(
            "subdir-target",
            ("-f", str(SUBDIR_DOCKERFILE), "--target", "test"),
            1,
            "docker/Dockerfile:6:1: error: RUN failed with exit code 1: running tests\n",
            "",
            id="absolute-f-relative-path",
        ),
        pytest.param(
            "run-exit-100",
            ("-f", "missing/Dockerfile"),
            100,
            _run_100("missing/Dockerfile:"),
            "dbugbuild: warning: no Dockerfile at missing/Dockerfile: lines not mapped\n",
            id="no-dockerfile",
        ),
        pytest.param(
            "run-exit-100",
            ("-f", "../run-exit-127/Dockerfile"),
            100,
            _run_100("../run-exit-127/Dockerfile:"),
            "dbugbuild: warning: lines not mapped: step 1 of the build ran 'FROM debian:bookworm' "
            "but ../run-exit-127/Dockerfile has 'FROM busybox' there (the Dockerfile changed, or "
            "other -f/--target/--label options were used)\n",
            id="other-dockerfile",
        ),
    ],
)
def test_gcc(name: str, options: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
    run = _from_log(name, *options, fmt="gcc")
    assert (run.code, run.stdout, run.stderr) == (code, stdout, stderr)


def test_gcc_path_is_relative_to_the_working_directory() -> None:
    run = run_cli(
        [
            "-f",
            "subdir-target/docker/Dockerfile",
            "--target",
            "test",
            "--log",
            "../logs/subdir-target.txt",
            "--format",
            "gcc",
        ],
        BUILDS,
        env=NO_DOCKER,
    )
    assert run.stdout == (
        "subdir-target/docker/Dockerfile:6:1: error: RUN failed with exit code 1: running tests\n"
    )


def test_gcc_failure_outside_any_step_without_a_line() -> None:
    """Only the builder's error, no step and no parse-error line: the `PATH: error:` form."""
    run = run_cli(["--log", "real-go-log-bracket.txt", "--format", "gcc"], HISTORIC, env=NO_DOCKER)
    assert (run.code, run.stdout) == (3, "Dockerfile: error: the build failed with exit code 3\n")


def test_render_gcc_prefers_the_location_over_the_dockerfile_as_given() -> None:
    assert render_gcc(FAILED) == (
        "Dockerfile:2:1: error: RUN failed with exit code 2: "
        "make: *** No targets specified and no makefile found.  Stop.\n"
        "Dockerfile:2:1: note: missing-file: make found no Makefile in the working folder.\n"
        "Dockerfile:2:1: note: hint: COPY the Makefile (and sources) before this step, or "
        "`make -C <folder>`; relative paths start at WORKDIR.\n"
    )
    no_line = replace(
        FAILED,
        failed_step=replace(FAILED_STEP, line=None, end_line=None),
        location="",
        diagnosis=None,
    )
    assert render_gcc(no_line) == (
        "./Dockerfile: error: RUN failed with exit code 2: "
        "make: *** No targets specified and no makefile found.  Stop.\n"
    )
    success = replace(FAILED, status="succeeded", failed_step=None, exit_code=0, diagnosis=None)
    assert render_gcc(success) == ""


def test_render_gcc_leaves_out_the_catch_all_diagnosis() -> None:
    """`command-failed` adds nothing an editor needs: the error line alone."""
    caught_all = replace(FAILED, diagnosis=replace(DIAGNOSIS, class_="command-failed"))
    assert render_gcc(caught_all) == (
        "Dockerfile:2:1: error: RUN failed with exit code 2: "
        "make: *** No targets specified and no makefile found.  Stop.\n"
    )


# -- render_text ---------------------------------------------------------------------------------

TEXT = {
    "run-exit-100": """
error: RUN failed with exit code 100: E: Invalid operation update-all  [step 5/6]
  --> Dockerfile:5
  > 5 | RUN apt-get -y update-all
  builder: The command '/bin/sh -c apt-get -y update-all' returned a non-zero code: 100
  output (last lines):
    | E: Invalid operation update-all
  diagnosis: package-manager-misuse: apt-get has no operation `update-all`.
    hint: To refresh the package lists and upgrade: `apt-get update && apt-get -y upgrade`.
    hint: apt-get's first word is an operation: install, remove, update, upgrade, ... \
(`apt-get --help` lists them).
    evidence: output: "E: Invalid operation update-all"
  last good image: 7745079d5461
  failed container: 172b2af322bb
""",
    "syntax-error": """
error: dockerfile parse error line 3: unknown instruction: FOO
  --> Dockerfile:3
  > 3 | FOO bar
  diagnosis: dockerfile-syntax: Line 3 starts with `FOO`, which is not a Dockerfile instruction.
    hint: Each line starts with an instruction (RUN, COPY, ENV, ...) unless the line before it \
ends with `\\`.
    evidence: builder: "dockerfile parse error line 3: unknown instruction: FOO"
    evidence: Dockerfile line 3: `FOO bar`
""",
    "success": """
dbugbuild: build succeeded: image 96d2a9b2025c (dbugbuild-test/success:latest)
""",
    "multiline-run": """
error: RUN failed with exit code 1: ls: /no/such/dir: No such file or directory  [step 3/3]
  --> Dockerfile:3
  > 3 | RUN echo "$GREETING from line one" && \\
  > 4 |     # a comment inside the continuation is dropped by the parser
  > 5 |     echo "line two" && \\
  > 6 |     ls /no/such/dir && \\
  > 7 |     echo "never printed"
  builder: The command '/bin/sh -c echo "$GREETING from line one" &&     echo "line two" &&     \
ls /no/such/dir &&     echo "never printed"' returned a non-zero code: 1
  output (last lines):
    | hello from line one
    | line two
    | ls: /no/such/dir: No such file or directory
  diagnosis: missing-file: `/no/such/dir` does not exist in this layer.
    hint: Check that `/no/such/dir` is copied (COPY) or made before this step.
    evidence: output: "ls: /no/such/dir: No such file or directory"
  last good image: b762a2c6d0ae
  failed container: 4e7197890656
""",
    "subdir-target": """
error: RUN failed with exit code 1: running tests  [step 5/5]
  --> docker/Dockerfile:6  (stage test)
  > 6 | RUN echo "running tests" && test -f /app/test-report.txt
  builder: The command '/bin/sh -c echo "running tests" && test -f /app/test-report.txt' \
returned a non-zero code: 1
  output (last lines):
    | running tests
  diagnosis: command-failed: The RUN's commands ran, and one exited with code 1.
    hint: The last command, `test`, exits 1 when its condition is false or nothing matched: \
it may have reported a fact, not an error.
    hint: Its own output above says why: the last lines are usually the error.
    hint: Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the command \
(or `--retry` / `--exec` in CI).
    evidence: exit code 1
    evidence: output: "running tests"
  last good image: ab5539cb87e2
  failed container: d7d8c8590e6e
""",
    "onbuild-trigger": """
error: FROM failed with exit code 3: second trigger fails  [step 1/2]
  --> Dockerfile:1
  > 1 | FROM dbugbuild-test/onbuild-parent:latest
  builder: The command '/bin/sh -c echo "second trigger fails" && exit 3' returned a non-zero \
code: 3
  output (last lines):
    | first trigger runs fine
    | second trigger fails
  diagnosis: command-failed: An ONBUILD trigger of the base image ran a command that exited \
with code 3.
    hint: Its own output above says why: the last lines are usually the error.
    hint: The trigger comes with the FROM image (`docker image inspect -f '{{.Config.OnBuild}}' \
IMAGE` lists them): fix it where that image is built, or start FROM an image without it.
    hint: Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the command \
(or `--retry` / `--exec` in CI).
    evidence: exit code 3
    evidence: output: "second trigger fails"
  failed container: 0fa4c5b86ea8
  note: the failure happened in an ONBUILD trigger of the base image
""",
}


@pytest.mark.parametrize("name", sorted(TEXT))
def test_text(name: str) -> None:
    run = _from_log(name, fmt="text")
    assert (run.code, run.stdout, run.stderr) == (_case(name)["expected_exit_code"], TEXT[name], "")


def test_text_without_a_dockerfile_shows_the_command_instead_of_lines() -> None:
    run = _from_log("run-exit-100", "-f", "missing/Dockerfile", fmt="text")
    assert (run.code, run.stderr) == (100, "")
    assert (
        run.stdout
        == """
error: RUN failed with exit code 100: E: Invalid operation update-all  [step 5/6]
  --> missing/Dockerfile
    RUN apt-get -y update-all
  builder: The command '/bin/sh -c apt-get -y update-all' returned a non-zero code: 100
  output (last lines):
    | E: Invalid operation update-all
  diagnosis: package-manager-misuse: apt-get has no operation `update-all`.
    hint: To refresh the package lists and upgrade: `apt-get update && apt-get -y upgrade`.
    hint: apt-get's first word is an operation: install, remove, update, upgrade, ... \
(`apt-get --help` lists them).
    evidence: output: "E: Invalid operation update-all"
  last good image: 7745079d5461
  failed container: 172b2af322bb
  note: no Dockerfile at missing/Dockerfile: lines not mapped
"""
    )


def test_render_text_colour() -> None:
    success = replace(
        FAILED,
        status="succeeded",
        image="96d2a9b2025c",
        tags=("app:1", "app:latest"),
        failed_step=None,
        exit_code=0,
        diagnosis=None,
    )
    assert render_text(success, color=True) == (
        "\x1b[1;32mdbugbuild: build succeeded\x1b[0m: image 96d2a9b2025c (app:1, app:latest)\n"
    )
    assert render_text(FAILED, color=True) == (
        "\x1b[1;31merror\x1b[0m: \x1b[1mRUN failed with exit code 2: make: *** No targets "
        "specified and no makefile found.  Stop.\x1b[0m  [step 2/2]\n"
        "  --> Dockerfile:2  (stage build)\n"
        "  \x1b[1;31m>\x1b[0m 2 | RUN make && \\\n"
        "  \x1b[1;31m>\x1b[0m 3 |     make test\n"
        "  \x1b[2mbuilder\x1b[0m: The command '/bin/sh -c make &&     make test' returned a "
        "non-zero code: 2\n"
        "  \x1b[2moutput (last lines)\x1b[0m:\n"
        "    | make: *** No targets specified and no makefile found.  Stop.\n"
        "  \x1b[1;33mdiagnosis\x1b[0m: missing-file: make found no Makefile in the working "
        "folder.\n"
        "    hint: COPY the Makefile (and sources) before this step, or `make -C <folder>`; "
        "relative paths start at WORKDIR.\n"
        '    \x1b[2mevidence\x1b[0m: output: "make: *** No targets specified and no makefile '
        'found.  Stop."\n'
        "  last good image: 634a12f5cd7e\n"
        "  failed container: 916a15ed9295\n"
    )


def test_locate_carries_the_failing_instruction_and_its_stage() -> None:
    """The located failure carries its Instruction and Stage as parsed (not serialised), so
    the diagnosis, the debug layer and bisect never look them up by line again."""
    text = (BUILDS / "multistage-nonfinal" / "Dockerfile").read_text()
    model = dockerfile.parse(text)
    located = locate(
        logs.parse([(LOGS / "multistage-nonfinal.txt").read_text()]),
        dockerfile=model,
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    )
    failed = located.failed_step
    assert failed is not None and failed.line == 4
    assert failed.instruction_model is model.instruction_at(4)
    assert failed.stage_model is model.stages[0]
    assert [s.stage_model for s in located.steps] == [model.stages[0]] * 4
    assert "instruction_model" not in to_dict(located)["failed_step"]
    assert "stage_model" not in to_dict(located)["steps"][0]

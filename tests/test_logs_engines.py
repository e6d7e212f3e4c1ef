"""The classic builder's output across engines, image stores and wrappers, parsed alike.

The same build cases (tests/fixtures/builds/) were recorded on Engine 20.10
(tests/fixtures/logs/), on Engine 26.1.5 (logs/engine-26/) and on Engine 26.1.5 with the
containerd image store, the default of Engine 29 (logs/engine-26-containerd/). Each
case's CLI text and API stream must parse to the same BuildLog on every engine, ids
aside, except where the engines really print something else: those differences are
asserted one by one below, so that a new one fails here instead of passing unseen.
Saved logs of newer engines (logs/historic/engines/) and of wrappers that tag or indent
every line (logs/wrapped/) come from public sources, each with a `.source`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from dbugbuild.logs import BuildLog, Failure, LogFormatError, api_stream_text, parse

LOGS = Path(__file__).parent / "fixtures" / "logs"
BUILDS = Path(__file__).parent / "fixtures" / "builds"
CASES = sorted(p.name for p in BUILDS.iterdir() if p.is_dir())
ENGINES = {
    "engine-20.10": LOGS,
    "engine-26": LOGS / "engine-26",
    "engine-26-containerd": LOGS / "engine-26-containerd",
}
NEWER = ("engine-26", "engine-26-containerd")


def text(engine: str, case: str) -> str:
    return (ENGINES[engine] / f"{case}.txt").read_bytes().decode("utf-8")


def chunks(engine: str, case: str) -> list[str]:
    loaded = json.loads((ENGINES[engine] / f"{case}.api.json").read_text())
    assert isinstance(loaded, list)
    return loaded


def meta(engine: str, case: str) -> dict[str, Any]:
    loaded = json.loads((ENGINES[engine] / f"{case}.meta.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


_HEX_ID = re.compile(r"\b[0-9a-f]{12}\b|\b[0-9a-f]{64}\b")


def shape(log: BuildLog) -> Any:
    """The log as data with every id replaced by its order of first appearance.

    Ids differ in every recording; which step printed the same id as which does not.
    """
    seen: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        short = match.group(0)[:12]
        return seen.setdefault(short, f"<id{len(seen)}>")

    return json.loads(_HEX_ID.sub(rename, json.dumps(asdict(log))))


def cli(engine: str, case: str) -> BuildLog:
    return parse([text(engine, case)])


def api(engine: str, case: str) -> BuildLog:
    return parse(api_stream_text(chunks(engine, case)))


# --- The recordings ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_engine_recorded_every_case(engine: str) -> None:
    folder = ENGINES[engine]
    assert sorted(p.name[: -len(".txt")] for p in folder.glob("*.txt")) == CASES
    for case in CASES:
        versions = meta(engine, case)["versions"]
        assert versions["engine"].startswith("20.10." if engine == "engine-20.10" else "26.1.5")
        daemon = meta(engine, case).get("daemon", {})
        assert daemon.get("containerd_image_store", False) is (engine == "engine-26-containerd")


# --- Same parse, ids aside -----------------------------------------------------------------


def _runc_wording(log: BuildLog) -> BuildLog:
    # Engine 23+ wraps the runtime's error in "failed to create task for container: "
    # (moby daemon/start.go); the runtime's own message that follows is unchanged.
    prefix = "failed to create task for container: "
    failure = log.failure
    if failure is None or not failure.message.startswith(prefix):
        return log
    return replace(log, failure=replace(failure, message=failure.message[len(prefix) :]))


def _parse_error_wording(log: BuildLog) -> BuildLog:
    # Engine 23+ (BuildKit's parser, vendored): "dockerfile parse error on line 3: unknown
    # instruction: FOO (did you mean FROM?)"; Engine 20.10: "... error line 3: ...".
    failure = log.failure
    if failure is None:
        return log
    message = failure.message.replace("parse error on line", "parse error line")
    message = re.sub(r" \(did you mean \w+\?\)$", "", message)
    return replace(log, failure=replace(failure, message=message, parse_error_line=3))


# The differences the engines really have, case by case; every other case must agree as is.
DIFFERENCES = {"from-scratch": _runc_wording, "syntax-error": _parse_error_wording}


def _agreeing(case: str, log: BuildLog) -> BuildLog:
    return DIFFERENCES.get(case, lambda same: same)(log)


def _sorted_tail(log: BuildLog) -> Any:
    # A RUN step whose stdout and stderr lines race: the 20.10 API recording of
    # multistage-nonfinal got them in the other order (tests/test_buildlog.py says so).
    data = shape(log)
    for step in data["steps"]:
        step["output_tail"] = sorted(step["output_tail"])
    return data


@pytest.mark.parametrize("engine", NEWER)
@pytest.mark.parametrize("case", CASES)
def test_cli_log_parses_alike_on_every_engine(engine: str, case: str) -> None:
    assert shape(_agreeing(case, cli(engine, case))) == shape(cli("engine-20.10", case))


@pytest.mark.parametrize("engine", NEWER)
@pytest.mark.parametrize("case", [c for c in CASES if c != "syntax-error"])
def test_api_stream_parses_alike_on_every_engine(engine: str, case: str) -> None:
    old, new = api("engine-20.10", case), _agreeing(case, api(engine, case))
    if case == "multistage-nonfinal":
        assert _sorted_tail(new) == _sorted_tail(old)
    else:
        assert shape(new) == shape(old)


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("case", CASES)
def test_cli_and_api_agree_on_each_engine(engine: str, case: str) -> None:
    if case == "syntax-error":  # the API refuses with HTTP 400: no stream
        assert chunks(engine, case) == []
        return
    assert _sorted_tail(cli(engine, case)) == _sorted_tail(api(engine, case))


# --- Where the engines differ, asserted ----------------------------------------------------

_REMOVING = re.compile(r"^Removing intermediate container ([0-9a-f]{12})$", re.M)
_REMOVED = re.compile(r"^ ---> Removed intermediate container ([0-9a-f]{12})$", re.M)
_RUNNING = re.compile(r"^ ---> Running in ([0-9a-f]{12})$", re.M)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_removed_intermediate_container_wording(engine: str) -> None:
    # moby#46270 (Engine 25): "Removing intermediate container <id>" became
    # " ---> Removed intermediate container <id>", printed after the removal.
    log = text(engine, "success")
    old, new = _REMOVING.findall(log), _REMOVED.findall(log)
    removed = new if engine in NEWER else old
    assert (old if engine in NEWER else new) == []
    assert removed == _RUNNING.findall(log)  # each step's container, once removed
    parsed = cli(engine, "success")
    assert [s.container for s in parsed.steps[1:]] == removed
    assert all(s.image is not None for s in parsed.steps)  # the id after it is still found
    assert not any("intermediate" in line for s in parsed.steps for line in s.output_tail)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_parse_error_wording(engine: str) -> None:
    explanation = meta(engine, "syntax-error")["api"]["http_error"]["explanation"]
    if engine in NEWER:
        wording = "dockerfile parse error on line 3: unknown instruction: FOO (did you mean FROM?)"
    else:
        wording = "dockerfile parse error line 3: unknown instruction: FOO"
    assert explanation == wording
    assert f"Error response from daemon: {wording}\n" in text(engine, "syntax-error")


def test_parse_error_line_on_engine_20_10() -> None:
    for parsed in (cli("engine-20.10", "syntax-error"), parse([_http_error("engine-20.10")])):
        assert parsed.failure is not None
        assert parsed.failure.parse_error_line == 3


def _http_error(engine: str) -> str:
    return str(meta(engine, "syntax-error")["api"]["http_error"]["explanation"])


@pytest.mark.parametrize("engine", NEWER)
def test_parse_error_line_on_engine_26(engine: str) -> None:
    for parsed in (cli(engine, "syntax-error"), parse([_http_error(engine)])):
        assert parsed.failure is not None
        assert parsed.failure.parse_error_line == 3


@pytest.mark.parametrize("engine", NEWER)
def test_runtime_error_wording(engine: str) -> None:
    old = cli("engine-20.10", "from-scratch").failure
    new = cli(engine, "from-scratch").failure
    assert old is not None and new is not None
    assert new.message == f"failed to create task for container: {old.message}"
    assert new == Failure(new.message, None, None, None, False)


# --- The containerd image store: same lines, other ids -------------------------------------


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("case", ["run-exit-100", "success", "multistage-nonfinal"])
def test_from_line_prints_the_daemons_own_image_id(engine: str, case: str) -> None:
    # The FROM step prints the base image's id on that daemon: its config digest on
    # overlay2, its manifest digest on the containerd store (moby
    # daemon/containerd/image_builder.go returns the image's target digest).
    recorded = meta(engine, case)["base_images"]
    parsed = cli(engine, case)
    base = "debian:bookworm" if parsed.steps[0].text.startswith("FROM debian") else "busybox:latest"
    assert parsed.steps[0].image == recorded[base][len("sha256:") : len("sha256:") + 12]


def test_containerd_store_ids_are_not_the_graph_drivers() -> None:
    overlay = meta("engine-26", "success")["base_images"]["busybox:latest"]
    containerd = meta("engine-26-containerd", "success")["base_images"]["busybox:latest"]
    # Same busybox (docker save | docker load from the engine-26 daemon), another id.
    assert overlay != containerd
    parsed = api("engine-26-containerd", "success")
    streamed = "".join(api_stream_text(chunks("engine-26-containerd", "success")))
    aux = re.findall(r"^sha256:([0-9a-f]{64})$", streamed, re.M)  # the API's aux ID
    assert parsed.image is not None and len(aux) == 1
    assert aux[0].startswith(parsed.image) and parsed.image == parsed.steps[-1].image


# --- Engine 27-29 formats from public logs ------------------------------------------------------

HISTORIC_ENGINES = LOGS / "historic" / "engines"
WRAPPED = LOGS / "wrapped"


@pytest.mark.parametrize("folder", [HISTORIC_ENGINES, WRAPPED], ids=["historic-engines", "wrapped"])
def test_every_saved_log_is_sourced(folder: Path) -> None:
    names = sorted(p.stem for p in folder.glob("*.txt"))
    assert names, folder
    for name in names:
        source = (folder / f"{name}.source").read_text()
        assert re.match(r"(real: https://|recorded: tests/fixtures/builds/)", source), name


def test_containerd_store_log_prints_pulled_digests_as_ids() -> None:
    # A public log of the containerd image store (Engine 29's default): the id a FROM step
    # prints is the digest it just pulled; every later id is a manifest digest too.
    log = (HISTORIC_ENGINES / "real-containerd-store-pull.txt").read_text()
    parsed = parse([log])
    pulled = re.findall(r"^Digest: sha256:([0-9a-f]{12})", log, re.M)
    froms = [s for s in parsed.steps if s.instruction == "FROM"]
    assert [s.image for s in froms] == pulled == ["85f00967bcc6", "7a65df4b22d2"]
    assert [s.index for s in parsed.steps] == list(range(1, 10))
    assert all(s.image is not None for s in parsed.steps)
    assert parsed.succeeded and parsed.image == "fed993be3872" == parsed.steps[-1].image
    assert parsed.tags == ("hello-java:latest",)
    assert [s.container for s in parsed.steps if s.container] == _REMOVED.findall(log)
    assert all(not s.output_tail for s in parsed.steps)  # pull progress and bookkeeping only


# --- Wrappers that tag or indent every line ---------------------------------------------------


def wrapped(name: str) -> str:
    return (WRAPPED / f"{name}.txt").read_bytes().decode("utf-8")


@pytest.mark.parametrize("case", ["run-exit-127", "run-exit-100"])
def test_mixlib_shellout_finds_the_failure(case: str) -> None:
    # Mixlib::ShellOut (Test Kitchen's docker drivers, Chef) splits the build into a STDOUT:
    # and a STDERR: section; the builder's error ends up after the step's output.
    parsed = parse([wrapped(f"mixlib-shellout-{case}")])
    plain = cli("engine-26", case)
    assert plain.failure is not None
    assert parsed.failure == plain.failure
    assert [(s.index, s.instruction) for s in parsed.steps] == [
        (s.index, s.instruction) for s in plain.steps
    ]
    assert parsed.failed_step is not None and parsed.last_good_image is not None
    assert parsed.last_good_image == parsed.steps[-2].image


@pytest.mark.parametrize("case", ["run-exit-127", "run-exit-100"])
def test_mixlib_shellout_parses_like_the_plain_log(case: str) -> None:
    # The STDERR: tag must not hide the CLI's DEPRECATED notice, which would then count as
    # output of the failing step ('STDERR: DEPRECATED: The legacy builder is deprecated ...').
    assert shape(parse([wrapped(f"mixlib-shellout-{case}")])) == shape(cli("engine-26", case))


@pytest.mark.parametrize("case", ["run-exit-127", "run-exit-100"])
def test_packer_tagged_build_parses_like_the_plain_log(case: str) -> None:
    # Packer's shell-local provisioner tags the build's stdout lines `    null: ` and its stderr
    # lines `==> null: ` (the builder's error among them), and adds its own lines after.
    log = wrapped(f"packer-{case}")
    assert re.search(r"^    null: Step 1/\d : FROM ", log, re.M)
    assert re.search(r"^==> null: The command '.*' returned a non-zero code: \d+$", log, re.M)
    assert shape(parse([log])) == shape(cli("engine-26", case))


def test_packer_tag_is_stripped_only_where_it_is() -> None:
    # Lines without the tag (Packer's own closing lines) are not cut, and a tag of another
    # name is another wrapper's text, kept as output.
    log = wrapped("packer-run-exit-127").replace(
        "    null: about to call", "    other: about to call"
    )
    parsed = parse([log])
    assert parsed.steps[1].output_tail == (
        "    other: about to call a missing command (naïve café ✓)",
    )
    assert parsed.failure is not None and parsed.failure.exit_code == 127


def test_chef_knife_container_steps_are_found() -> None:
    parsed = parse([wrapped("chef-knife-container-logrus")])
    assert [(s.index, s.total, s.instruction, s.image, s.container) for s in parsed.steps] == [
        (1, None, "FROM", "d56e767abb61", None),
        (2, None, "ADD", "de4ae21a23bb", None),
        (3, None, "RUN", None, "0419866aee89"),
    ]
    assert parsed.steps[-1].output_tail[0] == "/bin/sh: chef-init: command not found"


# What the builder's error says in each wrapped log: (exit code, command).
WRAPPED_FAILURES = {
    # time="..." level="info" msg="The command [/bin/sh -c chef-init --bootstrap] returned ..."
    "chef-knife-container-logrus": (127, "/bin/sh -c chef-init --bootstrap"),
    # Ansible's task result: ..."msg": "Error building asd - code: 1 message: The command ..."}
    "ansible-docker-image-msg": (1, "/bin/sh -c false"),
    # kitchen-dokken: [work_image build failed: The command '...' returned a non-zero code: 1. ...]
    "kitchen-dokken-work-image": (1, "/bin/sh -c yum install -y centos-release-scl"),
}


@pytest.mark.parametrize("name", sorted(WRAPPED_FAILURES))
def test_wrapped_error_line_is_found(name: str) -> None:
    # Each wrapper puts text after the builder's error on the same line (a closing quote, a
    # JSON brace, '] on <instance>'), so `returned a non-zero code: N` is not at the end.
    parsed = parse([wrapped(name)])
    assert parsed.failure is not None
    assert (parsed.failure.exit_code, parsed.failure.command) == WRAPPED_FAILURES[name]
    # The message is the builder's, without the wrapper's text around it.
    assert re.fullmatch(r"The command .* returned a non-zero code: \d+", parsed.failure.message)


def test_ansible_logs_list_failure_is_found() -> None:
    # The build's chunks as a Python list repr on one line, after the error (whose start
    # the saved excerpt cut off): at least the exit code must be found.
    parsed = parse([wrapped("ansible-logs-list")])
    assert parsed.failure is not None and parsed.failure.exit_code == 100
    assert parsed.failure.command is None  # only its end is left: not a command to show
    assert parsed.failure.message.endswith("; fi' returned a non-zero code: 100")


def test_packer_docker_builder_log_is_no_build() -> None:
    # Packer's docker builder runs and commits a container; it never runs `docker build`.
    with pytest.raises(LogFormatError, match="no classic docker build output"):
        parse([wrapped("packer-docker-builder")])

"""The classic log family on recorded output: the docker CLI's text and the Engine API's raw chunks.

Every expectation below was written by reading the logs under tests/fixtures/logs/
(recorded from Engine 20.10 by tests/record_fixtures.py) and logs/historic/ (real logs
from public issue threads, and logs derived mechanically from the recorded ones). Each
recorded build has fresh ids; re-recording changes them: update CLI_IDS and API_IDS from
the new logs (the structure of each expectation stays).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest

from dbugbuild.logs import (
    BuildLog,
    Failure,
    LogFormatError,
    Step,
    api_stream_text,
    parse,
    split_lines,
    strip_ansi,
)
from dbugbuild.logs.classic import ClassicParser

LOGS = Path(__file__).parent / "fixtures" / "logs"
HISTORIC = LOGS / "historic"
BUILDS = Path(__file__).parent / "fixtures" / "builds"

BUSYBOX = "634a12f5cd7e"  # busybox:latest, the FROM of most cases
DEBIAN = "d09f474efd86"  # debian:bookworm


def cli_text(case: str) -> str:
    return (LOGS / f"{case}.txt").read_bytes().decode("utf-8")


def api_chunks(case: str) -> list[str]:
    chunks = json.loads((LOGS / f"{case}.api.json").read_text())
    assert isinstance(chunks, list)
    return chunks


def historic(name: str) -> str:
    return (HISTORIC / f"{name}.txt").read_bytes().decode("utf-8")


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def step(
    index: int,
    total: int | None,
    text: str,
    instruction: str,
    image: str | None = None,
    container: str | None = None,
    tail: tuple[str, ...] = (),
    cached: bool = False,
    triggers: int = 0,
) -> Step:
    return Step(index, total, text, instruction, image, cached, container, triggers, tail)


def non_zero(command: str, code: int) -> Failure:
    message = f"The command '{command}' returned a non-zero code: {code}"
    return Failure(message, code, command, None, False)


# --- The recorded cases ---------------------------------------------------------------


class Ids(NamedTuple):
    """The fresh ids one recording printed, in order: ` ---> <id>` and `Running in <id>`."""

    images: tuple[str, ...]
    containers: tuple[str, ...]


CLI_IDS = {
    "run-exit-100": Ids(
        ("76789ae6947f", "950f63a177b8", "7745079d5461"),
        ("32368c72bab8", "5dcf5e1ff689", "da26fca3aa51", "172b2af322bb"),
    ),
    "run-exit-127": Ids(("709c28071840",), ("2d20aebaccb9", "df16f1c4b94c")),
    "multistage-nonfinal": Ids(
        ("75a5c4c3f096", "5e0f67320a6c"), ("005a245be272", "9b5e14ca1161", "71dcae77629e")
    ),
    "multiline-run": Ids(("b762a2c6d0ae",), ("74312e6483b0", "4e7197890656")),
    "copy-dockerignored": Ids(("601880216300", "12f6e9163b08"), ("464fdf9cf544",)),
    "syntax-error": Ids((), ()),
    "onbuild-trigger": Ids((), ("9029b87e76bf", "0fa4c5b86ea8")),
    "subdir-target": Ids(
        ("86eaacfe39c8", "ab5539cb87e2"), ("70356741b77f", "934c800af83f", "d7d8c8590e6e")
    ),
    "build-arg": Ids(("bde300126725",), ("2c4b95f79ccf", "916a15ed9295")),
    "success": Ids(("416cd0be36c7", "96d2a9b2025c"), ("4253bad33beb", "102b97b95047")),
    "exec-form": Ids((), ("89ca511f647f",)),
    "label": Ids((), ("143d31f6fda9",)),
    "from-scratch": Ids((), ("9c9cb68226a2",)),
}

API_IDS = {
    "run-exit-100": Ids(
        ("680ec57fefd2", "171d7132c07d", "5dad11cd8686"),
        ("dc9007a0b8d5", "6a0fa7528ba1", "c3a9522ada16", "ee27de9a3f7e"),
    ),
    "run-exit-127": Ids(("caea5ce04206",), ("4b615c8320c9", "1ce6e992998a")),
    "multistage-nonfinal": Ids(
        ("d6900c983aca", "bfd325f22af4"), ("58798fc2d804", "5bef3cf13784", "83ccefdeff05")
    ),
    "multiline-run": Ids(("bc168022cf8f",), ("65ad27c34ea5", "5546eb41c6ee")),
    "copy-dockerignored": Ids(("8f865676d7b2", "dc7a3a6af3c7"), ("78e43aa009d4",)),
    "onbuild-trigger": Ids((), ("a9727fca01db", "265488c86402")),
    "subdir-target": Ids(
        ("bade9131758a", "b6fbf42adf89"), ("bd793518c2e5", "b5f3c5e88bf2", "82b1133d4801")
    ),
    "build-arg": Ids(("7d2f1b134195",), ("6e9f47596a77", "eab1fd3c960b")),
    "success": Ids(("b0a5557a9558", "e140d266c588"), ("defd2297660f", "2c4a55420b6f")),
    "exec-form": Ids((), ("c70ae909c625",)),
    "label": Ids((), ("99d903c7587d",)),
    "from-scratch": Ids((), ("da94f0354f5d",)),
}


def run_exit_100(ids: Ids) -> BuildLog:
    img, ctr = ids
    return BuildLog(
        steps=(
            step(1, 6, "FROM debian:bookworm", "FROM", DEBIAN),
            step(2, 6, "ENV DEBIAN_FRONTEND=noninteractive", "ENV", img[0], ctr[0]),
            step(3, 6, "WORKDIR /srv/app", "WORKDIR", img[1], ctr[1]),
            step(
                4,
                6,
                'RUN echo "preparing $DEBIAN_FRONTEND in $(pwd)" > prep.txt && cat prep.txt',
                "RUN",
                img[2],
                ctr[2],
                ("preparing noninteractive in /srv/app",),
            ),
            step(
                5,
                6,
                "RUN apt-get -y update-all",
                "RUN",
                None,
                ctr[3],
                ("E: Invalid operation update-all",),
            ),
        ),
        failure=non_zero("/bin/sh -c apt-get -y update-all", 100),
        image=None,
        tags=(),
    )


def run_exit_127(ids: Ids) -> BuildLog:
    img, ctr = ids
    echo = "about to call a missing command (naïve café ✓)"
    return BuildLog(
        steps=(
            step(1, 3, "FROM busybox", "FROM", BUSYBOX),
            step(2, 3, f'RUN echo "{echo}"', "RUN", img[0], ctr[0], (echo,)),
            step(
                3,
                3,
                "RUN dbugbuild-no-such-command --version",
                "RUN",
                None,
                ctr[1],
                ("/bin/sh: dbugbuild-no-such-command: not found",),
            ),
        ),
        failure=non_zero("/bin/sh -c dbugbuild-no-such-command --version", 127),
        image=None,
        tags=(),
    )


def multistage_nonfinal(ids: Ids) -> BuildLog:
    img, ctr = ids
    run = 'echo "checking the artifact" && cat /build/missing-artifact.txt'
    return BuildLog(
        steps=(
            step(1, 7, "FROM busybox AS builder", "FROM", BUSYBOX),
            step(2, 7, "WORKDIR /build", "WORKDIR", img[0], ctr[0]),
            step(3, 7, 'RUN echo "compiled" > artifact.txt', "RUN", img[1], ctr[1]),
            step(
                4,
                7,
                f"RUN {run}",
                "RUN",
                None,
                ctr[2],
                (
                    "checking the artifact",
                    "cat: can't open '/build/missing-artifact.txt': No such file or directory",
                ),
            ),
        ),
        failure=non_zero(f"/bin/sh -c {run}", 1),
        image=None,
        tags=(),
    )


def multiline_run(ids: Ids) -> BuildLog:
    img, ctr = ids
    # The parser of the Dockerfile drops the comment line and joins the continuations.
    run = (
        'echo "$GREETING from line one" &&     echo "line two" &&     ls /no/such/dir &&'
        '     echo "never printed"'
    )
    return BuildLog(
        steps=(
            step(1, 3, "FROM busybox", "FROM", BUSYBOX),
            step(2, 3, "ENV GREETING=hello", "ENV", img[0], ctr[0]),
            step(
                3,
                3,
                f"RUN {run}",
                "RUN",
                None,
                ctr[1],
                (
                    "hello from line one",
                    "line two",
                    "ls: /no/such/dir: No such file or directory",
                ),
            ),
        ),
        failure=non_zero(f"/bin/sh -c {run}", 1),
        image=None,
        tags=(),
    )


def copy_dockerignored(ids: Ids) -> BuildLog:
    img, ctr = ids
    return BuildLog(
        steps=(
            step(1, 4, "FROM busybox", "FROM", BUSYBOX),
            step(2, 4, "WORKDIR /app", "WORKDIR", img[0], ctr[0]),
            step(3, 4, "COPY kept.txt /app/kept.txt", "COPY", img[1]),  # COPY runs no container
            step(4, 4, "COPY secret.txt /app/secret.txt", "COPY"),
        ),
        failure=Failure(
            "COPY failed: file not found in build context or excluded by .dockerignore: "
            "stat secret.txt: file does not exist",
            None,
            None,
            None,
            False,
        ),
        image=None,
        tags=(),
    )


def syntax_error(ids: Ids) -> BuildLog:
    message = "dockerfile parse error line 3: unknown instruction: FOO"
    return BuildLog(steps=(), failure=Failure(message, None, None, 3, False), image=None, tags=())


def onbuild_trigger(ids: Ids) -> BuildLog:
    _, ctr = ids
    # Each trigger runs in a container of its own inside the FROM step; the first one's
    # image is committed but never printed, and the parent's id is printed only after
    # all triggers succeed.
    return BuildLog(
        steps=(
            step(
                1,
                2,
                "FROM dbugbuild-test/onbuild-parent:latest",
                "FROM",
                None,
                ctr[1],
                ("first trigger runs fine", "second trigger fails"),
                triggers=2,
            ),
        ),
        failure=replace(
            non_zero('/bin/sh -c echo "second trigger fails" && exit 3', 3), in_trigger=True
        ),
        image=None,
        tags=(),
    )


def subdir_target(ids: Ids) -> BuildLog:
    img, ctr = ids
    run = 'echo "running tests" && test -f /app/test-report.txt'
    return BuildLog(
        steps=(
            # --target test: the total counts the stages up to the target, not `release`.
            step(1, 5, "FROM busybox AS base", "FROM", BUSYBOX),
            step(2, 5, "WORKDIR /app", "WORKDIR", img[0], ctr[0]),
            step(3, 5, 'RUN echo "base layer" > /app/base.txt', "RUN", img[1], ctr[1]),
            step(4, 5, "FROM base AS test", "FROM", img[1]),  # the base stage's last image
            step(5, 5, f"RUN {run}", "RUN", None, ctr[2], ("running tests",)),
        ),
        failure=non_zero(f"/bin/sh -c {run}", 1),
        image=None,
        tags=(),
    )


def build_arg(ids: Ids) -> BuildLog:
    img, ctr = ids
    run = 'echo "GREETING is $GREETING" && exit 4'
    return BuildLog(
        steps=(
            step(1, 3, "FROM busybox", "FROM", BUSYBOX),
            step(2, 3, "ARG GREETING=default-greeting", "ARG", img[0], ctr[0]),
            # The build arg reaches the command, not the message: no `|1 GREETING=...`.
            step(3, 3, f"RUN {run}", "RUN", None, ctr[1], ("GREETING is hello-from-build-arg",)),
        ),
        failure=non_zero(f"/bin/sh -c {run}", 4),
        image=None,
        tags=(),
    )


def success(ids: Ids) -> BuildLog:
    img, ctr = ids
    return BuildLog(
        steps=(
            step(1, 3, "FROM busybox", "FROM", BUSYBOX),
            step(
                2,
                3,
                'RUN echo "building" && echo ok > /ok.txt',
                "RUN",
                img[0],
                ctr[0],
                ("building",),
            ),
            step(3, 3, 'CMD ["cat", "/ok.txt"]', "CMD", img[1], ctr[1]),
        ),
        failure=None,
        image=img[1],
        tags=("dbugbuild-test/success:latest",),
    )


def exec_form(ids: Ids) -> BuildLog:
    _, ctr = ids
    return BuildLog(
        steps=(
            step(1, 2, "FROM busybox", "FROM", BUSYBOX),
            step(2, 2, 'RUN ["false"]', "RUN", None, ctr[0]),
        ),
        failure=non_zero("false", 1),  # exec form: no /bin/sh -c
        image=None,
        tags=(),
    )


def label(ids: Ids) -> BuildLog:
    _, ctr = ids
    run = 'echo "labelled build" && exit 2'
    return BuildLog(
        steps=(
            # --label a=b appends a LABEL step: 2 instructions, a total of 3.
            step(1, 3, "FROM busybox", "FROM", BUSYBOX),
            step(2, 3, f"RUN {run}", "RUN", None, ctr[0], ("labelled build",)),
        ),
        failure=non_zero(f"/bin/sh -c {run}", 2),
        image=None,
        tags=(),
    )


def from_scratch(ids: Ids) -> BuildLog:
    _, ctr = ids
    return BuildLog(
        steps=(
            step(1, 2, "FROM scratch", "FROM"),  # prints a bare ` ---> `: no image
            step(2, 2, 'RUN ["/no-shell-in-scratch"]', "RUN", None, ctr[0]),
        ),
        # The runtime's error: no exit code, and (in the API) an errorDetail without "code".
        failure=Failure(
            "failed to create shim task: OCI runtime create failed: runc create failed: "
            'unable to start container process: exec: "/no-shell-in-scratch": '
            "stat /no-shell-in-scratch: no such file or directory: unknown",
            None,
            None,
            None,
            False,
        ),
        image=None,
        tags=(),
    )


EXPECTED: dict[str, Callable[[Ids], BuildLog]] = {
    "run-exit-100": run_exit_100,
    "run-exit-127": run_exit_127,
    "multistage-nonfinal": multistage_nonfinal,
    "multiline-run": multiline_run,
    "copy-dockerignored": copy_dockerignored,
    "syntax-error": syntax_error,
    "onbuild-trigger": onbuild_trigger,
    "subdir-target": subdir_target,
    "build-arg": build_arg,
    "success": success,
    "exec-form": exec_form,
    "label": label,
    "from-scratch": from_scratch,
}
CASES = sorted(EXPECTED)
API_CASES = sorted(API_IDS)  # syntax-error: the daemon answers HTTP 400, no stream


def expected_from_api(case: str) -> BuildLog:
    expected = EXPECTED[case](API_IDS[case])
    if case == "multistage-nonfinal":
        # The daemon copies a RUN's stdout and stderr in two goroutines: in this recording
        # the stderr line overtook the stdout line printed before it (the CLI recording
        # kept their order). Recorded as it came; see test_cli_and_api_give_the_same_result.
        failing = expected.steps[-1]
        failing = replace(failing, output_tail=failing.output_tail[::-1])
        expected = replace(expected, steps=(*expected.steps[:-1], failing))
    return expected


def test_fixtures_cover_every_build_case() -> None:
    assert sorted(p.name for p in BUILDS.iterdir() if p.is_dir()) == CASES
    assert sorted(p.name[: -len(".txt")] for p in LOGS.glob("*.txt")) == CASES


@pytest.mark.parametrize("case", CASES)
def test_parse_cli_log(case: str) -> None:
    assert parse([cli_text(case)]) == EXPECTED[case](CLI_IDS[case])


@pytest.mark.parametrize("case", API_CASES)
def test_parse_api_chunks(case: str) -> None:
    assert parse(api_stream_text(api_chunks(case))) == expected_from_api(case)


def test_parse_api_http_error_message_as_the_cli_prints_it() -> None:
    # The daemon refuses a bad Dockerfile with HTTP 400 before any stream; the CLI prints
    # the explanation after "Error response from daemon: ". Both parse alike.
    meta = json.loads((LOGS / "syntax-error.meta.json").read_text())
    explanation = meta["api"]["http_error"]["explanation"]
    assert api_chunks("syntax-error") == []
    expected = syntax_error(Ids((), ()))
    assert parse([explanation]) == expected
    assert parse([f"Error response from daemon: {explanation}\n"]) == expected


def _anonymised(log: BuildLog) -> BuildLog:
    """The log with every id replaced by its rank of first appearance, tails sorted.

    Sorted, because the daemon does not keep the order of a RUN's stdout and stderr
    lines (see expected_from_api): two runs of one build may interleave them apart.
    """
    ranks: dict[str, str] = {}

    def rank(value: str | None) -> str | None:
        return None if value is None else ranks.setdefault(value, f"id{len(ranks)}")

    steps = tuple(
        replace(
            s,
            image=rank(s.image),
            container=rank(s.container),
            output_tail=tuple(sorted(s.output_tail)),
        )
        for s in log.steps
    )
    return replace(log, steps=steps, image=rank(log.image))


@pytest.mark.parametrize("case", API_CASES)
def test_cli_and_api_give_the_same_result(case: str) -> None:
    from_cli = parse([cli_text(case)])
    from_api = parse(api_stream_text(api_chunks(case)))
    assert _anonymised(from_cli) == _anonymised(from_api)
    assert from_cli != from_api  # two builds with --no-cache: fresh ids in each


PROPERTIES = {
    # case: (succeeded, failed step's index, last good image, from CLI_IDS)
    "run-exit-100": (False, 5, "7745079d5461"),
    "run-exit-127": (False, 3, "709c28071840"),
    "multistage-nonfinal": (False, 4, "5e0f67320a6c"),
    "multiline-run": (False, 3, "b762a2c6d0ae"),
    "copy-dockerignored": (False, 4, "12f6e9163b08"),
    "syntax-error": (False, None, None),
    "onbuild-trigger": (False, 1, None),  # the parent's id is not in the log
    "subdir-target": (False, 5, "ab5539cb87e2"),  # the target stage's base
    "build-arg": (False, 3, "bde300126725"),
    "success": (True, None, None),
    "exec-form": (False, 2, BUSYBOX),  # first instruction after FROM: the base image
    "label": (False, 2, BUSYBOX),
    "from-scratch": (False, 2, None),  # the stage is FROM scratch: no image to start from
}


@pytest.mark.parametrize("case", CASES)
def test_buildlog_properties(case: str) -> None:
    log = parse([cli_text(case)])
    failed = log.failed_step
    assert (
        log.succeeded,
        None if failed is None else failed.index,
        log.last_good_image,
    ) == PROPERTIES[case]


@pytest.mark.parametrize("case", CASES)
def test_parse_cli_log_in_every_chunk_size(case: str) -> None:
    text = cli_text(case)
    whole = parse([text])
    for size in range(1, 8):
        assert parse(pieces(text, size)) == whole, size


@pytest.mark.parametrize("case", API_CASES)
def test_parse_api_stream_in_every_chunk_size(case: str) -> None:
    raw = "".join(api_chunks(case))
    expected = expected_from_api(case)
    assert parse(api_stream_text([raw])) == expected  # all objects in one chunk
    encoded = raw.encode("utf-8")
    for size in range(1, 8):
        assert parse(api_stream_text(pieces(raw, size))) == expected, size
        # bytes cut anywhere, also inside a multi-byte character (run-exit-127 has some)
        byte_chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)]
        assert parse(api_stream_text(byte_chunks)) == expected, size


def test_parser_feeds_like_parse() -> None:
    parser = ClassicParser()
    for chunk in api_stream_text(api_chunks("run-exit-100")):
        parser.feed(chunk)
    assert parser.close() == expected_from_api("run-exit-100")


def test_tail_keeps_the_last_lines() -> None:
    text = cli_text("multistage-nonfinal")
    full = multistage_nonfinal(CLI_IDS["multistage-nonfinal"])
    last = replace(full.steps[3], output_tail=full.steps[3].output_tail[-1:])
    assert parse([text], tail=1) == replace(full, steps=(*full.steps[:3], last))
    no_tail = parse([text], tail=0)
    assert no_tail == replace(full, steps=tuple(replace(s, output_tail=()) for s in full.steps))


def test_parser_rejects_bad_use() -> None:
    with pytest.raises(ValueError, match="tail must be 0 or more"):
        ClassicParser(tail=-1)
    parser = ClassicParser()
    parser.feed(cli_text("success"))
    parser.close()
    with pytest.raises(ValueError, match=r"feed\(\) after close\(\)"):
        parser.feed("more")


# --- Historic formats -------------------------------------------------------------------


def _without_totals(log: BuildLog) -> BuildLog:
    return replace(log, steps=tuple(replace(s, total=None) for s in log.steps))


def _bracketed(log: BuildLog) -> BuildLog:
    assert log.failure is not None and log.failure.command is not None
    message = log.failure.message.replace(f"'{log.failure.command}'", f"[{log.failure.command}]", 1)
    return replace(log, failure=replace(log.failure, message=message))


DERIVED = {
    # name: the result it must give, from the recorded case it was derived from
    "derived-gha-timestamps": run_exit_100(CLI_IDS["run-exit-100"]),
    "derived-jenkins-iso": multistage_nonfinal(CLI_IDS["multistage-nonfinal"]),
    "derived-jenkins-time": run_exit_127(CLI_IDS["run-exit-127"]),
    "derived-crlf": multiline_run(CLI_IDS["multiline-run"]),
    "derived-cr": copy_dockerignored(CLI_IDS["copy-dockerignored"]),
    "derived-indented": subdir_target(CLI_IDS["subdir-target"]),
    "derived-ansi": build_arg(CLI_IDS["build-arg"]),
    "derived-step0-bracket": _bracketed(_without_totals(run_exit_100(CLI_IDS["run-exit-100"]))),
    "derived-no-total-old-order": _without_totals(success(CLI_IDS["success"])),
    "derived-no-space": onbuild_trigger(CLI_IDS["onbuild-trigger"]),
    "derived-gha-ansi-crlf": multistage_nonfinal(CLI_IDS["multistage-nonfinal"]),
}


def test_every_historic_fixture_is_tested_and_sourced() -> None:
    names = sorted(p.name[: -len(".txt")] for p in HISTORIC.glob("*.txt"))
    assert names == sorted([*DERIVED, *REAL, *BUILDKIT])
    for name in names:
        source = (HISTORIC / f"{name}.source").read_text()
        assert re.match(r"(real: https://|derived: tests/fixtures/logs/)", source), name


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_parse_derived_historic_log(name: str) -> None:
    text = historic(name)
    assert parse([text]) == DERIVED[name]
    for size in range(1, 8):
        assert parse(pieces(text, size)) == DERIVED[name], size


REAL = {
    # Docker 1.6/1.7: Step 0, bracketed command, error printed with a logrus prefix.
    "real-step0-bracket-logrus": BuildLog(
        steps=(
            step(1, None, "FROM busybox:latest", "FROM", "8c2e06607696"),
            step(2, None, "RUN exit 137", "RUN", None, "804b53a341ac"),
        ),
        failure=Failure(
            "The command [/bin/sh -c exit 137] returned a non-zero code: 137",
            137,
            "/bin/sh -c exit 137",
            None,
            False,
        ),
        image=None,
        tags=(),
    ),
    # Docker 1.8: Step 0, a v1 registry pull inside the FROM step (not step output).
    "real-step0-pull-v1": BuildLog(
        steps=(
            step(1, None, "FROM couchbase/server:enterprise-4.0.0-rc0", "FROM", "32702aac37b4"),
            step(
                2,
                None,
                "RUN yum -y install gcc-c++",
                "RUN",
                None,
                "84dace6a5439",
                ("/bin/sh: 1: yum: not found",),
            ),
        ),
        failure=non_zero("/bin/sh -c yum -y install gcc-c++", 127),
        image=None,
        tags=(),
    ),
    # Docker 1.5: cached steps, and the daemon's error with a logrus INFO prefix.
    "real-step0-using-cache-logrus": BuildLog(
        steps=(
            step(1, None, "FROM ubuntu:12.04.5", "FROM", "69c02692b0c1"),
            step(
                2,
                None,
                "MAINTAINER Martin Yrjölä <martin.yrjola@gmail.com>",
                "MAINTAINER",
                "99d7ccb57b2b",
                cached=True,
            ),
            step(3, None, "ENV DEBIAN_FRONTEND noninteractive", "ENV", "2c4bbeb194f8", cached=True),
            step(4, None, "RUN apt-get update", "RUN"),
        ),
        failure=Failure(
            "Unknown filesystem type on /dev/mapper/docker-253:0-524719-"
            "4cce267aed7dfeafe4b4d3f4fc7ef9f1d5327a90af98239a3c97ead80a74f168-init",
            None,
            None,
            None,
            False,
        ),
        image=None,
        tags=(),
    ),
    # The pull of the FROM image fails: the failing step is the FROM.
    "real-step0-pull-error": BuildLog(
        steps=(step(1, None, "FROM ubuntu:14.04", "FROM"),),
        failure=Failure(
            "Get https://index.docker.io/v1/repositories/library/ubuntu/images: dial tcp: "
            "lookup index.docker.io on 10.250.0.4:53: read udp 10.250.0.4:53: i/o timeout",
            None,
            None,
            None,
            False,
        ),
        image=None,
        tags=(),
    ),
    # Docker 1.10-1.12: `Step 1 :`, counted from 1, without a total.
    "real-no-total": BuildLog(
        steps=(
            step(1, None, "FROM armbuild/debian", "FROM", "e9bcf72ae729"),
            step(2, None, "ENV DEBIAN_FRONTEND noninteractive", "ENV", "fcb28ab5ac74", cached=True),
            step(3, None, "ENV LC_ALL C", "ENV", "b675b6c3088b", cached=True),
            step(4, None, "RUN rm -f /usr/sbin/policy-rc.d", "RUN", None, "8dfccb24ae83"),
        ),
        failure=non_zero("/bin/sh -c rm -f /usr/sbin/policy-rc.d", 139),
        image=None,
        tags=(),
    ),
    # A fragment starting inside a step; a wrapper's FATA and make's line after the error.
    "real-no-total-wrapper-noise": BuildLog(
        steps=(
            step(
                18,
                None,
                "RUN curl -sL https://get.docker.com/builds/Linux/x86_64/docker-1.9.1"
                " > /usr/bin/docker &&     chmod +x /usr/bin/docker",
                "RUN",
                None,
                "6005fc7a4e9c",
            ),
        ),
        failure=non_zero(
            "/bin/sh -c curl -sL https://get.docker.com/builds/Linux/x86_64/docker-1.9.1"
            " > /usr/bin/docker &&     chmod +x /usr/bin/docker",
            6,
        ),
        image=None,
        tags=(),
    ),
    # Docker 1.2: one line, Go's log prefix, bracketed command; no steps.
    "real-go-log-bracket": BuildLog(
        steps=(),
        failure=Failure(
            "The command [/bin/sh -c cd /tmp/mcrouter/mcrouter/scripts  &&"
            " ./install_ubuntu_14.04.sh /usr/local/lib] returned a non-zero code: 3",
            3,
            "/bin/sh -c cd /tmp/mcrouter/mcrouter/scripts  && ./install_ubuntu_14.04.sh"
            " /usr/local/lib",
            None,
            False,
        ),
        image=None,
        tags=(),
    ),
    # Docker 1.3: ` ---> <id>` before the container removal, no leading space, Go log error.
    "real-old-order-go-log": BuildLog(
        steps=(step(5, None, "RUN [[ next command ]]", "RUN"),),
        failure=Failure(
            "No such id: b24142b94e2ed2d8014d67883e92124d44bea14eae76798e92489b29a76ab1c6",
            None,
            None,
            None,
            False,
        ),
        image=None,
        tags=(),
    ),
    # Jenkins `HH:MM:SS  ` prefix (two spaces): the second is taken as indentation.
    "real-jenkins-hhmmss": BuildLog(
        steps=(
            step(
                7,
                10,
                "RUN dos2unix /opt/metasfresh-esb-camel/start_esb-camel_docker.sh",
                "RUN",
                None,
                "43001852d723",
            ),
        ),
        failure=non_zero(
            "/bin/sh -c dos2unix /opt/metasfresh-esb-camel/start_esb-camel_docker.sh", 139
        ),
        image=None,
        tags=(),
    ),
    # GitHub Actions: a failed build, the action's retry, and the retry's first steps;
    # the result describes the last build, still running when the excerpt ends.
    "real-gha-retry": BuildLog(
        steps=(
            step(1, 5, "FROM alpine", "FROM", "021b3423115f"),
            step(2, 5, "RUN apk add --no-cache curl", "RUN", "e5b3f9e0d07b", cached=True),
        ),
        failure=None,
        image=None,
        tags=(),
    ),
    # GitHub Actions: a v2 pull inside the FROM step; the excerpt ends at step 4.
    "real-gha-pull": BuildLog(
        steps=(
            step(1, 12, "FROM ghcr.io/dita-ot/dita-ot:3.6.1 AS DITA_OT", "FROM", "eacaea8c8267"),
            step(
                2,
                12,
                'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
                "SHELL",
                "5f90510d33ad",
                "f57eb59469a8",
            ),
            step(3, 12, "USER root", "USER", "689c84df184d", "6a2bd43d1aeb"),
            step(4, 12, "WORKDIR /", "WORKDIR"),
        ),
        failure=None,
        image=None,
        tags=(),
    ),
    # A pull inside FROM, arrows without their leading space, a successful build.
    "real-pull-success": BuildLog(
        steps=(
            step(1, 3, "FROM ubuntu", "FROM", "7e0aa2d69a15"),
            step(2, 3, "RUN exit 1 | cat", "RUN", "52d1d29faa4a", "8ea658949e56"),
            step(
                3,
                3,
                'RUN echo "Hello World"',
                "RUN",
                "f4837014c627",
                "92621d783f9e",
                ("Hello World",),
            ),
        ),
        failure=None,
        image="f4837014c627",
        tags=("dockerfail:latest",),
    ),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_parse_real_historic_log(name: str) -> None:
    text = historic(name)
    assert parse([text]) == REAL[name]
    for size in range(1, 8):
        assert parse(pieces(text, size)) == REAL[name], size


def test_historic_properties() -> None:
    def summary(name: str) -> tuple[bool, int | None, str | None]:
        log = REAL[name]
        failed = log.failed_step
        return log.succeeded, None if failed is None else failed.index, log.last_good_image

    assert summary("real-step0-bracket-logrus") == (False, 2, "8c2e06607696")
    assert summary("real-step0-pull-error") == (False, 1, None)
    assert summary("real-no-total") == (False, 4, "b675b6c3088b")
    assert summary("real-no-total-wrapper-noise") == (False, 18, None)  # no earlier step
    assert summary("real-gha-retry") == (False, None, None)  # still running
    assert summary("real-pull-success") == (True, None, None)


# --- Input that is no classic build output ---------------------------------------------------

BUILDKIT = ("buildkit-plain", "buildkit-tty")


@pytest.mark.parametrize("name", BUILDKIT)
def test_buildkit_log_is_refused(name: str) -> None:
    with pytest.raises(LogFormatError, match=r"BuildKit log .* DOCKER_BUILDKIT=0"):
        parse([historic(name)])


@pytest.mark.parametrize("chunks", [[], [""], ["", "\n", "\r\n  \r"]])
def test_empty_input_is_refused(chunks: list[str]) -> None:
    with pytest.raises(LogFormatError, match="the build output is empty"):
        parse(chunks)


@pytest.mark.parametrize(
    "garbage",
    [
        (BUILDS / "run-exit-100" / "Dockerfile").read_text(),  # a Dockerfile, not its build
        (LOGS / "success.meta.json").read_text(),
        bytes(range(256)).decode("latin-1"),
    ],
    ids=["dockerfile", "json", "binary"],
)
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(LogFormatError, match="no classic docker build output found"):
        parse([garbage])


def test_api_stream_that_is_not_json_is_refused() -> None:
    with pytest.raises(LogFormatError, match="not JSON"):
        list(api_stream_text([cli_text("success")]))


def test_api_stream_cut_inside_an_object_is_refused() -> None:
    raw = "".join(api_chunks("success"))
    with pytest.raises(LogFormatError, match="ends inside a JSON object"):
        list(api_stream_text([raw[:-20]]))


# --- The small pieces -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["derived-crlf", "derived-cr", "derived-gha-ansi-crlf"])
def test_split_lines_in_every_chunk_size(name: str) -> None:
    text = historic(name)
    expected = re.split(r"\r\n|\r|\n", text)
    if expected[-1] == "":
        expected.pop()
    for size in range(1, 8):
        assert list(split_lines(pieces(text, size))) == expected, size


def test_split_lines_line_endings_across_chunks() -> None:
    # docker-py json_stream's way: plain lists of strings.
    assert list(split_lines(["a\r", "\nb\rc", "\r\n", "\r", "d"])) == ["a", "b", "c", "", "d"]
    assert list(split_lines(["x" * 5], max_line=2)) == ["xx", "xx", "x"]


def test_strip_ansi_on_recorded_colour() -> None:
    # The daemon wraps a RUN's stderr in red (moby pkg/streamformatter NewStderrWriter).
    raw = cli_text("run-exit-100")
    assert "\x1b[91m" in raw
    assert strip_ansi(raw) == raw.replace("\x1b[91m", "").replace("\x1b[0m", "")
    coloured = historic("derived-ansi")
    assert "\x1b" not in strip_ansi(coloured)
    assert strip_ansi(coloured).replace("\n", "") == strip_ansi(cli_text("build-arg")).replace(
        "\n", ""
    )


def test_api_stream_text_renders_like_the_cli() -> None:
    # The CLI's text of a build and the API's text of another build of the same case
    # differ only in ids, in the CLI's own lines, and in the aux ID line.
    api = "".join(api_stream_text(api_chunks("success")))
    assert api.splitlines()[-3:] == [
        "sha256:e140d266c588ab6bb596ce41d97320cb667ce14a8776dac2ce92e72f12fbee61",
        "Successfully built e140d266c588",
        "Successfully tagged dbugbuild-test/success:latest",
    ]
    cli = cli_text("success").split("Sending build context to Docker daemon  3.072kB\r\r\n")[1]
    ids = dict(
        zip(
            CLI_IDS["success"].images + CLI_IDS["success"].containers,
            API_IDS["success"].images + API_IDS["success"].containers,
            strict=True,
        )
    )
    for cli_id, api_id in ids.items():
        cli = cli.replace(cli_id, api_id)
    assert api.replace(api.splitlines()[-3] + "\n", "") == cli


def _first_chars(pattern: str) -> set[str]:
    """Every character a match of `pattern` (a set of alternatives) can start with."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]  # Python 3.11+
    except ImportError:  # Python 3.10
        import sre_parse  # type: ignore[no-redef]
    from re import _constants as c  # type: ignore[attr-defined]

    def first(items: list[tuple[object, object]]) -> set[str]:
        op, av = items[0]
        if op is c.LITERAL:
            return {chr(av)}  # type: ignore[arg-type]
        if op is c.IN:
            out: set[str] = set()
            for kind, value in av:  # type: ignore[attr-defined]
                if kind is c.LITERAL:
                    out.add(chr(value))
                elif kind is c.RANGE:
                    out |= {chr(x) for x in range(value[0], value[1] + 1)}
                else:
                    raise AssertionError(kind)
            return out
        if op is c.BRANCH:
            return set().union(*(first(list(branch)) for branch in av[1]))  # type: ignore[index]
        if op is c.SUBPATTERN or op is c.MAX_REPEAT:
            return first(list(av[-1]))  # type: ignore[index]
        raise AssertionError(op)

    return first(list(sre_parse.parse(pattern)))


def test_classic_starts_first_covers_every_start() -> None:
    """The scan's first-character test lets through every line a start token may begin."""
    from dbugbuild.logs.classic.shapes import STARTS, STARTS_FIRST

    needed = _first_chars(f"(?:{STARTS})") | {"S"}  # STDOUT: / STDERR:
    allowed = {ch for ch in map(chr, range(0x80)) if re.fullmatch(f"[{STARTS_FIRST}]", ch)}
    assert needed <= allowed, needed - allowed
    assert allowed == needed  # and nothing more: a wider class only costs speed

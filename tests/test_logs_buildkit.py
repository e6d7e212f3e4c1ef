"""The BuildKit plain-progress parser on recorded and public logs (whole objects asserted).

Recorded logs: tests/fixtures/buildkit/logs/ (tests/record_buildkit.py, Engine 26.1.5, buildx
0.13.1, a .meta.json beside each). Public logs: tests/fixtures/buildkit/public/ (a .source
beside each). The expected results in tests/fixtures/buildkit/expected/ were produced by the
parser and checked line by line against the logs they describe; a change in them is a change
in what the parser reports and must be read as such. Pure: no daemon, no docker CLI.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import random
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from dbugbuild.logs import LogFormatError, buildkit
from dbugbuild.logs.buildkit import (
    BuildKitLog,
    BuildKitLogError,
    BuildKitLogParser,
    TtyProgressError,
    looks_like_buildkit,
    parse,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "buildkit"
RECORDED = sorted((FIXTURES / "logs").glob("*.log"))
PUBLIC = sorted((FIXTURES / "public").glob("*.log"))
ALL_LOGS = RECORDED + PUBLIC
CLASSIC_LOGS = sorted((FIXTURES.parent / "logs").glob("*.txt"))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def as_data(result: BuildKitLog) -> dict[str, Any]:
    """The result as the JSON the expected files hold (tuples become lists)."""
    data = dataclasses.asdict(result)
    data["succeeded"] = result.succeeded
    step = result.failed_step
    data["failed_step"] = dataclasses.asdict(step) if step else None
    parsed: dict[str, Any] = json.loads(json.dumps(data))
    return parsed


def outcome(text: str, chunks: list[str] | None = None) -> dict[str, Any]:
    """The parse of text (fed as chunks when given), or the error it raises, as data."""
    parser = BuildKitLogParser()
    try:
        for chunk in chunks if chunks is not None else [text]:
            parser.feed(chunk)
        return as_data(parser.close())
    except BuildKitLogError as error:
        return {"error": type(error).__name__, "message": str(error)}


def expected(path: Path) -> dict[str, Any]:
    name = path.name[: -len(".log")] + ".json"
    data: dict[str, Any] = json.loads(
        (FIXTURES / "expected" / path.parent.name / name).read_text(encoding="utf-8")
    )
    return data


def random_chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    chunks, pos = [], 0
    while pos < len(text):
        size = rng.choice([1, 2, 3, 7, 64, 500, 4096])
        chunks.append(text[pos : pos + size])
        pos += size
    return chunks


def ids(paths: list[Path]) -> list[str]:
    return [f"{path.parent.name}/{path.name}" for path in paths]


# --- Every log, whole objects ------------------------------------------------------------


def test_fixtures_are_all_there() -> None:
    """Each recorded log has its meta, each public log its source, each log its expectation."""
    assert len(RECORDED) >= 30 and len(PUBLIC) >= 8
    for log in RECORDED:
        meta = json.loads(log.with_name(log.name[: -len(".log")] + ".meta.json").read_text())
        assert meta["versions"]["engine"].startswith("26.1.5")
        assert meta["exit_code"] == meta["expected_exit_code"], log.name
    for log in PUBLIC:
        assert log.with_suffix(".source").read_text().startswith("url: https://github.com/")
    for log in ALL_LOGS:
        assert expected(log)


@pytest.mark.parametrize("path", ALL_LOGS, ids=ids(ALL_LOGS))
def test_buildkit_log_whole_result(path: Path) -> None:
    assert outcome(read(path)) == expected(path)


@pytest.mark.parametrize("path", ALL_LOGS, ids=ids(ALL_LOGS))
def test_buildkit_log_chunking_does_not_matter(path: Path) -> None:
    text = read(path)
    whole = expected(path)
    if len(text) <= 20000:  # one character at a time (the long logs: random chunks only)
        assert outcome(text, list(text)) == whole
    for seed in (1, 2):
        assert outcome(text, random_chunks(text, seed)) == whole


# --- Transforms of real logs: CI prefixes, CRLF, ANSI ------------------------------------


def _lines(text: str) -> list[str]:
    return text.split("\n")


def github_actions(text: str) -> str:
    """`2024-03-05T10:11:12.3456789Z ` before each line; a blank line is the stamp alone."""
    out = []
    for number, line in enumerate(_lines(text)):
        ticks = 3456789 + number * 17000
        stamp = f"2024-03-05T10:11:{12 + ticks // 10**7:02d}.{ticks % 10**7:07d}Z"
        out.append(f"{stamp} {line}" if line else stamp)
    return "\n".join(out)


def jenkins(text: str) -> str:
    return "\n".join(
        f"[2024-03-05T10:11:12.{n % 1000:03d}Z] {line}" for n, line in enumerate(_lines(text))
    )


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def ansi(text: str) -> str:
    """Colour every vertex line and every top-level `ERROR:` as a colouring wrapper would."""
    out = []
    for line in _lines(text):
        if line.startswith("#") or line.startswith("ERROR"):
            line = f"\x1b[34m{line}\x1b[0m"
        out.append(line)
    return "\n".join(out)


PLAIN_RECORDED = [p for p in RECORDED if ".tty" not in p.name]


@pytest.mark.parametrize("transform", [github_actions, jenkins, crlf, ansi])
@pytest.mark.parametrize("path", PLAIN_RECORDED, ids=ids(PLAIN_RECORDED))
def test_buildkit_log_ci_prefix_crlf_ansi(path: Path, transform: Any) -> None:
    text = transform(read(path))
    assert outcome(text) == expected(path)
    assert outcome(text, random_chunks(text, 3)) == expected(path)


def test_buildkit_several_builds_in_one_log_report_the_last() -> None:
    """A CI retry: a failed build, then a successful one, then a failing one again."""
    first = read(FIXTURES / "logs" / "run-exit-100.log")
    second = read(FIXTURES / "logs" / "success.log")
    third = read(FIXTURES / "logs" / "heredoc-fail.log")
    for text, last, builds in (
        (first + second, "success", 2),
        (second + first, "run-exit-100", 2),
        (first + "some CI chatter\n" + second + third, "heredoc-fail", 3),
    ):
        want = expected(FIXTURES / "logs" / f"{last}.log")
        assert outcome(text) == {**want, "builds": builds}
        assert outcome(github_actions(text)) == {**want, "builds": builds}


# --- What the recorded logs show ----------------------------------------------------------


def result(name: str) -> BuildKitLog:
    folder = "public" if (FIXTURES / "public" / name).exists() else "logs"
    return parse([read(FIXTURES / folder / name)])


def test_buildkit_heredoc_failure_reports_its_script_and_line_span() -> None:
    log = result("heredoc-fail.log")
    step, failure = log.failed_step, log.failure
    assert step is not None and failure is not None
    assert (step.index, step.total, step.text) == (2, 3, "RUN <<EOT (set -e...)")
    assert failure.command == (
        '/bin/sh -c set -e\necho "heredoc step starts"\ntest -f /etc/dbugbuild-missing.conf\n'
        'echo "never printed"\n'
    )
    assert (failure.exit_code, failure.line, failure.span) == (1, 2, (2, 7))


def test_buildkit_parallel_stages_pick_the_failed_one_not_the_canceled() -> None:
    log = result("parallel-stage-fail.log")
    states = {(s.stage, s.index): s.state for s in log.steps}
    assert states[("fetch", 2)] == "canceled"
    assert states[("compile", 3)] == "error"
    assert log.failed_step is not None and log.failed_step.stage == "compile"
    assert log.failure is not None and log.failure.exit_code == 2


def test_buildkit_unnamed_stage_is_printed_as_stage_n() -> None:
    step = result("unnamed-stage-fail.log").failed_step
    assert step is not None and (step.stage, step.named_stage) == ("stage-0", None)
    named = result("parallel-stage-fail.log").failed_step
    assert named is not None and named.named_stage == "compile"


def test_buildkit_stage_in_the_common_model_by_place_or_name() -> None:
    """The common Step says a stage as Buildah's does: `stage-N` is the place N + 1, a name is
    `stage_name`; both None for a one-stage build (logs.model's one stage field set)."""
    unnamed = buildkit.to_build_log(result("unnamed-stage-fail.log")).failed_step
    assert unnamed is not None
    assert (unnamed.stage, unnamed.stage_name, unnamed.per_stage) == (1, None, True)
    named = buildkit.to_build_log(result("parallel-stage-fail.log")).failed_step
    assert named is not None and (named.stage, named.stage_name) == (None, "compile")
    one = buildkit.to_build_log(result("run-exit-100.log")).failed_step
    assert one is not None and (one.stage, one.stage_name, one.per_stage) == (None, None, False)


def test_buildkit_both_cli_paths_report_the_same_failure() -> None:
    for case in ("run-exit-100", "run-exit-127", "copy-missing", "syntax-unknown-instruction"):
        buildx = result(f"{case}.log").failure
        build = result(f"{case}.docker-build.log").failure
        assert buildx is not None and build is not None
        fields = ("exit_code", "command", "line", "span", "excerpt", "vertex_name")
        assert [getattr(buildx, f) for f in fields] == [getattr(build, f) for f in fields], case


def test_buildkit_old_wordings_give_exit_code_and_command() -> None:
    old = result("buildkit-0.8-executor-failed-jenkins.log").failure
    assert old is not None and old.exit_code == 4
    assert (
        old.command
        == "/bin/sh -c useradd -d /home/${USER} -l -U -G sudo -m -s /bin/bash -u ${UID} ${USER}"
    )
    runc = result("buildkit-0.6-runc-no-exit-code.log").failure
    assert runc is not None and (runc.exit_code, runc.command) == (None, "/bin/sh -c idontexist")


def test_buildkit_long_output_is_counted_and_clipping_is_seen() -> None:
    step = result("long-output.log").steps[-1]
    assert step.clipped and step.output_lines == 3058
    assert step.output_tail[-1] == "[output clipped, log limit 200KiB/s reached]"


def test_buildkit_tail_zero_keeps_no_output() -> None:
    log = parse([read(FIXTURES / "logs" / "long-output-fail.log")], tail=0)
    assert log.steps[-1].output_tail == () and log.steps[-1].output_lines == 3001
    with pytest.raises(ValueError, match="tail must be 0 or more"):
        BuildKitLogParser(tail=-1)


# --- Garbage, fragments, other formats -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the build output is empty"),
        ("\n\n  \r\n", "the build output is empty"),
        ("hello world\nthis is not a build\n", "it starts with 'hello world'"),
        ("\x00\x01\x02garbage\xff" * 100, "no BuildKit build output found"),
        ("ERROR: something unrelated went wrong\n", "no BuildKit build output found"),
        ("------\n > [1/2] RUN x:\n------\n", "no BuildKit build output found"),
        ("#\n# \n#x [1/2] RUN\n", "no BuildKit build output found"),
    ],
)
def test_buildkit_garbage_raises_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(BuildKitLogError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse([text])


@pytest.mark.parametrize("path", CLASSIC_LOGS[:8], ids=[p.name for p in CLASSIC_LOGS[:8]])
def test_buildkit_refuses_classic_builder_logs(path: Path) -> None:
    with pytest.raises(BuildKitLogError):
        parse([read(path)])
    assert not looks_like_buildkit(read(path))


def test_buildkit_errors_are_log_format_errors_and_tty_is_told_apart() -> None:
    with pytest.raises(TtyProgressError, match="--progress=plain"):
        parse([read(FIXTURES / "logs" / "run-exit-127.tty.log")])
    assert issubclass(TtyProgressError, BuildKitLogError)
    assert issubclass(BuildKitLogError, LogFormatError)


def test_buildkit_feed_after_close_is_refused() -> None:
    parser = BuildKitLogParser()
    parser.feed(read(FIXTURES / "logs" / "success.log"))
    parser.close()
    with pytest.raises(ValueError, match="after close"):
        parser.feed("#1 DONE\n")


def test_buildkit_a_line_without_end_is_cut_at_one_mebicharacter() -> None:
    """3.5 Mi characters of output with no newline: cut alike whatever the chunking."""
    head = read(FIXTURES / "logs" / "success.log")
    text = head + "#8 0.163 " + "x" * (7 << 19) + "\n#8 DONE 0.2s\n"
    whole = outcome(text)
    assert whole == outcome(text, [text[i : i + 100000] for i in range(0, len(text), 100000)])
    assert whole == outcome(
        text, [*random_chunks(text[: len(head) + 50], 5), text[len(head) + 50 :]]
    )
    step = parse([text]).steps[-1]
    assert step.output_lines == 2  # the first Mi characters are output; the rest are pieces
    assert step.output_tail[0] == "hello from the build context"


# --- Detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_LOGS, ids=ids(ALL_LOGS))
def test_looks_like_buildkit_on_every_log(path: Path) -> None:
    # An excerpt alone is no BuildKit log, nor is the docker CLI's refusal to build.
    fragment = "fragment" in path.name or path.name.startswith("cli-without-buildx")
    assert looks_like_buildkit(read(path)[:4096]) is not fragment
    if not path.name.startswith("gha-"):  # those carry GitHub Actions stamps already
        assert looks_like_buildkit(github_actions(read(path))[:4096]) is not fragment


@pytest.mark.parametrize("text", ["", "Step 1/3 : FROM busybox\n", "hello\n", "#1 hello\n"])
def test_looks_like_buildkit_says_no(text: str) -> None:
    assert not looks_like_buildkit(text)


# --- Bounded memory -----------------------------------------------------------------------


def big_log(megabytes: int) -> tuple[str, str, str]:
    """A recorded log whose step output is repeated to about `megabytes` MB."""
    lines = read(FIXTURES / "logs" / "long-output-fail.log").splitlines(keepends=True)
    output = [line for line in lines if line.startswith("#5 0.")]
    head = "".join(lines[: lines.index(output[0])])
    tail = "".join(lines[lines.index(output[-1]) + 1 :])
    body = "".join(output)
    return head, body * ((megabytes << 20) // len(body) + 1), tail


def peak_parsing(megabytes: int) -> tuple[int, BuildKitLog]:
    head, body, tail = big_log(megabytes)
    chunk = 1 << 16
    tracemalloc.start()
    try:
        parser = BuildKitLogParser()
        parser.feed(head)
        for start in range(0, len(body), chunk):
            parser.feed(body[start : start + chunk])
        parser.feed(tail)
        log = parser.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, log


def test_buildkit_memory_is_flat_in_the_size_of_the_log() -> None:
    small, small_log = peak_parsing(4)
    large, large_log = peak_parsing(32)
    assert large_log.steps[-1].output_lines > 7 * small_log.steps[-1].output_lines
    assert large_log.failure == small_log.failure
    # The input (held by the test) is not traced; the parser holds a chunk and a tail.
    assert large < 2 * small + (1 << 20), (small, large)
    assert large < 4 << 20


# --- Purity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(Path(buildkit.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_buildkit_parser_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    own = {m for m in imported if m.startswith("dbugbuild.logs.buildkit")}
    assert imported - own <= {
        "__future__", "re", "collections", "collections.abc", "dataclasses",
        "typing", "dbugbuild.logs.model", "dbugbuild.logs.text", "dbugbuild.logs.reading",
    }, imported  # fmt: skip
    source = path.read_text()
    for word in ("open(", "print(", "os.environ", "time.", "sys."):
        assert word not in source, word


@pytest.mark.parametrize("extra", [-1, 0, 1, 1 << 20, (1 << 20) + 1])
def test_buildkit_line_cut_boundaries(extra: int) -> None:
    """A line of exactly 1 Mi characters stays whole; one character more is cut."""
    head = read(FIXTURES / "logs" / "success.log")
    line = "#8 0.163 " + "y" * ((1 << 20) - len("#8 0.163 ") + extra)
    text = head + line + "\n#8 DONE 0.2s\n"
    whole = outcome(text)
    assert whole == outcome(text, [text[i : i + 4096] for i in range(0, len(text), 4096)])
    kept = parse([text]).steps[-1].output_tail[-1]
    assert len(kept) == min(len(line), 1 << 20) - len("#8 0.163 ")


def test_buildkit_mangled_logs_parse_or_raise_the_format_error() -> None:
    """Lines dropped, shuffled, cut or suffixed: a result or BuildKitLogError, nothing else."""
    texts = [read(path) for path in ALL_LOGS]
    rng = random.Random(11)
    for _ in range(400):
        lines = rng.choice(texts).split("\n")
        how = rng.randrange(4)
        if how == 0:
            lines = [line for line in lines if rng.random() > 0.3]
        elif how == 1:
            rng.shuffle(lines)
        elif how == 2:
            lines = [line[: rng.randrange(len(line) + 1)] for line in lines]
        else:
            lines = [
                line + rng.choice(["\x1b[31m", "\r", " ERROR: x", ":12", "#"]) for line in lines
            ]
        try:
            log = parse(["\n".join(lines)])
        except BuildKitLogError:
            continue
        assert log.steps or log.vertices or log.failure is not None
        assert log.failed_step is None or log.failure is not None


# Vertex names in the shapes dockerfile2llb's prefixCommand gives them (moby/buildkit
# frontend/dockerfile/dockerfile2llb/convert.go), also the ones no log here shows: a platform
# before the stage, ONBUILD triggers (newer BuildKit), padding. CONSTRUCTED, not recorded:
# each is one header line in an otherwise recorded log.
@pytest.mark.parametrize(
    ("name", "platform", "stage", "index", "total", "onbuild", "text"),
    [
        ("[linux/arm64 builder 3/5] RUN make", "linux/arm64", "builder", 3, 5, False, "RUN make"),
        ("[2/2] ONBUILD RUN exit 4", None, None, 2, 2, True, "RUN exit 4"),
        ("[stage-1  6/11] COPY a b", None, "stage-1", 6, 11, False, "COPY a b"),
        ("[ 1/10] FROM x", None, None, 1, 10, False, "FROM x"),
        ("[linux/amd64 1/1] FROM y", "linux/amd64", None, 1, 1, False, "FROM y"),
    ],
)
def test_buildkit_step_names(
    name: str, platform: str | None, stage: str | None, index: int, total: int, onbuild: bool,
    text: str,
) -> None:  # fmt: skip
    log = read(FIXTURES / "logs" / "success.log").replace(
        "#8 [4/4] RUN cat hello.txt && echo built > /app/built.txt", f"#8 {name}"
    )
    step = parse([log]).steps[-1]
    assert (step.vertex, step.name, step.platform, step.stage) == (8, name, platform, stage)
    assert (step.index, step.total, step.onbuild, step.text) == (index, total, onbuild, text)
    assert step.instruction == text.split()[0]


@pytest.mark.parametrize(
    "name",
    ["[internal] load build context", "[auth] library/x:pull token", "[linux/amd64 internal] load",
     "[context foo] load metadata for foo", "exporting to image", "[1/x] RUN y"],
)  # fmt: skip
def test_buildkit_other_vertices_are_kept_apart(name: str) -> None:
    log = read(FIXTURES / "logs" / "success.log").replace(
        "#8 [4/4] RUN cat hello.txt && echo built > /app/built.txt", f"#8 {name}"
    )
    result = parse([log])
    assert [v.name for v in result.vertices if v.vertex == 8] == [name]
    assert all(step.vertex != 8 for step in result.steps)


def test_buildkit_output_lines_counted_per_vertex() -> None:
    """Parallel stages interleave their output: a line of another vertex inside a run of one
    vertex's lines was counted as the first one's (and went to its tail)."""
    text = read(FIXTURES / "logs" / "parallel-stages.log")
    lines = text.splitlines(keepends=True)
    runs = [i for i, line in enumerate(lines) if re.match(r"#(\d+) \d+\.\d+ ", line)]
    at = runs[len(runs) // 2]
    vertex = int(lines[at].split()[0][1:])
    lines.insert(at + 1, "#3 0.100 a line of vertex 3\n")
    lines.insert(at + 2, lines[at])  # the run goes on after it
    log = parse(["".join(lines)], tail=20)
    own = [line for line in lines if line.startswith(f"#{vertex} ") and re.match(r"#\d+ \d", line)]
    counted = {s.vertex: s for s in (*log.steps, *log.vertices)}
    assert counted[vertex].output_lines == len(own)
    assert "a line of vertex 3" not in counted[vertex].output_tail
    assert counted[3].output_tail[-1:] == ("a line of vertex 3",)

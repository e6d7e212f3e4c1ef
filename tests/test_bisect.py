"""The bisection without a daemon: the search as a pure function of a probe callback (every
culprit position for n = 1..64, every pattern for small n), the layers of recorded builds and
of recorded image histories, and the three renderings."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from dbugbuild import bisect, dockerfile, logs
from dbugbuild.arguments import parse_bisect_args
from dbugbuild.bisect import HistoryEntry, Layer, Probe, Search, StageLayers, search
from dbugbuild.errors import ExitCode
from dbugbuild.report import locate

BUILDS = FIXTURES / "builds"
LOGS = FIXTURES / "logs"


class Prober:
    """A probe callback over a fixed pattern (True: the layer shows the final's behaviour)
    that records what was asked and fails the test on a repeat."""

    def __init__(self, pattern: Sequence[bool]) -> None:
        self.pattern = pattern
        self.asked: list[int] = []

    def __call__(self, position: int) -> bool:
        assert position not in self.asked, f"probed {position} twice"
        assert 0 <= position < len(self.pattern)
        self.asked.append(position)
        return self.pattern[position]


def _monotonic(n: int, first_bad: int) -> list[bool]:
    return [i >= first_bad for i in range(n)]


def _limit(n: int) -> int:
    return math.ceil(math.log2(n)) + 2


# -- the search ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 65))
def test_search_every_culprit_position(n: int) -> None:
    """Monotonic layers: the culprit is found wherever it is, within ceil(log2 n) + 2 probes
    beyond the final layer, and never by probing a layer twice."""
    for culprit in range(1, n):
        prober = Prober(_monotonic(n, culprit))
        found = search(n, prober)
        assert (found.verdict, found.first_bad, found.last_good) == ("found", culprit, culprit - 1)
        assert found.inconsistent is False
        assert len(found.probes) - 1 <= _limit(n), (n, culprit, prober.asked)
        assert prober.asked[:2] == [n - 1, 0]  # the final layer, then the first
        assert [p for p, _ in found.probes] == prober.asked


@pytest.mark.parametrize("n", range(1, 65))
def test_search_no_transition_when_every_layer_shows_it(n: int) -> None:
    prober = Prober([True] * n)
    found = search(n, prober)
    assert (found.verdict, found.first_bad, found.last_good) == ("no-transition", None, None)
    assert len(found.probes) - 1 <= _limit(n)
    assert found.inconsistent is False


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_search_final_layer_not_showing_it_stops_at_once(n: int) -> None:
    prober = Prober([True] * (n - 1) + [False])
    assert search(n, prober) == Search("not-shown", None, None, ((n - 1, False),), False)


def test_search_gallops_from_the_final_layer() -> None:
    """A culprit at the end costs three probes: the final layer, the first, the one before."""
    for n in range(3, 65):
        prober = Prober(_monotonic(n, n - 1))
        search(n, prober)
        assert prober.asked == [n - 1, 0, n - 2]
    # The gallop doubles its steps back from the final layer (1, 2, ...) while the budget
    # allows it, then the rest is a binary search.
    prober = Prober(_monotonic(17, 13))
    search(17, prober)
    assert prober.asked == [16, 0, 15, 14, 8, 11, 12, 13]


def test_search_budget_caps_the_gallop() -> None:
    """A plain gallop would take about 2*log2(n) probes for a culprit near the start."""
    prober = Prober(_monotonic(64, 1))
    found = search(64, prober)
    assert found.first_bad == 1
    assert len(prober.asked) - 1 == 8 == _limit(64)


@pytest.mark.parametrize("n", range(1, 11))
def test_search_any_pattern(n: int) -> None:
    """Every pass/fail pattern of up to 10 layers: a reported culprit is a real transition,
    the latest the probes saw; the inconsistency flag says whether the probes contradict
    monotonicity; the budget holds and nothing is probed twice."""
    for pattern in itertools.product([False, True], repeat=n):
        prober = Prober(pattern)
        found = search(n, prober)
        seen = dict(found.probes)
        assert len(seen) == len(found.probes)
        assert len(found.probes) - 1 <= _limit(n)
        if not pattern[-1]:
            assert found.verdict == "not-shown"
            continue
        showing = [p for p, s in found.probes if s]
        other = [p for p, s in found.probes if not s]
        assert found.inconsistent == bool(other and min(showing) < max(other))
        if found.verdict == "found":
            hi, lo = found.first_bad, found.last_good
            assert hi is not None and lo is not None and hi == lo + 1
            assert seen[hi] is True and seen[lo] is False
            assert all(s for p, s in found.probes if p > hi)
        else:
            assert found.verdict == "no-transition"
            assert not other


def test_search_non_monotonic_notes_the_inconsistency() -> None:
    """Shows it at the first layer, not in between, shows it again: the latest transition."""
    pattern = [True, True, False, False, False, True, True]
    found = search(7, Prober(pattern))
    assert (found.verdict, found.first_bad, found.last_good) == ("found", 5, 4)
    assert found.inconsistent is True


def test_search_refuses_no_layers() -> None:
    with pytest.raises(ValueError):
        search(0, Prober([]))


def test_probe_budget() -> None:
    assert [bisect.probe_budget(n) for n in (1, 2, 3, 4, 5, 64, 65)] == [2, 3, 4, 4, 5, 8, 9]


# -- layers ----------------------------------------------------------------------------------


def _layer(index: int, image: str, args: tuple[str, ...] = ()) -> Layer:
    return Layer(index, image, "RUN", f"RUN step {index}", index, index, args)


def test_positions_merge_only_what_no_check_can_tell_apart() -> None:
    layers = [
        _layer(1, "aaa"),
        _layer(2, "aaa"),  # same image, same ARGs: no check can differ
        _layer(3, "aaa", ("A=1",)),  # same image, an ARG more: an env check can differ
        _layer(4, "bbb", ("A=1",)),
        _layer(5, "bbb", ("A=1",)),
    ]
    assert bisect.positions(layers) == (0, 2, 3)


def _recorded(case: str, build_args: dict[str, str] | None = None, stage: str | None = None):  # type: ignore[no-untyped-def]
    meta = json.loads((BUILDS / case / "case.json").read_text())
    path = BUILDS / case / meta["dockerfile"]
    text = path.read_text()
    log = logs.parse([(LOGS / f"{case}.txt").read_text()])
    model = dockerfile.parse(text)
    rep = locate(
        log,
        dockerfile=model,
        source=text,
        dockerfile_path=meta["dockerfile"],
        location=meta["dockerfile"],
        target=meta["target"],
        labels=tuple(f"{k}={v}" for k, v in meta["labels"].items()),
    )
    args = meta["build_args"] if build_args is None else build_args
    return bisect.build_layers(log, rep.steps, model, args, stage)


def test_build_layers_stop_before_the_failing_step() -> None:
    stage = _recorded("run-exit-100")
    assert [(x.index, x.image, x.instruction, x.line) for x in stage.layers] == [
        (1, "d09f474efd86", "FROM", 1),
        (2, "76789ae6947f", "ENV", 2),
        (3, "950f63a177b8", "WORKDIR", 3),
        (4, "7745079d5461", "RUN", 4),
    ]
    assert stage.mapped and stage.label is None


def test_build_layers_carry_the_args_in_scope() -> None:
    stage = _recorded("build-arg")
    assert [(x.index, x.args_env) for x in stage.layers] == [
        (1, ()),
        (2, ("GREETING=hello-from-build-arg",)),
    ]
    default = _recorded("build-arg", build_args={})
    assert default.layers[1].args_env == ("GREETING=default-greeting",)


def test_build_layers_stage_that_failed_by_default() -> None:
    stage = _recorded("multistage-nonfinal")
    assert (stage.name, stage.index, [x.index for x in stage.layers]) == ("builder", 0, [1, 2, 3])
    assert stage.label == "builder"
    assert _recorded("multistage-nonfinal", stage="0").name == "builder"
    with pytest.raises(bisect.StageError) as err:
        _recorded("multistage-nonfinal", stage="final")
    assert err.value.known == ("builder",)


def test_build_layers_target_stage_from_a_previous_stage() -> None:
    """`FROM base AS test` prints the base stage's last image: the stage's first layer."""
    stage = _recorded("subdir-target")
    assert (stage.name, [(x.index, x.image) for x in stage.layers]) == (
        "test",
        [(4, "ab5539cb87e2")],
    )
    base = _recorded("subdir-target", stage="BASE")
    assert [x.index for x in base.layers] == [1, 2, 3]


def test_build_layers_without_a_stage() -> None:
    log = logs.parse([(LOGS / "syntax-error.txt").read_text()])
    assert bisect.build_layers(log, (), None, {}, None).layers == ()


# Created-by texts as `docker history --no-trunc` printed them for a classic build of
# `ARG M=1 / FROM busybox / ARG A=2 / ENV X=1 / WORKDIR /w / USER 1000 / RUN true` on
# Engine 20.10.24 (the image ids shortened).
HISTORY = [
    ("82d5ef054cf8", "/bin/sh -c #(nop) COPY file:4a2890370c2fe2078a8e3ab02b794e8921c9dc191bb614"),
    ("69a39f65fabf", "/bin/busybox --install -s /bin"),
    ("6796ee8abb33", "/bin/sh -c #(nop)  ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin"),
    ("8f42ac0cd93e", '/bin/sh -c #(nop)  CMD ["sh"]'),
    ("890583b9cb0a", "/bin/sh -c #(nop)  ARG A=2"),
    ("1f1930b1a40a", "/bin/sh -c #(nop)  ENV X=1"),
    ("59b7ca318af9", "/bin/sh -c #(nop) WORKDIR /w"),
    ("67df57fe03fe", "/bin/sh -c #(nop)  USER 1000"),
    ("ece9b5340c95", "|1 A=2 /bin/sh -c true"),
]
HISTORY_DOCKERFILE = "ARG M=1\nFROM busybox\nARG A=2\nENV X=1\nWORKDIR /w\nUSER 1000\nRUN true\n"


def test_history_step_texts() -> None:
    assert [bisect.history_step(c) for _, c in HISTORY[3:]] == [
        ("CMD", 'CMD ["sh"]'),
        ("ARG", "ARG A=2"),
        ("ENV", "ENV X=1"),
        ("WORKDIR", "WORKDIR /w"),
        ("USER", "USER 1000"),
        ("RUN", "RUN /bin/sh -c true"),
    ]
    assert bisect.history_step("/bin/busybox --install -s /bin") == (
        "RUN",
        "RUN /bin/busybox --install -s /bin",
    )
    assert bisect.history_step("") == (None, "(no history)")


def _chain() -> list[HistoryEntry]:
    return [HistoryEntry(i, c) for i, c in HISTORY]


def test_history_layers_unmapped_is_the_whole_chain() -> None:
    stage = bisect.history_layers(
        _chain(), None, None, target=None, labels={}, build_args={}, stage=None
    )
    assert [(x.index, x.image, x.instruction) for x in stage.layers][-2:] == [
        (8, "67df57fe03fe", "USER"),
        (9, "ece9b5340c95", "RUN"),
    ]
    assert not stage.mapped and stage.label is None
    assert stage.notes == ("probes run without build ARGs (an image keeps no ARG values)",)


def test_history_layers_mapped_to_the_dockerfile() -> None:
    model = dockerfile.parse(HISTORY_DOCKERFILE)
    stage = bisect.history_layers(
        _chain(), model, "Dockerfile", target=None, labels={}, build_args={}, stage=None
    )
    assert stage.mapped and stage.notes == ()
    assert [(x.index, x.image, x.instruction, x.line, x.args_env) for x in stage.layers] == [
        (2, "8f42ac0cd93e", "FROM", 2, ()),
        (3, "890583b9cb0a", "ARG", 3, ("A=2",)),
        (4, "1f1930b1a40a", "ENV", 4, ("A=2",)),
        (5, "59b7ca318af9", "WORKDIR", 5, ("A=2",)),
        (6, "67df57fe03fe", "USER", 6, ("A=2",)),
        (7, "ece9b5340c95", "RUN", 7, ("A=2",)),
    ]


def test_history_layers_another_dockerfile_is_not_mapped() -> None:
    model = dockerfile.parse(HISTORY_DOCKERFILE.replace("USER 1000", "LABEL x=1"))
    stage = bisect.history_layers(
        _chain(), model, "Dockerfile", target=None, labels={}, build_args={}, stage=None
    )
    assert not stage.mapped and len(stage.layers) == len(HISTORY)
    assert stage.notes[0].startswith(
        "lines not mapped: step 6 is 'LABEL x=1' but its layer ran '/bin/sh -c #(nop)  USER 1000'"
    )


# -- the result and its renderings -----------------------------------------------------------

SOURCE = "FROM busybox\nRUN mkdir /app && touch /app/x\nENV A=1\nRUN rm -rf /app\nLABEL x=y\n"
LAYERS = (
    Layer(1, "111111111111", "FROM", "FROM busybox", 1, 1),
    Layer(2, "222222222222", "RUN", "RUN mkdir /app && touch /app/x", 2, 2),
    Layer(3, "333333333333", "ENV", "ENV A=1", 3, 3),
    Layer(4, "444444444444", "RUN", "RUN rm -rf /app", 4, 4),
    Layer(5, "555555555555", "LABEL", "LABEL x=y", 5, 5),
)


def _result(
    passes: Callable[[int], bool], until_pass: bool = False, notes: Sequence[str] = ()
) -> bisect.Result:
    stage = StageLayers(None, 0, LAYERS, True)
    probes: dict[int, Probe] = {}

    def shows(position: int) -> bool:
        ok = passes(position)
        out = "" if ok else "ls: /app/x: No such file or directory\n"
        probes[position] = Probe(
            LAYERS[position], "pass" if ok else "fail", 0 if ok else 1, out, 0.25
        )
        return ok == until_pass

    found = search(len(LAYERS), shows)
    return bisect.conclude(
        found,
        stage,
        probes,
        check="ls /app/x",
        until_pass=until_pass,
        probe_timeout=60,
        source=SOURCE,
        dockerfile="Dockerfile",
        location="Dockerfile",
        notes=notes,
    )


def test_render_text_found() -> None:
    result = _result(lambda i: 1 <= i < 3)
    assert result.exit_code == 0
    assert bisect.render_text(result) == (
        "bisect: step 4 broke it: `ls /app/x` passes before it and fails from it on\n"
        "  --> Dockerfile:4\n"
        "  > 4 | RUN rm -rf /app\n"
        "  last good: step 3, image 333333333333 (exit 0)\n"
        "  first bad: step 4, image 444444444444 (exit 1)\n"
        "  check output at the first bad layer:\n"
        "    | ls: /app/x: No such file or directory\n"
        "  probes: 4 of 5 layers\n"
        "    1. step 5  555555555555  fails (exit 1)  LABEL x=y\n"
        "    2. step 1  111111111111  fails (exit 1)  FROM busybox\n"
        "    3. step 4  444444444444  fails (exit 1)  RUN rm -rf /app\n"
        "    4. step 3  333333333333  passes (exit 0)  ENV A=1\n"
        "  note: the check fails at the first layer (step 1) too, as in the final one, but not "
        "in between: it is not monotonic over the layers. This is the latest transition the "
        "probes found; an earlier one may exist\n"
    )


def test_render_json_found() -> None:
    result = _result(lambda i: i < 3)
    out = json.loads(bisect.render_json(result))
    assert out["first_bad_step"] == {
        "index": 4,
        "line": 4,
        "end_line": 4,
        "instruction": "RUN",
        "text": "RUN rm -rf /app",
        "image": "444444444444",
    }
    assert out["last_good_step"]["index"] == 3
    assert out["probes"] == len(out["probe_log"]) == 4
    assert out["probe_log"][0] == {
        "index": 5,
        "image": "555555555555",
        "exit_code": 1,
        "output": "ls: /app/x: No such file or directory\n",
        "outcome": "fail",
        "seconds": 0.25,
    }
    assert (out["verdict"], out["exit_code"], out["inconsistent"], out["build"]) == (
        "found",
        0,
        False,
        None,
    )
    assert out["notes"] == []


def test_render_gcc() -> None:
    assert bisect.render_gcc(_result(lambda i: i < 3)) == (
        "Dockerfile:4:1: error: bisect: step 4 broke it: `ls /app/x` passes before it and "
        "fails from it on\n"
    )
    assert bisect.render_gcc(_result(lambda i: i >= 1, until_pass=True)) == (
        "Dockerfile:2:1: warning: bisect: step 2 made it pass: `ls /app/x` fails before it "
        "and passes from it on\n"
    )
    assert bisect.render_gcc(_result(lambda i: True)) == (
        "Dockerfile: error: bisect: no culprit: `ls /app/x` passes in the final layer "
        "(step 5, exit 0)\n"
    )


def test_render_no_culprit() -> None:
    none = _result(lambda i: False)
    assert (none.verdict, none.exit_code) == ("no-transition", 5)
    text = bisect.render_text(none)
    assert text.startswith(
        "bisect: no culprit: `ls /app/x` fails in every layer probed (5 of 5), the first one "
        "included; none passes\n  check the command: its output in the final layer is below\n"
        "  check output at the final layer:\n    | ls: /app/x: No such file or directory\n"
    )
    shown = _result(lambda i: True)
    assert (shown.verdict, shown.exit_code, len(shown.probes)) == ("not-shown", 4, 1)
    assert "use --until-pass to find the step that made it pass" in bisect.render_text(shown)


def test_result_timeout_is_noted() -> None:
    stage = StageLayers(None, 0, LAYERS[:2], True)
    probes = {
        1: Probe(LAYERS[1], "timeout", 137, "", 2.0),
        0: Probe(LAYERS[0], "pass", 0, "", 0.1),
    }
    found = Search("found", 1, 0, ((1, True), (0, False)), False)
    result = bisect.conclude(
        found, stage, probes, check="sleep 9", until_pass=False, probe_timeout=2
    )
    assert result.notes == ("the check timed out after 2 s at step 2: counted as failing",)
    assert "2. step 1  111111111111  passes" in bisect.render_text(result)
    assert "1. step 2  222222222222  times out (timed out after 2 s)" in bisect.render_text(result)


def test_clip_keeps_the_end() -> None:
    text = "x" * bisect.OUTPUT_LIMIT + "tail"
    assert bisect.clip(text).endswith("tail") and len(bisect.clip(text)) == bisect.OUTPUT_LIMIT


def test_docs_exit_codes_and_probe_counts_match() -> None:
    doc = (FIXTURES.parent.parent / "docs" / "bisect.md").read_text()
    assert "| 0 | the culprit was found |" in doc
    assert f"| {ExitCode.NOT_SHOWN} | no culprit: the final layer does not show" in doc
    assert f"| {ExitCode.NO_TRANSITION} | no culprit: no layer probed shows" in doc
    for n, most in re.findall(r"^\| (\d+) \| (\d+) \|$", doc, re.M):
        assert 1 + bisect.probe_budget(int(n)) == int(most)


# -- the command line (no daemon needed) ---------------------------------------------------


def test_parse_bisect_args() -> None:
    build = ["-f", "d/Dockerfile", "--build-arg", "A=1", "--target", "t", "--no-cache", "ctx"]
    ours = ["--check", "test -f /x", "--stage", "build", "--until-pass", "--probe-timeout", "2.5"]
    opts = parse_bisect_args([*build, *ours, "--format", "json"])
    assert opts.build.context == "ctx" and opts.build.file == "d/Dockerfile"
    assert opts.build.build_args == ("A=1",) and opts.build.no_cache
    assert (opts.check, opts.stage, opts.until_pass, opts.probe_timeout, opts.format) == (
        "test -f /x",
        "build",
        True,
        2.5,
        "json",
    )
    assert opts.image is None and opts.dockerfile_given
    image = parse_bisect_args(["--image", "app:1", "--check", "true"])
    assert (image.image, image.dockerfile_given, image.build.context) == ("app:1", False, ".")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "dbugbuild: error: the following arguments are required: --check. "),
        (["--check", " "], "dbugbuild: error: --check is empty. "),
        (
            ["--check", "true", "--probe-timeout", "0"],
            "dbugbuild: error: argument --probe-timeout: expected a number of seconds above 0, "
            "got '0'. See 'dbugbuild bisect --help'\n",
        ),
        (
            ["--image", "x", "--no-cache", "--check", "true"],
            "dbugbuild: error: --no-cache has no meaning with --image (no build runs). Drop it, "
            "or bisect a build: 'dbugbuild bisect PATH --check CMD'\n",
        ),
        (
            ["--squash", "--check", "true"],
            "dbugbuild: error: docker build option --squash is not supported by dbugbuild. ",
        ),
        (
            ["--frobnicate", "--check", "true"],
            "dbugbuild: error: unknown option --frobnicate. See 'dbugbuild bisect --help'\n",
        ),
        (["a", "b", "--check", "true"], "dbugbuild: error: unexpected argument 'b'. "),
    ],
)
def test_cli_bisect_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    run = run_cli(["bisect", *args], tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith(message)
    assert run.stderr.count("\n") == 1


def test_cli_bisect_no_daemon_is_one_line_exit_69(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")
    for args in (["."], ["--image", "busybox"]):
        run = run_cli(["bisect", "--check", "true", *args], tmp_path, env=env)
        assert run.code == 69
        assert run.stderr.startswith("dbugbuild: error: no Docker daemon is reachable at ")
        assert run.stderr.count("\n") == 1


def test_cli_bisect_help_names_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(["bisect", "--help"], ".")
    assert run.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0 when the step is found; 4 when the final layer does not show" in out

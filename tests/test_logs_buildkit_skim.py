"""Skimming a CI retry loop's earlier builds (logs/buildkit/skim.py) gives exactly what reading
every line gives: on every recorded BuildKit log, on concatenations of them in random orders
(builds with no steps, builds without their `#0 building with` line whose vertex numbers a
new build reuses, CI-stamped and indented lines, failing builds followed by successful ones
and the reverse), cut into random chunks, with any tail. The skim must happen for these
tests to mean anything: they count it. A deliberately naive skim fails them."""

from __future__ import annotations

import random
import re
import tracemalloc
from itertools import pairwise

import pytest

from dbugbuild.logs.buildkit import BuildKitLogParser, parser, skim
from dbugbuild.logs.buildkit.lines import BUILDING_WITH
from dbugbuild.logs.reading import feed_all
from test_logs_buildkit_bulk import LOGS, STAMPS, LineByLine, _cut, _outcome, _stamped

BUILDER = '#0 building with "default" instance using docker driver\n'
TEXTS = {p.name: p.read_text(errors="replace") for p in LOGS}
PLAIN = sorted(name for name in TEXTS if name.endswith(".log") and "tty" not in name)


class Counting(BuildKitLogParser):
    """The parser, counting the builds it skims and the blocks it reads again."""

    def __init__(self, tail: int = 20) -> None:
        super().__init__(tail=tail)
        self.skims = 0
        self.rereads = 0

    def _skim(self, text: str, pos: int) -> int:
        stop = super()._skim(text, pos)
        self.skims += stop != pos
        return stop

    def _scan(self, text: str, pos: int, skimming: bool, size: int) -> None:
        self.rereads += not skimming
        super()._scan(text, pos, skimming, size)


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _without_builder(text: str) -> str:
    """The build as `docker build` with no buildx line prints it: its vertex numbers are
    then reused by the next build without a `#0 building with` line between."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#0 "))


def _renumbered(text: str, offset: int, times: int = 1) -> str:
    """The build with its vertex numbers moved: `#N` -> `#N*times+offset` (not `#0`)."""

    def number(match: re.Match[str]) -> str:
        return f"#{max(int(match.group(1)) * times + offset, 1)}"

    return re.sub(r"(?m)^#([1-9][0-9]*)\b", number, text)


def _first_vertex(text: str) -> int:
    found = re.search(r"(?m)^#([1-9][0-9]*)\b", text)
    return int(found.group(1)) if found else 1


def _last_vertex(text: str) -> int:
    found = re.findall(r"(?m)^#([1-9][0-9]*)\b", text)
    return int(found[-1]) if found else 1


def _mangled(rng: random.Random, text: str) -> str:
    """Lines left out or repeated at random (not `#0` lines): blank lines gone between
    vertices, a vertex's status after another's line, a header missing."""
    out = []
    for line in text.splitlines(keepends=True):
        roll = rng.random()
        if line.startswith("#0 ") or roll > 0.3:
            out.append(line)
        elif roll < 0.05:
            out += [line, line]
    return "".join(out)


def _pieces(rng: random.Random) -> list[str]:
    """A CI loop's log: recorded builds in a random order, some repeated, some without
    their `#0` line, some empty (only the `#0` line), some indented."""
    out = []
    for _ in range(rng.randint(2, 40)):
        kind = rng.random()
        text = _ended(TEXTS[rng.choice(PLAIN)])
        if kind < 0.1:
            text = BUILDER
        elif kind < 0.25:
            text = _without_builder(text)
        elif kind < 0.28:
            text = "".join("  " + line for line in text.splitlines(keepends=True))
        elif kind < 0.31:
            text = BUILDER + "\nERROR: failed to solve: dbugbuild: no steps\n"
        elif kind < 0.45:
            text = _renumbered(_without_builder(text), rng.randint(-8, 8))
        elif kind < 0.6:
            text = _mangled(rng, text)
        out.append(text)
    return out


def _check(text: str, rng: random.Random, tail: int = 20) -> Counting:
    expected = _outcome(LineByLine(tail=tail), [text])
    whole = Counting(tail=tail)
    assert _outcome(whole, [text]) == expected
    assert _outcome(Counting(tail=tail), _cut(rng, text)) == expected
    return whole


@pytest.mark.parametrize("name", PLAIN)
def test_skim_equals_reading_every_line_recorded(name: str) -> None:
    """Each recorded log between two builds, and three times in a row, as the middle one."""
    text = _ended(TEXTS[name])
    rng = random.Random(name)
    other = _ended(TEXTS["success.log"])
    for tail in (0, 20):
        _check(other + text + other + other, rng, tail)
        _check(text * 3 + other, rng, tail)
        _check(other + text * 3, rng, tail)


@pytest.mark.parametrize("seed", range(60))
def test_skim_equals_reading_every_line_concatenated(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(_pieces(rng))
    if seed % 8 == 7:
        text = _stamped(text, STAMPS[1 + seed % 3])
    parser = _check(text, rng, rng.choice([0, 1, 20]))
    if seed == 0:
        assert parser.skims > 3  # the test means something


def test_skim_happens_on_a_retry_loop() -> None:
    text = "".join(_ended(TEXTS[name]) for name in PLAIN) * 3
    parser = _check(text, random.Random(1))
    assert parser.skims > 2 * len(PLAIN)
    relayed = Counting()  # as the engine relays a build: 64 KiB at a time
    chunks = [text[i : i + (1 << 16)] for i in range(0, len(text), 1 << 16)]
    assert _outcome(relayed, chunks) == _outcome(LineByLine(), [text])
    assert relayed.skims > 2 * len(PLAIN) and relayed.rereads == 0


def test_skim_reads_again_a_skimmed_build_that_stays_the_result() -> None:
    """The builds after a skimmed one have no steps: the skimmed one is the result."""
    success = _ended(TEXTS["success.log"])
    text = _ended(TEXTS["run-exit-100.log"]) + success + BUILDER + BUILDER
    parser = Counting()
    result = _outcome(parser, [text])
    assert result == _outcome(LineByLine(), [text])
    assert parser.skims == 1 and parser.rereads == 1
    alone = _outcome(LineByLine(), [success])
    assert not isinstance(alone, str) and not isinstance(result, str)
    assert result.steps == alone.steps and result.names == alone.names and result.builds == 2


_RETRIES = (
    _ended(TEXTS["run-exit-100.log"])  # a failing build first: its excerpt is the first line
    + _ended(TEXTS["success.log"])
    + _ended(TEXTS["run-exit-100.log"])
    + _without_builder(_ended(TEXTS["copy-missing.log"]))
    + _ended(TEXTS["success.log"]) * 3
)


def test_skim_sees_a_new_build_at_a_header_of_a_known_vertex() -> None:
    """Without its `#0` line, a build begins where a vertex number comes back with another
    name: the region between two `#0` lines holds two builds, and is not skimmed."""
    parser = _check(_RETRIES, random.Random(3))
    expected = _outcome(LineByLine(), [_RETRIES])
    assert not isinstance(expected, str) and expected.builds == 7
    assert parser.skims == 3  # the 2nd, 5th and 6th builds; not run-exit-100 and copy-missing


def _naive(text: str, start: int, *state: object) -> tuple[int, int, bool] | None:
    """A wrong skim: every region between two `#0` lines taken for one build."""
    stop = text.find("\n#0 building with ", start) + 1
    numbers = [int(n) for n in re.findall(r"(?m)^#([0-9]+) ", text[start:stop])]
    return (stop, max(numbers), True) if numbers and stop else None


def test_a_naive_skim_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _RETRIES
    expected = _outcome(LineByLine(), [text])
    monkeypatch.setattr(parser, "skim", _naive)
    wrong = _outcome(BuildKitLogParser(), [text])
    assert wrong != expected  # its build count: 6, not 7
    assert not isinstance(wrong, str) and not isinstance(expected, str)
    assert wrong.builds == expected.builds - 1


def test_skim_region_is_one_build_when_it_says_so() -> None:
    """skim() itself: where it says yes, reading every line of the region finds one build,
    whose highest vertex it names; on every recorded log and every region of a retry loop."""
    text = "".join(_ended(TEXTS[name]) for name in PLAIN)
    starts = [m.end() for m in re.finditer(r"(?m)^#0 building with [^\n]*\n", text)]
    said = 0
    for start, stop in pairwise(starts):
        stop = text.rindex("#0 building with ", 0, stop)
        found = skim.skim(text, start)
        if found is None:
            continue
        assert found[0] == stop
        said += 1
        line = text[text.rindex("\n", 0, start - 1) + 1 : start]
        assert BUILDING_WITH.search(line)
        log = _outcome(LineByLine(), [line + text[start:stop] + BUILDER + BUILDER])
        assert not isinstance(log, str) and log.builds == 1
        assert found[1] == max(item.vertex or 0 for item in (*log.steps, *log.vertices))
    assert said >= 30


def _body(text: str) -> tuple[str, str]:
    """A recorded build's `#0 building with` line, and what follows it."""
    line, _, rest = _ended(text).partition("\n")
    return line + "\n", rest


@pytest.mark.parametrize("seed", range(8))
def test_skim_says_yes_only_to_one_build(seed: int) -> None:
    """On regions made from recorded builds (left-out and repeated lines, a next build that
    reuses vertex numbers without a `#0` line, with or without a blank line before it),
    skim() says yes only where reading every line finds one build."""
    rng = random.Random(seed)
    builders = [name for name in PLAIN if TEXTS[name].startswith("#0 building with ")]
    said = 0
    for _ in range(300):
        line, region = _body(TEXTS[rng.choice(builders)])
        if rng.random() < 0.3:
            region = _mangled(rng, region)
        dots = [m.end() for m in re.finditer(r"(?m)^#[0-9]+ \.\.\.\n", region)]
        if dots and rng.random() < 0.5:  # another vertex takes over, then this one goes on
            region = region[: rng.choice(dots)]
        elif rng.random() < 0.3:  # cut after any line: a status, in the tail
            lines = region.splitlines(keepends=True)
            region = "".join(lines[: rng.randint(1, len(lines))])
        other = _without_builder(_ended(TEXTS[rng.choice(PLAIN)]))
        way = rng.random()
        if way < 0.3:  # numbers the first build left out (after its image or its error)
            region, other = _renumbered(region, 0, 2), _renumbered(other, -1, 2)
        elif way < 0.6:  # the next build goes on with the vertex of the last line
            other = _renumbered(other, _last_vertex(region) - _first_vertex(other))
            if rng.random() < 0.5:  # and stops after that vertex
                other = other.lstrip("\n").split("\n\n")[0] + "\n"
        elif way < 0.8:
            other = _renumbered(other, rng.randint(-12, 4))
        if way < 0.9:
            region += rng.choice(["", "\n"]) + (
                _mangled(rng, other) if rng.random() < 0.2 else other
            )
        found = skim.skim(region + BUILDER, 0)
        if found is None:
            continue
        said += 1
        log = _outcome(LineByLine(), [line + region + BUILDER + BUILDER])
        assert not isinstance(log, str) and log.builds == 1, region
        assert found[0] == len(region)
        assert found[1] == max(item.vertex or 0 for item in (*log.steps, *log.vertices))
    assert said > 40


def test_skim_memory_is_flat_in_the_number_of_builds() -> None:
    """The kept last build of a block and the copy for reading a block again are bounded: the
    peak is the same for 300 and 3,000 builds back to back, fed 64 KiB at a time."""
    one = "".join(_ended(TEXTS[name]) for name in PLAIN)
    peaks = []
    for copies in (1, 10):
        text = one * max(1, 300 * copies // len(PLAIN))
        chunks = [text[i : i + (1 << 16)] for i in range(0, len(text), 1 << 16)]
        del text
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            result = feed_all(BuildKitLogParser(), iter(chunks))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert result.builds > 200 * copies
    assert peaks[1] < 1.25 * peaks[0] + (128 << 10), peaks
    assert peaks[1] < 4 << 20, peaks

"""The BuildKit parser's bulk reading (runs of output counted by one search) gives exactly what
reading every line one by one gives, on every recorded BuildKit log and on concatenations of
them (a CI retry loop), with and without CI stamps, whatever the chunking. (How one line is
read is checked against the expected results in test_logs_buildkit.py.)"""

from __future__ import annotations

import random
import re

import pytest

from conftest import FIXTURES
from dbugbuild.logs import LogFormatError
from dbugbuild.logs.buildkit import BuildKitLog, BuildKitLogParser

LOGS = sorted((FIXTURES / "buildkit").rglob("*.log"))
STAMPS = ["", "2024-03-05T10:11:12.3456789Z ", "[2024-03-05T10:11:12.345Z] ", "10:11:12 "]


class LineByLine(BuildKitLogParser):
    """The reference: every line handled on its own, no run read in bulk."""

    def _read(self, text: str) -> None:
        for line in text[:-1].split("\n"):
            self._line(line)


def _outcome(parser: BuildKitLogParser, chunks: list[str]) -> BuildKitLog | str:
    try:
        for chunk in chunks:
            parser.feed(chunk)
        return parser.close()
    except LogFormatError as exc:
        return f"{type(exc).__name__}: {exc}"


def _stamped(text: str, stamp: str) -> str:
    return "".join(stamp + line for line in text.splitlines(keepends=True))


def _cut(rng: random.Random, text: str) -> list[str]:
    """Chunks cut at awkward places: inside a line, a CI stamp, a \\r\\n, one character."""
    chunks, pos = [], 0
    while pos < len(text):
        size = rng.choice([1, 2, 7, 64, 4096, 65536, 1 << 18])
        chunks.append(text[pos : pos + rng.randint(1, size)])
        pos += len(chunks[-1])
    return chunks


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
@pytest.mark.parametrize("stamp", STAMPS, ids=["bare", "github", "jenkins", "clock"])
def test_bulk_equals_line_by_line_recorded(path: object, stamp: str) -> None:
    text = _stamped(FIXTURES.joinpath(path).read_text(errors="replace"), stamp)
    rng = random.Random(f"{path}{stamp}")
    expected = _outcome(LineByLine(), [text])
    assert _outcome(BuildKitLogParser(), [text]) == expected
    assert _outcome(BuildKitLogParser(), _cut(rng, text)) == expected


@pytest.mark.parametrize("stamp", STAMPS, ids=["bare", "github", "jenkins", "clock"])
@pytest.mark.parametrize("seed", range(6))
def test_bulk_equals_line_by_line_concatenated(stamp: str, seed: int) -> None:
    rng = random.Random(seed)
    texts = [p.read_text(errors="replace") for p in LOGS]
    picked = [rng.choice(texts) for _ in range(rng.randint(2, 12))]
    if seed == 0:
        picked = texts  # every recorded log, back to back
    text = _stamped("".join(t if t.endswith("\n") else t + "\n" for t in picked), stamp)
    for tail in (0, 1, 20):
        expected = _outcome(LineByLine(tail=tail), [text])
        assert _outcome(BuildKitLogParser(tail=tail), [text]) == expected
        assert _outcome(BuildKitLogParser(tail=tail), _cut(rng, text)) == expected


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_bulk_equals_line_by_line_indented_from_output(path: object) -> None:
    """A pasted log (indented, stamped) cut so that its first line is a vertex's output: the
    indentation is settled on that line in bulk too (it was not: the final error line was then
    read with its indentation, and missed)."""
    lines = FIXTURES.joinpath(path).read_text(errors="replace").splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if re.match(r"#[0-9]+ [0-9]", line)), 0)
    text = _stamped("".join("  " + line for line in lines[first:]), STAMPS[1])
    expected = _outcome(LineByLine(), [text])
    assert _outcome(BuildKitLogParser(), [text]) == expected
    assert _outcome(BuildKitLogParser(), _cut(random.Random(str(path)), text)) == expected

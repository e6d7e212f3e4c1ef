"""Every log parser's memory is flat in the log's size: a big generated log (a recorded build
whose failing RUN's output is repeated) and one 200 MB line, read as the engine relays them.

DBUGBUILD_BIG_LOG_MB sets the big log's size (default 24; `DBUGBUILD_BIG_LOG_MB=1024` is the
1 GB run), DBUGBUILD_LONG_LINE_MB the single line's (default 200). Peaks are tracemalloc's.
"""

from __future__ import annotations

import codecs
import os
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES
from dbugbuild import logs
from dbugbuild.logs.text import MAX_LINE

BIG_MB = int(os.environ.get("DBUGBUILD_BIG_LOG_MB", "24"))
LONG_MB = int(os.environ.get("DBUGBUILD_LONG_LINE_MB", "200"))
CHUNK = 1 << 16

# family -> (a recorded failing build, the line before its failing RUN's output, the first after)
RECORDED = {
    "classic": (FIXTURES / "logs" / "multiline-run.txt", r" ---> Running in ", r"non-zero code"),
    "buildkit": (
        FIXTURES / "buildkit" / "logs" / "multiline-run-fail.log",
        r"#\d+ \[\d+/\d+\] RUN ",
        r"#\d+ ERROR: ",
    ),
    "buildah": (
        FIXTURES / "podman" / "logs" / "multiline-run.log",
        r"STEP \d+/\d+: RUN ",
        r"Error: ",
    ),
}


def _parts(family: str) -> tuple[str, str, str]:
    """The recorded log cut around its failing RUN's output: (before, output, after)."""
    path, start, end = RECORDED[family]
    lines = path.read_text().splitlines(keepends=True)
    begin = max(i for i, line in enumerate(lines) if re.search(start, line)) + 1
    stop = next(i for i in range(begin, len(lines)) if re.search(end, lines[i]))
    return "".join(lines[:begin]), "".join(lines[begin:stop]), "".join(lines[stop:])


def _write_big(family: str, size: int, path: Path) -> None:
    before, output, after = _parts(family)
    block = output * ((1 << 20) // len(output) + 1)
    with path.open("w") as fh:
        fh.write(before)
        for _ in range(max(size // len(block), 1)):
            fh.write(block)
        fh.write(after)


def _chunks(path: Path) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with path.open("rb") as fh:
        while data := fh.read(CHUNK):
            yield decoder.decode(data)


def _peak(chunks: Iterator[str], family: str, tail: int = 20) -> tuple[int, logs.BuildLog]:
    tracemalloc.start()
    try:
        log = logs.parse(chunks, family, tail)
        return tracemalloc.get_traced_memory()[1], log
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("family", logs.FAMILIES)
def test_parser_memory_is_flat_in_the_log_size(family: str, tmp_path: Path) -> None:
    recorded = logs.parse([RECORDED[family][0].read_text()], family)
    peaks = []
    for size in ((BIG_MB << 20) // 10, BIG_MB << 20):
        path = tmp_path / f"{family}.log"
        _write_big(family, size, path)
        peak, log = _peak(_chunks(path), family)
        path.unlink()
        peaks.append(peak)
        assert log.failure == recorded.failure
        failed, expected = log.failed_step, recorded.failed_step
        assert failed is not None and expected is not None
        assert failed.output_tail[-1] == expected.output_tail[-1]
    assert peaks[1] < 1.25 * peaks[0] + (128 << 10), peaks
    assert peaks[1] < 8 << 20, peaks


@pytest.mark.parametrize("family", logs.FAMILIES)
def test_parser_memory_with_one_200mb_line(family: str) -> None:
    """A RUN that prints 200 MB without a newline: the line is cut in pieces of MAX_LINE
    characters, of which the step keeps its last `tail`; never the whole line."""
    before, output, after = _parts(family)
    prefix = output.splitlines(keepends=True)[0].removesuffix("\n")  # `#5 0.158 ` for BuildKit
    piece = "y" * CHUNK

    def chunks() -> Iterator[str]:
        yield before + prefix
        for _ in range((LONG_MB << 20) // CHUNK):
            yield piece
        yield "\n" + output + after

    tail = 2
    peak, log = _peak(chunks(), family, tail)
    assert log.failure == logs.parse([before + output + after], family).failure
    assert peak < (tail + 6) * MAX_LINE, peak  # the line is LONG_MB MiB

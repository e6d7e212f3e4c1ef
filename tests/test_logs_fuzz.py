"""A seeded fuzz of every log parser: recorded logs mutated and spliced, fed in random chunks.

Whatever the input, a parser returns a result or raises the documented LogFormatError (never
another exception), the same one however the text is chunked, and keeps at most `tail`
lines per step, each at most MAX_LINE characters. DBUGBUILD_FUZZ_SECONDS sets how long each
parser is fuzzed (default 1.5; 300 is the long run), DBUGBUILD_FUZZ_SEED the seed (printed
with a failure, to replay it).
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import FIXTURES
from dbugbuild import logs
from dbugbuild.logs.text import MAX_LINE

SECONDS = float(os.environ.get("DBUGBUILD_FUZZ_SECONDS", "1.5"))
SEED = int(os.environ.get("DBUGBUILD_FUZZ_SEED", "14"))

CORPUS = {
    "classic": sorted((FIXTURES / "logs").rglob("*.txt")),
    "buildkit": sorted((FIXTURES / "buildkit").rglob("*.log")),
    "buildah": sorted((FIXTURES / "podman").rglob("*.log")),
}
ODD = ["\r", "\r\n", "\x1b[31m", "\x1b]0;title\x07", "\x1b", "\u2028", "\x00", "\ufffd", "\t", " "]
PREFIXES = ["2024-03-05T10:11:12.3456789Z ", "[2024-03-05T10:11:12.345Z] ", "10:11:12 ", "    "]


def _texts(paths: list[Path]) -> list[str]:
    return [p.read_bytes().decode("utf-8", errors="replace") for p in paths]


def _mutate(rng: random.Random, text: str, others: list[str]) -> str:
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rng.randint(0, 8)):
        at = rng.randrange(len(lines) + 1)
        op = rng.randrange(10)
        if op == 0:  # a line of another log
            other = rng.choice(others).splitlines(keepends=True) or [""]
            lines.insert(at, rng.choice(other))
        elif op == 1 and lines:
            del lines[min(at, len(lines) - 1)]
        elif op == 2 and lines:  # cut a line short
            i = min(at, len(lines) - 1)
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 3:  # a whole other log spliced in (a CI retry, a log pasted in a log)
            lines[at:at] = rng.choice(others).splitlines(keepends=True)
        elif op == 4 and lines:  # odd characters anywhere in a line
            i = min(at, len(lines) - 1)
            cut = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:cut] + rng.choice(ODD) + lines[i][cut:]
        elif op == 5 and lines:  # a line repeated
            i = min(at, len(lines) - 1)
            lines[i:i] = [lines[i]] * rng.randint(1, 50)
        elif op == 6:
            lines.insert(at, "".join(chr(rng.randrange(32, 0x3000)) for _ in range(20)) + "\n")
        elif op == 7 and lines:  # swap two lines
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 8:  # CRLF or lone CR line endings
            ending = rng.choice(["\r\n", "\r"])
            lines = [line.replace("\n", ending) for line in lines]
        else:
            lines.insert(at, "x" * rng.choice([0, 1, 4096, MAX_LINE - 1, MAX_LINE + 3]) + "\n")
    if rng.random() < 0.3:  # a CI system's stamp before (nearly) every line
        prefix = rng.choice(PREFIXES)
        lines = [prefix + line if rng.random() < 0.95 else line for line in lines]
    return "".join(lines)


def _chunked(rng: random.Random, text: str) -> list[str]:
    chunks, pos = [], 0
    while pos < len(text):
        size = rng.choice([1, 2, 3, 17, 100, 4096, 65536, 1 << 20])
        chunks.append(text[pos : pos + rng.randint(1, size)])
        pos += len(chunks[-1])
    return chunks


def _outcome(chunks: list[str], family: str, tail: int) -> logs.BuildLog | str:
    try:
        return logs.parse(chunks, family, tail)
    except logs.LogFormatError as exc:  # the documented error (BuildKit's are subclasses)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("family", logs.FAMILIES)
def test_parser_fuzz(family: str) -> None:
    rng = random.Random(f"{SEED}-{family}")
    own = _texts(CORPUS[family])
    others = own + _texts([p for f, paths in CORPUS.items() if f != family for p in paths])
    deadline, cases = time.monotonic() + SECONDS, 0
    tracemalloc.start()
    try:
        while time.monotonic() < deadline or cases < len(own):
            text = own[cases] if cases < len(own) else _mutate(rng, rng.choice(own), others)
            tail = rng.choice([0, 1, 3, 20])
            whole = _outcome([text], family, tail)
            chunks = _chunked(rng, text)
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            split = _outcome(chunks, family, tail)
            used = tracemalloc.get_traced_memory()[1] - before
            assert split == whole, (SEED, family, cases, text[:2000])
            # Chunks of at most 1 MiB: what the parser holds is `tail` lines of at most
            # MAX_LINE characters (4 bytes each at worst) and a few blocks, not the input.
            assert used < 4 * MAX_LINE * (tail + 8), (SEED, family, cases, used, len(text))
            if isinstance(whole, logs.BuildLog):
                for step in whole.steps:
                    assert len(step.output_tail) <= tail
                    assert all(len(line) <= MAX_LINE for line in step.output_tail)
            cases += 1
    finally:
        tracemalloc.stop()
    print(f"{family}: {cases} cases in {SECONDS:.0f} s, seed {SEED}")

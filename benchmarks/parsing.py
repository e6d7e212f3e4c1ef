"""Benchmark: every log parser (classic, BuildKit plain, Buildah) against `grep -n`.

Run `.venv/bin/python benchmarks/parsing.py [--quick] [--family F]`. For each family it writes
three logs made from that family's recorded fixtures (in a temporary folder, removed after):
one failing RUN whose output is repeated to 300k lines; the recorded builds back to back,
13,000 builds; the one-RUN log with a GitHub Actions timestamp before every line. It reads
each file as the engine relays a build (64 KiB binary reads, decoded incrementally) through
`logs.parser(family)` and prints its MB/s, `grep -n`'s MB/s for the failure's marker on the
same file in the same run, their ratio and whether it is within the target (10x), and the
parse's peak memory (tracemalloc) on the 1x and the 10x log. See benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path and benchmarks/bisection.py would
# be found before any module of that name: drop the directory first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse  # after the sys.path fix above
import codecs
import functools
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

try:
    from dbugbuild import logs
except ImportError as _exc:
    sys.exit(f"benchmarks/parsing.py: error: cannot import {_exc.name}; use the venv")

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CHUNK = 64 * 1024  # what engine.build relays from the CLI's pipes at a time
TARGET = 10.0  # the parse may take at most this many times grep -n's time
STAMP = "2024-03-05T10:11:12.3456789Z "  # GitHub Actions' prefix


class BenchError(Exception):
    """The benchmark cannot run or measured something other than it meant to."""


@dataclass(frozen=True)
class Family:
    name: str
    failing: Path  # a recorded failing build whose failing RUN printed a few lines
    many: tuple[Path, ...]  # recorded builds to put back to back
    start: re.Pattern[str]  # the line just before the failing RUN's output
    end: re.Pattern[str]  # the first line after it
    marker: str  # what grep -n looks for: the failure's line


def _families() -> list[Family]:
    classic = sorted((FIXTURES / "logs").glob("*.txt"))
    buildkit = sorted((FIXTURES / "buildkit" / "logs").glob("*.log"))
    buildah = sorted((FIXTURES / "podman" / "logs").glob("*.log"))
    return [
        Family(
            "classic",
            FIXTURES / "logs" / "multiline-run.txt",
            tuple(classic),
            re.compile(r" ---> Running in "),
            re.compile(r"returned a non-zero code"),
            "returned a non-zero code",
        ),
        Family(
            "buildkit",
            FIXTURES / "buildkit" / "logs" / "multiline-run-fail.log",
            tuple(p for p in buildkit if "tty" not in p.name),
            re.compile(r"#\d+ \[\d+/\d+\] RUN "),
            re.compile(r"#\d+ ERROR: "),
            "did not complete successfully",
        ),
        Family(
            "buildah",
            FIXTURES / "podman" / "logs" / "multiline-run.log",
            tuple(buildah),
            re.compile(r"STEP \d+/\d+: RUN "),
            re.compile(r"Error: building at STEP"),
            "building at STEP",
        ),
    ]


@dataclass(frozen=True)
class Plan:
    lines: int  # output lines of the failing RUN in the 10x log
    builds: int  # builds in the 10x many-builds log
    repeats: int


FULL = Plan(lines=300_000, builds=13_000, repeats=5)
QUICK = Plan(lines=100_000, builds=3_000, repeats=3)


def one_huge_run(family: Family, lines: int, dest: Path, stamp: str = "") -> int:
    """The recorded failing build, its failing RUN's output repeated to `lines` lines (each
    line after `stamp`); the file's size."""
    recorded = family.failing.read_text().splitlines(keepends=True)
    begin = max(i for i, line in enumerate(recorded) if family.start.search(line)) + 1
    end = next(i for i in range(begin, len(recorded)) if family.end.search(recorded[i]))
    output = recorded[begin:end]
    if not output:
        raise BenchError(f"{family.failing.name}: the failing RUN printed nothing to repeat")
    with dest.open("w") as f:
        f.write("".join(stamp + line for line in recorded[:begin]))
        block = "".join(stamp + line for line in output) * 1000
        copies = lines // len(output)
        for done in range(0, copies, 1000):
            f.write(
                block if copies - done >= 1000 else block[: len(block) // 1000 * (copies - done)]
            )
        f.write("".join(stamp + line for line in recorded[end:]))
    return dest.stat().st_size


def many_builds(family: Family, builds: int, dest: Path) -> int:
    """The family's recorded builds back to back until `builds` builds; the file's size."""
    texts = [p.read_text() for p in family.many]
    one = "".join(t if t.endswith("\n") else t + "\n" for t in texts)
    copies = -(-builds // len(texts))
    with dest.open("w") as f:
        for _ in range(copies):
            f.write(one)
    return dest.stat().st_size


def chunks(path: Path) -> Iterator[str]:
    """The file as the engine relays a build: 64 KiB reads, decoded incrementally."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with path.open("rb") as f:
        while data := f.read(CHUNK):
            yield decoder.decode(data)
    yield decoder.decode(b"", final=True)


def parse(family: str, path: Path) -> logs.BuildLog:
    return logs.parse(chunks(path), family)


def grep(marker: str, path: Path) -> None:
    # Its output goes to a pipe, as to a user: GNU grep stops at the first match when its
    # stdout is /dev/null (grep 2.27+ treats that like -q), which would flatter it.
    done = subprocess.run(["grep", "-n", marker, str(path)], stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise BenchError(f"grep found no {marker!r} in {path} (exit {done.returncode})")


def median_s(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check(family: Family, log: logs.BuildLog, what: str) -> None:
    """The parse of a generated log must still say what the recorded one says."""
    recorded = logs.parse([family.failing.read_text()], family.name)
    failed, expected = log.failed_step, recorded.failed_step
    if log.failure != recorded.failure or failed is None or expected is None:
        raise BenchError(f"{family.name}: the parser misread the {what} log: {log.failure}")
    if failed.output_tail[-1:] != expected.output_tail[-1:]:
        raise BenchError(f"{family.name}: the {what} log's last output line was misread")


def check_many(family: Family, log: logs.BuildLog) -> None:
    last = logs.parse([family.many[-1].read_text()], family.name)
    if log != last:
        raise BenchError(f"{family.name}: the many-builds log does not end as {family.many[-1]}")


def bench(family: Family, plan: Plan, tmp: Path) -> list[str]:
    rows = []
    makers: list[tuple[str, Callable[[int, Path], int], bool]] = [
        (f"1 RUN of {plan.lines // 1000}k lines", lambda n, p: one_huge_run(family, n, p), True),
        (f"{plan.builds:,} builds", lambda n, p: many_builds(family, n, p), False),
        (
            f"1 RUN of {plan.lines // 1000}k lines, CI-stamped",
            lambda n, p: one_huge_run(family, n, p, STAMP),
            True,
        ),
    ]
    for what, make, one_run in makers:
        full = plan.lines if one_run else plan.builds
        peaks = []
        for scale in (10, 1):
            path = tmp / f"{family.name}-{len(rows)}-{scale}x.log"
            size = make(full // 10 * scale if scale == 1 else full, path)
            run = functools.partial(parse, family.name, path)
            if scale == 10:
                log = run()
                if one_run:
                    check(family, log, what)
                else:
                    check_many(family, log)
                ours = median_s(run, plan.repeats)
                theirs = median_s(functools.partial(grep, family.marker, path), plan.repeats)
                mb = size / 1e6
            peaks.append(peak_bytes(run))
            path.unlink()
        ratio = ours / theirs
        verdict = "met" if ratio <= TARGET else "NOT met"
        rows.append(
            f"{family.name:8}  {what:32} {mb:7.1f} MB  {mb / ours:8.1f} MB/s  grep -n "
            f"{mb / theirs:7.0f} MB/s  {ratio:5.1f}x ({verdict})  peak 1x {peaks[1] / 1024:5.0f} "
            f"KiB, 10x {peaks[0] / 1024:5.0f} KiB"
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/parsing.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller logs, fewer repeats")
    parser.add_argument("--family", choices=logs.FAMILIES, action="append", help="only these")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if shutil.which("grep") is None:
        print("benchmarks/parsing.py: error: grep is not on PATH", file=sys.stderr)
        return 1
    print(
        f"log parsing vs grep -n (target: within {TARGET:.0f}x), Python "
        f"{platform.python_version()}, {platform.processor() or platform.machine()}; "
        f"medians of {plan.repeats}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="dbugbuild-parsing-") as tmp:
            for family in _families():
                if args.family and family.name not in args.family:
                    continue
                bench(family, plan, Path(tmp))
    except BenchError as exc:
        print(f"benchmarks/parsing.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbenchmarks/parsing.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

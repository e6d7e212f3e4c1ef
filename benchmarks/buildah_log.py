"""Benchmark: logs.buildah on a 100 MB Podman build log, against `grep -n`.

Run `.venv/bin/python benchmarks/buildah_log.py [--size-mb N] [--repeat N]`. The log is the
recorded run-exit-100 with many lines of apt-like output in many RUN steps (written to a
temporary file, removed afterwards). Reports the median wall time and bytes/s of the parser
(reading the file in 64 KiB pieces, decoding included) and of two baselines: `grep -n` for the
one marker "STEP ", and `grep -nE` for every marker the parser looks for.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path and benchmarks/bisect.py shadows the
# stdlib's bisect, which random, tempfile and statistics import: drop the directory first.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse  # after the sys.path fix above
import statistics
import subprocess
import tempfile
import time

try:
    from dbugbuild.logs.buildah import BuildahLogParser
except ImportError as _exc:
    sys.exit(f"benchmarks/buildah_log.py: error: cannot import {_exc.name}; use the venv")

RECORDED = Path(__file__).parent.parent / "tests" / "fixtures" / "podman" / "logs"
MARKERS = "STEP |COMMIT|--> |Successfully tagged |Error: |building at step|creating build container"


def write_log(path: Path, size: int) -> None:
    words = [
        "Get:1",
        "http://deb.debian.org/debian",
        "bookworm/main",
        "amd64",
        "libfoo1",
        "[123",
        "kB]",
    ]
    words += [
        "Unpacking",
        "Setting",
        "up",
        "Selecting",
        "previously",
        "unselected",
        "package",
        "...",
    ]
    head, _, tail = (RECORDED / "run-exit-100.log").read_text().partition("STEP 5/6")
    with path.open("w") as out:
        out.write(head)
        written, step = len(head), 0
        while written < size:
            step += 1
            lines = [f"STEP {step}/9999: RUN make target{step}\n"]
            for n in range(4999):
                count = 4 + (n * 7 + step) % 11
                lines.append(" ".join(words[(n + k) % len(words)] for k in range(count)) + "\n")
            lines.append(f"--> {step * 2654435761 % (1 << 44):011x}\n")
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk)
        out.write("STEP 5/6" + tail)


def parse_file(path: Path) -> float:
    start = time.perf_counter()
    parser = BuildahLogParser()
    with path.open(encoding="utf-8", errors="replace") as log:
        while piece := log.read(65536):
            parser.feed(piece)
    result = parser.close()
    assert result.failure is not None and result.failure.exit_code == 100
    return time.perf_counter() - start


def grep(path: Path, *argv: str) -> float:
    # stdout is a pipe, not /dev/null: GNU grep stops at the first hit when it sees /dev/null.
    start = time.perf_counter()
    subprocess.run(["grep", *argv, str(path)], stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--size-mb", type=int, default=100)
    options.add_argument("--repeat", type=int, default=5)
    args = options.parse_args()
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-") as tmp:
        path = Path(tmp) / "podman-build.log"
        write_log(path, args.size_mb * 1_000_000)
        size = path.stat().st_size
        path.read_bytes()  # warm the page cache for every contender alike
        results = {
            "logs.buildah (64 KiB pieces)": [parse_file(path) for _ in range(args.repeat)],
            "grep -n 'STEP '": [grep(path, "-n", "STEP ") for _ in range(args.repeat)],
            "grep -nE <markers>": [grep(path, "-nE", MARKERS) for _ in range(args.repeat)],
        }
    ours = statistics.median(results["logs.buildah (64 KiB pieces)"])
    print(f"log: {size / 1e6:.0f} MB, median of {args.repeat}")
    for name, times in results.items():
        median = statistics.median(times)
        ratio = ours / median  # how many times the parser's time
        print(
            f"  {name:30} {median:6.3f} s  {size / median / 1e6:8.1f} MB/s  parser/this {ratio:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""PURE: BuildKit's plain progress output -> Dockerfile steps, other vertices, the failure.

Reads what `docker buildx build --progress=plain` (and `docker build` with BuildKit, `docker
compose build`, `buildctl`) prints, from BuildKit 0.6 (`executor failed running [...]`, no
Dockerfile excerpt) through 0.9+ (`process "..." did not complete successfully: exit code: N`,
the `Dockerfile:LINE` excerpt) to buildx 0.25+ (`ERROR: failed to build: failed to solve: ...`),
also with CI timestamps (GitHub Actions, Jenkins), ANSI colour and CRLF line endings.
Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- Streaming: `BuildKitLogParser.feed` takes text cut anywhere; the result does not depend on
  the chunking. Memory is bounded by the number of vertices, not by their output: at most
  `tail` output lines per vertex, one unfinished line (cut at 1 Mi characters) and the chunk
  being read.
- Fast: runs of step output (`#N 1.234 text`), the bulk of a big log, are found and counted
  by one regular-expression scan per chunk; only the few other lines are handled one by one.
  A build that a later build of the block replaces is skimmed (skim.py), with exactly the
  result reading every line gives.
- Input that holds no BuildKit plain progress (garbage, empty, a classic-builder log, a bare
  fragment) raises `BuildKitLogError`; BuildKit's tty progress saved to a file raises
  `TtyProgressError` (both are `LogFormatError`s). Never a half-empty `BuildKitLog`.
- When a log holds several builds (a CI retry, several `docker build` in one job), the
  result describes the last one.

The shapes come from BuildKit's own printers (read, not copied): moby/buildkit
util/progress/progressui/printer.go (`textMux.printVtx`: the `#N name` header, `#N <status>`,
`#N ...` when another vertex takes over, `#N DONE 0.3s` / `#N CACHED` / `#N ERROR: msg` /
`#N CANCELED`, `#N WARN: msg`), display.go (`trace.update`: each output line is prefixed with
its seconds since the vertex started, 3/2/1 decimals below 10/100 s and above;
`printErrorLogs`: the `------` / ` > name:` / last lines / `------` block), and
frontend/dockerfile/dockerfile2llb/convert.go (`prefixCommand`: `[platform stage i/n] ` with
the index padded to the width of n, `ONBUILD ` for triggers in newer versions, and no stage
name when the Dockerfile has one stage). Wordings of errors: solver/llbsolver/ops/exec.go
(`process %q did not complete successfully`, since moby/buildkit#2215, v0.9; `executor failed
running %v` before). buildx commands/build.go `printWarnings` prints the build-check summary.
Everything else is as recorded under tests/fixtures/buildkit/ (Engine 26.1.5, buildx 0.13.1).

The package: model.py (the result as data), lines.py (the line shapes and error wordings),
state.py (one build as read so far, frozen into the result), parser.py (the streaming
parser), skim.py (the earlier builds of a CI retry loop, skimmed) and mapping.py (the
result as the common logs.BuildLog, and the logs.LogParser that logs.parser("buildkit")
gives).
"""

from __future__ import annotations

from collections.abc import Iterable

from dbugbuild.logs.buildkit.lines import looks_like_buildkit
from dbugbuild.logs.buildkit.mapping import BuildKitParser, to_build_log
from dbugbuild.logs.buildkit.model import (
    BuildKitLog,
    BuildKitLogError,
    Failure,
    Step,
    TtyProgressError,
    Vertex,
    VertexState,
)
from dbugbuild.logs.buildkit.parser import BuildKitLogParser
from dbugbuild.logs.model import ExcerptLine
from dbugbuild.logs.reading import feed_all

__all__ = [
    "BuildKitLog",
    "BuildKitLogError",
    "BuildKitLogParser",
    "BuildKitParser",
    "ExcerptLine",
    "Failure",
    "Step",
    "TtyProgressError",
    "Vertex",
    "VertexState",
    "looks_like_buildkit",
    "parse",
    "to_build_log",
]


def parse(chunks: Iterable[str], tail: int = 20) -> BuildKitLog:
    """Parse BuildKit plain progress arriving in chunks; see BuildKitLogParser."""
    return feed_all(BuildKitLogParser(tail=tail), chunks)

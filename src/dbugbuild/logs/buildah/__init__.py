"""PURE: `podman build` / `buildah bud` output -> steps, image ids and the failure (the "buildah"
log family).

Reads what Buildah prints (it is the builder inside Podman), as a user saves it with
`2>&1 | tee`, in any chunking, old and new:

- Podman >= 3.x / Buildah >= 1.2x: `STEP 2/6: RUN ...`, per stage and prefixed `[2/3] ` when
  the Containerfile has several stages (imagebuildah/executor.go, buildStage's log func);
  `--> <id>` after each committed step (11 hex digits in Buildah 1.28 = Podman 4.3, 12 in later
  versions, 64 in Buildah 1.x), `--> Using cache <64 hex>` before it on a cache hit, `COMMIT
  <name>` before the last id, `Successfully tagged <name>`, the final 64-hex id alone on a line;
  the error as `Error: building at STEP "RUN ...": while running runtime: exit status 100`
  (stage_executor.go wraps ib.Run's error as `building at STEP "%s": %w` with step.Message).
- Podman 1.x/2.x / Buildah 1.x: `STEP 1: FROM ...`, one counter for the whole build, `STEP 15:
  COMMIT name`, and `Error: error building at STEP "...": error while running runtime: exit
  status 1` (pkg/errors-era `errors.Wrapf(err, "error building at STEP \"%s\"")`), or, older
  still, `error building at step {Env:[...] Command:run Args:[...] ... Message:RUN ...
  Original:RUN ...}: error while running runtime: exit status 1` (executor.go wrapped the
  whole imagebuilder.Step with `%+v`).

Never does I/O, never prints, never reads the environment or the clock.

Guarantees:
- Streaming: `BuildahLogParser.feed` takes any piece of text; the result does not depend on how
  the text was chunked. Lines end at \\n, \\r\\n or a lone \\r; a line longer than 1 Mi
  characters is cut in pieces. Memory grows with the number of steps, not with their output: at
  most `tail` output lines per step, plus one unfinished line.
- Fast: input is searched in cache-sized slices with str.find for the few markers that the
  lines that matter hold (STEP, COMMIT, `-->`, `Successfully tagged`, errors); one compiled
  pattern then reads each such line; only the last `tail` lines between two of them are looked
  at one by one. (On 100 MB that is about 4x the time of `grep -nE` for the same markers.)
- Output lines are reported without ANSI codes, the CI timestamp and indentation that the
  first of Buildah's lines carries, and Buildah's bookkeeping (pull and commit progress).
- Input with no Buildah output (garbage, an empty string, a classic or BuildKit docker log)
  raises `BuildahLogError` (a `LogFormatError`), never returns a half-empty `BuildahLog`.
- When a log holds several builds (a CI retry), the result describes the last one.

The package: model.py (what Buildah prints, as data), shapes.py (its line shapes and what an
error says), parser.py (the streaming parser) and state.py (what it holds while it reads),
mapping.py (onto the common logs.model; the family's parser in logs.parser("buildah")).
"""

from __future__ import annotations

from collections.abc import Iterable

from dbugbuild.logs.buildah.mapping import BuildahParser, to_build_log
from dbugbuild.logs.buildah.model import BuildahLog, BuildahLogError, Commit, Failure, Step
from dbugbuild.logs.buildah.parser import BuildahLogParser
from dbugbuild.logs.buildah.shapes import looks_like_buildah
from dbugbuild.logs.reading import feed_all
from dbugbuild.logs.text import MAX_LINE

__all__ = [
    "MAX_LINE",
    "BuildahLog",
    "BuildahLogError",
    "BuildahLogParser",
    "BuildahParser",
    "Commit",
    "Failure",
    "Step",
    "looks_like_buildah",
    "parse",
    "to_build_log",
]


def parse(chunks: Iterable[str], tail: int = 20) -> BuildahLog:
    """Parse Buildah output arriving in chunks; see BuildahLogParser."""
    return feed_all(BuildahLogParser(tail=tail), chunks)

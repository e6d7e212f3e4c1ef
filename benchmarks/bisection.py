"""`dbugbuild bisect` against probing every layer in turn, on a real 64-step classic build.

Run `.venv/bin/python benchmarks/bisection.py`. It builds a 64-step busybox Dockerfile once
(--no-cache), then for a culprit near the start, in the middle, near the end and at the end runs
`dbugbuild bisect --image FINAL -f Dockerfile --check 'test -f /gone-K'` in-process, and
probes all 64 layers in turn with the very same probe (bisect.driver.probe_layer). It prints
the probes used and the wall time of each, and removes every image and container it made.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from dbugbuild import bisect as search
    from dbugbuild import dockerfile
    from dbugbuild.bisect import Layer, driver
    from dbugbuild.cli import main as dbugbuild_main
    from dbugbuild.console import Console
    from dbugbuild.engine import LABEL, Engine
    from dbugbuild.errors import DbugbuildError
    from dbugbuild.report.style import short_id
except ImportError as _exc:
    sys.exit(
        f"benchmarks/bisection.py: error: cannot import {_exc.name}. Run it with the project's "
        "venv: '.venv/bin/python benchmarks/bisection.py'"
    )

STEPS = 64
CULPRITS = (4, 33, 63, 64)  # the steps whose RUN removes /gone-K: early, middle, late, last
BASELINE_CULPRIT = 33  # the check the every-layer scan runs with (its cost hardly depends on it)
_STEP = re.compile(r"^Step (\d+)/\d+ : (\S+)")
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$")


def source() -> str:
    """FROM busybox, one RUN making the /gone-K files, then 62 steps: RUN, ENV and LABEL
    in turn, and at each culprit step a RUN removing its file."""
    lines = ["FROM busybox", "RUN touch " + " ".join(f"/gone-{k}" for k in CULPRITS)]
    for step in range(3, STEPS + 1):
        if step in CULPRITS:
            lines.append(f"RUN rm /gone-{step}")
        elif step % 3 == 0:
            lines.append(f"ENV V{step}={step}")
        elif step % 3 == 1:
            lines.append(f"LABEL l{step}={step}")
        else:
            lines.append(f"RUN echo {step} > /f{step}")
    assert len(lines) == STEPS
    return "\n".join(lines) + "\n"


def build(ctx: Path) -> tuple[list[str], float]:
    """The build's step images (FROM's excluded: not ours), oldest first, and its time."""
    started = time.perf_counter()
    done = subprocess.run(
        ["docker", "build", "--no-cache", "."],
        cwd=ctx,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    images, keyword = [], ""
    for line in done.stdout.splitlines():
        step = _STEP.match(line)
        if step:
            keyword = step.group(2).upper()
        image = _IMAGE.match(line)
        if image and keyword != "FROM":
            images.append(image.group(1))
    if done.returncode != 0:
        raise SystemExit(f"benchmarks/bisection.py: error: the build failed:\n{done.stderr}")
    return images, seconds


def run_bisect(ctx: Path, image: str, culprit: int) -> tuple[dict[str, Any], float]:
    """`dbugbuild bisect` in-process (no interpreter start-up), its JSON and wall time."""
    out, err = io.StringIO(), io.StringIO()
    console = Console(
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
        env=dict(os.environ),
        cwd=str(ctx),
    )
    argv = ["bisect", "--image", image, "-f", "Dockerfile", "--format", "json"]
    started = time.perf_counter()
    code = dbugbuild_main([*argv, "--check", f"test -f /gone-{culprit}"], console)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"benchmarks/bisection.py: error: bisect exited {code}:\n{err.getvalue()}")
    result: dict[str, Any] = json.loads(out.getvalue())
    return result, seconds


def scan_every_layer(engine: Engine, layers: Sequence[Layer], culprit: int) -> tuple[int, float]:
    """Probe every layer in turn, oldest first: the step after the latest pass, and the time."""
    session = uuid.uuid4().hex[:12]
    passed: list[bool] = []
    started = time.perf_counter()
    for layer in layers:
        probe = driver.probe_layer(
            engine,
            layer,
            f"test -f /gone-{culprit}",
            session_id=session,
            timeout=60,
            network=None,
        )
        passed.append(probe.passed)
    engine.sweep(f"{LABEL}={session}")  # as the bisection does once its probes are done
    seconds = time.perf_counter() - started
    latest = max(i for i, ok in enumerate(passed) if ok)
    return layers[latest + 1].index, seconds


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    try:
        engine = Engine.connect(os.environ)
    except DbugbuildError as exc:
        print(f"benchmarks/bisection.py: error: {exc}", file=sys.stderr)
        return 1
    images: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-bisect-") as tmp:
            ctx = Path(tmp)
            (ctx / "Dockerfile").write_text(source())
            print(f"building {STEPS} steps (--no-cache) ...", flush=True)
            images, build_s = build(ctx)
            final = images[-1]
            print(f"  built {final} in {build_s:.1f} s", flush=True)
            rows = []
            layers: tuple[Layer, ...] = ()
            for culprit in CULPRITS:
                result, seconds = run_bisect(ctx, final, culprit)
                found = result["first_bad_step"]["index"]
                assert found == culprit, (found, culprit)
                rows.append((culprit, result["probes"], seconds))
                print(f"  culprit step {culprit}: {result['probes']} probes, {seconds:.2f} s")
            history = [search.HistoryEntry(short_id(i), c) for i, c in engine.image_chain(final)]
            layers = search.history_layers(
                history,
                dockerfile.parse(source()),
                "Dockerfile",
                target=None,
                labels={},
                build_args={},
                stage=None,
            ).layers
            assert len(layers) == STEPS
            print(f"  probing all {STEPS} layers in turn (culprit {BASELINE_CULPRIT}) ...")
            found, scan_s = scan_every_layer(engine, layers, BASELINE_CULPRIT)
            assert found == BASELINE_CULPRIT, found
    finally:
        engine.remove_images({i for i in (engine.image_id(x) for x in images) if i})
        engine.close()
    print()
    print(f"| culprit step | bisect probes | bisect wall | every layer ({STEPS} probes) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for culprit, probes, seconds in rows:
        print(
            f"| {culprit} | {probes} | {seconds:.2f} s | {scan_s:.2f} s | {seconds / scan_s:.2f}x |"
        )
    print(f"\nbuild: {build_s:.1f} s; one probe: {scan_s / STEPS:.2f} s on average")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

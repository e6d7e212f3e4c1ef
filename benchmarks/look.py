"""The diagnosis' look alone, in-process: read from the layer's folders (engine/fastlook.py)
against the probe container, on the last good layer of run.py's failing build, alternating.

Run `.venv/bin/python benchmarks/look.py [ROUNDS]` (Podman's part with CONTAINERS_CONF as
run.py sets it, under the tests' podman flock on a shared machine). Both looks must give
the same answer; the images the two builds make are removed, and only those (never one
the engine held before: the FROM's image is printed among the steps' ids).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from run import DOCKERFILE, PODMAN_CONF  # benchmarks/run.py

from dbugbuild.diagnosis import Questions
from dbugbuild.engine import Engine, look

ASKED = Questions(paths=("/no/such/dir",), names=("dir",))  # what `ls /no/such/dir` asks
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$", re.M)
_RUNNING = re.compile(r"Running in ([0-9a-f]{12})")
_PODMAN = re.compile(r"^--> ([0-9a-f]{11,64})\s*$", re.M)


def _ab(title: str, fast: Callable[[], object], slow: Callable[[], object], rounds: int) -> None:
    assert fast() == slow(), f"{title}: the two looks differ"
    times: dict[str, list[float]] = {"fast": [], "container": []}
    for i in range(rounds):
        for name in ("fast", "container") if i % 2 == 0 else ("container", "fast"):
            started = time.perf_counter()
            (fast if name == "fast" else slow)()
            times[name].append(time.perf_counter() - started)
    f, c = (1000 * statistics.median(times[k]) for k in ("fast", "container"))
    print(f"{title}: layer folders {f:.1f} ms, probe container {c:.1f} ms (medians of {rounds})")


def _ids(program: str, env: dict[str, str]) -> set[str]:
    """Every image the engine holds (full ids, without `sha256:`)."""
    out = subprocess.run([program, "images", "-a", "-q", "--no-trunc"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {i.removeprefix("sha256:") for i in out.split()}


def _made(printed: list[str], before: set[str]) -> list[str]:
    """The printed ids of images the build made: none the engine held before (printed ids
    are short: Docker's 12 digits, Podman's 11 or more)."""
    return [i for i in dict.fromkeys(printed) if not any(b.startswith(i) for b in before)]


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-look-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        before = _ids("docker", env)
        done = subprocess.run(["docker", "build", "--no-cache", tmp], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        printed, containers = _IMAGE.findall(done.stdout), _RUNNING.findall(done.stdout)
        images = _made(printed, before)
        try:
            engine = Engine.connect(dict(os.environ))
            image = printed[-1]  # the failed step's parent: the last good layer

            def container() -> object:
                found = look.api_layer_facts(engine, image, ASKED, fast=False)
                engine.settle()  # its container's removal, in a thread, is part of its cost
                return found

            try:
                _ab("Docker classic", lambda: look.api_layer_facts(engine, image, ASKED),
                    container, rounds)  # fmt: skip
            finally:
                engine.close()
        finally:
            subprocess.run(["docker", "rm", "-f", *containers], capture_output=True, check=False)
            mine = ["docker", "rmi", "--no-prune", *reversed(images)]
            subprocess.run(mine, capture_output=True, check=False)
        penv = {**os.environ, "CONTAINERS_CONF": PODMAN_CONF}
        before = _ids("podman", penv)
        done = subprocess.run(["podman", "build", "--layers", "--no-cache", tmp], env=penv,
                              capture_output=True, text=True, check=False)  # fmt: skip
        printed = _PODMAN.findall(done.stdout + done.stderr)
        layers = _made(printed, before)
        try:
            podman = Engine.connect_podman(penv)
            cli = podman.podman_look()
            assert cli is not None
            layer = printed[-1]
            try:
                _ab(
                    "Podman",
                    lambda: cli.layer_facts(layer, ASKED, 10),
                    lambda: cli.layer_facts(layer, ASKED, 10, fast=False),
                    rounds,
                )
            finally:
                podman.close()
        finally:
            subprocess.run(["podman", "rmi", *reversed(layers)], env=penv,
                           capture_output=True, check=False)  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

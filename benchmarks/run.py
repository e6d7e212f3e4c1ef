"""dbugbuild's benchmarks: each one measures dbugbuild against the obvious baseline.

Run `python benchmarks/run.py [--quick]` with the project's venv (`make bench` does).
Every benchmark repeats its measurement, prints the median, the baseline's median and
their ratio, and removes every container and image it made. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

try:
    import docker
    import docker.errors

    from dbugbuild import engine
    from dbugbuild.backends import BuildInputs
    from dbugbuild.backends.buildkit import BuildKitBackend
    from dbugbuild.backends.lastgood import PrefixBuilder
    from dbugbuild.debug import stepenv
    from dbugbuild.debug.workspace import Workspace
    from dbugbuild.dockerfile import parse
    from dbugbuild.dockerfile.prefix import cut
    from dbugbuild.errors import DbugbuildError
    from dbugbuild.options import BuildOptions
except ImportError as _exc:
    sys.exit(
        f"benchmarks/run.py: error: cannot import {_exc.name}. Run it with the project's "
        "venv: '.venv/bin/python benchmarks/run.py' or 'make bench'"
    )

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "busybox:latest"
CHUNK = 64 * 1024  # what engine.build relays from the CLI's pipes at a time
BENCH_LABEL = "dbugbuild.bench"
T = TypeVar("T")

# Ten steps, every one a container and a commit in the classic builder; the last fails.
DOCKERFILE = """\
FROM busybox
ENV A=1
WORKDIR /work
RUN echo one > one.txt
RUN echo two > two.txt
ENV B=2
RUN mkdir -p /work/sub && echo three > sub/three.txt
LABEL bench=dbugbuild
RUN cat one.txt two.txt
RUN ls /no/such/dir
"""
BUILD_EXIT = 1  # busybox ls on a missing path

_IMAGE_LINE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$", re.M)
_CONTAINER_LINE = re.compile(r"^ ---> Running in ([0-9a-f]{12})\s*$", re.M)


class BenchError(Exception):
    """The benchmark cannot run or measured something other than it meant to."""


@dataclass(frozen=True)
class Plan:
    build_rounds: int  # (dbugbuild, docker build) pairs timed
    build_warmup: bool
    session_rounds: int  # commands per variant
    prefix_rounds: int  # (prefix build, buildx by hand) pairs timed


FULL = Plan(
    build_rounds=5,
    build_warmup=True,
    session_rounds=25,
    prefix_rounds=7,
)
QUICK = Plan(
    build_rounds=2,
    build_warmup=False,
    session_rounds=5,
    prefix_rounds=3,
)


@dataclass(frozen=True)
class Row:
    """One line of the final table; `ratio` is dbugbuild's cost over the baseline's."""

    benchmark: str
    ours: str
    baseline: str
    ratio: str


@dataclass
class Daemon:
    """The daemon as the benchmarks use it, and what must survive them."""

    engine: engine.Engine
    api: Any  # a docker.APIClient of the same daemon, for the calls Workspace makes
    protected: frozenset[str]  # image ids that existed before: never removed
    warnings: list[str] = field(default_factory=list)

    def remove(self, containers: Sequence[str], images: Sequence[str], patience: float) -> None:
        """Remove containers, then images children first (give them oldest first).

        Sparing the protected and the tagged. Retries for up to `patience` seconds: after
        an interrupted build the daemon may still be removing a step's container, and
        its image refuses removal until then. What is left is reported as a warning.
        """
        deadline = time.monotonic() + patience
        while True:
            users, images = self._made_from(images)
            containers = [*containers, *users]
            failed = [*self._remove_containers(containers), *self._remove_images(images)]
            if not failed or time.monotonic() >= deadline:
                self.warnings += failed
                return
            time.sleep(0.5)

    def _made_from(self, images: Sequence[str]) -> tuple[list[str], list[str]]:
        """Containers of these images, and the images with their descendants, oldest first.

        An interrupted classic build goes on with its current step after the CLI is gone,
        so it leaves a container or an image that its output never named.
        """
        mine: set[str] = set()
        for ref in images:
            with contextlib.suppress(docker.errors.NotFound):
                mine.add(self.api.inspect_image(ref)["Id"])
        mine -= self.protected  # the base image's other children are not ours
        parents = {i["Id"]: i.get("ParentId", "") for i in self.api.images(all=True)}
        found = list(images)
        grown = True
        while grown:
            children = [i for i, p in parents.items() if p in mine and i not in mine]
            children = [i for i in children if i not in self.protected]
            mine.update(children)
            found += children
            grown = bool(children)
        users = [c["Id"] for c in self.api.containers(all=True) if c.get("ImageID") in mine]
        return users, found

    def _remove_containers(self, ids: Sequence[str]) -> list[str]:
        failed = []
        for cid in ids:
            try:
                self.api.remove_container(cid, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                failed.append(f"container {cid[:12]} not removed: {exc.explanation}")
        return failed

    def _remove_images(self, ids: Sequence[str]) -> list[str]:
        failed = []
        for ref in reversed(ids):
            try:
                info = self.api.inspect_image(ref)
            except docker.errors.NotFound:
                continue
            if info["Id"] in self.protected or info.get("RepoTags"):
                continue
            try:
                self.api.remove_image(info["Id"], noprune=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                failed.append(f"image {ref[:19]} not removed: {exc.explanation}")
        return failed


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def say(text: str = "") -> None:
    print(text, flush=True)


# -- 1. build overhead ------------------------------------------------------------------


def _timed_build(argv: Sequence[str], cwd: Path, out: Path, err: Path) -> tuple[float, int]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        return time.perf_counter() - started, proc.returncode


def _build_leftovers(texts: Sequence[str], report: str | None) -> tuple[list[str], list[str]]:
    """(containers, images oldest first) a classic build printed, plus the json report's."""
    containers: list[str] = []
    images: list[str] = []
    for text in texts:
        containers += _CONTAINER_LINE.findall(text)
        images += _IMAGE_LINE.findall(text)
    if report:
        try:
            data = json.loads(report)
        except ValueError:
            data = {}
        if data.get("failed_container"):
            containers.append(data["failed_container"])
        images += [s["image"] for s in data.get("steps", ()) if s.get("image")]
    return list(dict.fromkeys(containers)), list(dict.fromkeys(images))


def _one_build(daemon: Daemon, name: str, argv: Sequence[str], ctx: Path) -> float:
    out, err = ctx.parent / f"{name}.out", ctx.parent / f"{name}.err"
    seconds, code = -1.0, -1
    try:
        seconds, code = _timed_build(argv, ctx, out, err)
    finally:
        stdout = out.read_text(errors="replace") if out.exists() else ""
        stderr = err.read_text(errors="replace") if err.exists() else ""
        report = stdout if name == "dbugbuild" else None
        containers, images = _build_leftovers([stdout, stderr], report)
        if code != BUILD_EXIT:
            time.sleep(2)  # interrupted or failed: let the daemon finish its current step
        daemon.remove(containers, images, patience=0 if code == BUILD_EXIT else 15)
    if code != BUILD_EXIT or "returned a non-zero code" not in stdout + stderr:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-5:])
        if "unknown parent image ID" in tail or "No such image" in tail:
            tail += (
                "\n(another process removed images from the daemon during the build, e.g. a "
                "test session's clean-up: rerun when the daemon is otherwise idle)"
            )
        raise BenchError(
            f"{name} exited {code}, expected the failing build's {BUILD_EXIT}:\n{tail}"
        )
    return seconds


def bench_build(daemon: Daemon, plan: Plan) -> list[Row]:
    say("1. build overhead: a failing 10-step busybox build, --no-cache")
    ours_argv = [sys.executable, "-m", "dbugbuild", "--no-shell", "--format", "json"]
    plain_argv = ["docker", "build", "--no-cache"]
    ours: list[float] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-") as tmp:
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        runs = {
            "dbugbuild": ([*ours_argv, "--no-cache", str(ctx)], ours),
            "docker build": ([*plain_argv, str(ctx)], plain),
        }
        if plan.build_warmup:
            for name, (argv, _) in runs.items():
                _one_build(daemon, name, argv, ctx)
        for i in range(plan.build_rounds):
            # Alternate who goes first: the daemon's state drifts (other users, page cache).
            order = list(runs) if i % 2 == 0 else list(reversed(runs))
            for name in order:
                argv, samples = runs[name]
                samples.append(_one_build(daemon, name, argv, ctx))
    o, p = statistics.median(ours), statistics.median(plain)
    say(f"   dbugbuild --no-shell --format json: {o:.2f} s  (runs: {_fmt_s(ours)})")
    say(f"   DOCKER_BUILDKIT=0 docker build:     {p:.2f} s  (runs: {_fmt_s(plain)})")
    say(f"   ratio {o / p:.2f}x, overhead {1000 * (o - p):+.0f} ms per build")
    # Where the overhead goes: the interpreter and dbugbuild's imports (docker-py, requests;
    # prompt-toolkit only for a session) are paid before the build starts.
    version = [sys.executable, "-m", "dbugbuild", "--version"]
    start = _median_s(lambda: _quiet(version), plan.build_rounds + 1)
    bare = _median_s(lambda: _quiet([sys.executable, "-c", "pass"]), plan.build_rounds + 1)
    share = f"{100 * (start - bare) / (o - p):.0f}% of overhead" if o > p else "n/a"
    say(
        f"   start-up alone (dbugbuild --version): {start:.2f} s, python -c pass {bare:.2f} s: "
        f"{share}"
    )
    return [
        Row("build, 10 steps (wall)", f"{o:.2f} s", f"docker build {p:.2f} s", f"{o / p:.2f}x"),
        Row("  of which start-up", f"{start:.2f} s", f"python -c pass {bare:.2f} s", share),
    ]


def _quiet(argv: Sequence[str]) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}")


def _fmt_s(samples: Sequence[float]) -> str:
    return " ".join(f"{s:.2f}" for s in samples)


# -- 2. parser throughput: benchmarks/parsing.py -----------------------------------------


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    return _timed(fn, repeats)[0]


def _timed(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The median seconds of `repeats` calls, and what the last call returned."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


# -- 3. session command -------------------------------------------------------------------


SESSION_ARGV = ["/bin/sh", "-c", "true"]
BARE = "docker-py create+start+wait+rm"
MIRROR = "docker-py, Workspace's calls"
CLI = "docker run --rm (CLI)"
OURS = "Workspace.run"


def bench_session(daemon: Daemon, plan: Plan, image: str) -> list[Row]:
    say("3. session command: one `true` in a busybox layer, per command")
    api = daemon.api
    session = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    labels = {BENCH_LABEL: session}
    config = daemon.engine.image_config(image) or {}
    env = stepenv.reconstruct(image, config, None, (), None)
    workspace = Workspace(daemon.engine, env, session)
    committed: list[str] = []  # by the mirror variant, oldest first (each on the last)
    commit_only: list[float] = []

    def ours() -> None:
        result = workspace.run(SESSION_ARGV)
        if result.exit_code != 0:
            raise BenchError(f"Workspace.run exited {result.exit_code}: {result.output}")

    def cli() -> None:
        argv = ["docker", "run", "--rm", "--label", f"{BENCH_LABEL}={session}", BASE_IMAGE, "true"]
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"docker run exited {proc.returncode}: {proc.stderr.strip()}")

    def bare() -> None:
        cid = api.create_container(image=image, command=["true"], labels=labels)["Id"]
        try:
            api.start(cid)
            if api.wait(cid).get("StatusCode") != 0:
                raise BenchError("the docker-py container failed")
        finally:
            api.remove_container(cid, force=True)

    def mirror() -> None:
        """The API calls Workspace.run makes, without dbugbuild: logs stream, diff, commit."""
        parent = committed[-1] if committed else image
        cid = api.create_container(
            image=parent, command=SESSION_ARGV, entrypoint=[""], labels=labels
        )["Id"]
        try:
            api.start(cid)
            stream = api.logs(cid, stream=True, follow=True, stdout=True, stderr=True)
            for _ in stream:
                pass
            stream.close()
            if api.wait(cid).get("StatusCode") != 0:
                raise BenchError("the docker-py container failed")
            started = time.perf_counter()
            api.diff(cid)
            new = api.commit(cid, changes=[f"LABEL {BENCH_LABEL}={session}"])["Id"]
            commit_only.append(time.perf_counter() - started)
            committed.append(new)  # chained, as a session's layers are
        finally:
            api.remove_container(cid, force=True)

    variants: dict[str, Callable[[], None]] = {OURS: ours, CLI: cli, BARE: bare, MIRROR: mirror}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for fn in variants.values():  # warm-up: first container, connection pool
            fn()
        commit_only.clear()
        names = list(variants)
        for i in range(plan.session_rounds):
            # Round-robin, rotating the order, so drift in the daemon hits all alike.
            for name in names[i % len(names) :] + names[: i % len(names)]:
                started = time.perf_counter()
                variants[name]()
                samples[name].append(time.perf_counter() - started)
    finally:
        try:
            workspace.close()
        finally:
            mine = api.containers(all=True, filters={"label": f"{BENCH_LABEL}={session}"})
            daemon.remove([c["Id"] for c in mine], committed, patience=15)

    ms = {name: median_ms(s) for name, s in samples.items()}
    run = ms[OURS]
    for name, value in ms.items():
        q1, _, q3 = statistics.quantiles(samples[name], n=4)
        ratio = "" if name == OURS else f"  Workspace.run is {run / value:.2f}x this"
        say(f"   {name:<31} {value:4.0f} ms (IQR {1000 * q1:.0f}-{1000 * q3:.0f}){ratio}")
    commit = median_ms(commit_only)
    say(
        f"   diff+commit alone (timed inside the mirror): {commit:.0f} ms, "
        f"{100 * commit / run:.0f}% of a Workspace.run"
    )
    say(
        f"   by difference of medians: dbugbuild's own work {run - ms[MIRROR]:+.0f} ms, "
        f"logs stream and /bin/sh {ms[MIRROR] - ms[BARE] - commit:+.0f} ms"
    )
    return [
        Row(
            "session command (vs CLI)", f"{run:.0f} ms", f"{CLI} {ms[CLI]:.0f} ms", _x(run, ms[CLI])
        ),
        Row(
            "session command (vs SDK)",
            f"{run:.0f} ms",
            f"docker-py, no commit {ms[BARE]:.0f} ms",
            _x(run, ms[BARE]),
        ),
        Row(
            "session command (vs same calls)",
            f"{run:.0f} ms",
            f"docker-py + logs + commit {ms[MIRROR]:.0f} ms",
            _x(run, ms[MIRROR]),
        ),
        Row("  of which diff+commit", f"{commit:.0f} ms", "-", f"{100 * commit / run:.0f}% of run"),
    ]


def _x(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x"


# -- 4. the last good layer of a BuildKit failure ------------------------------------------

# The same ten steps for BuildKit: its failing RUN has no image, so dbugbuild builds the
# Dockerfile cut before it (a prefix build) to debug in.
PREFIX_LINE = DOCKERFILE.count("\n")  # the failing RUN is the last line


def bench_prefix(daemon: Daemon, plan: Plan) -> list[Row]:
    """dbugbuild's prefix build against the same cached `docker buildx build --load` by hand."""
    say("4. the last good layer of a BuildKit failure (prefix build, cached)")
    run = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-") as tmp:
        ctx = Path(tmp) / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        model = parse(DOCKERFILE)
        prefix = cut(DOCKERFILE, model, model.stages[0], PREFIX_LINE)
        by_hand = Path(tmp) / "prefix" / "Dockerfile"
        by_hand.parent.mkdir()
        by_hand.write_text(prefix.text)
        # The failed build fills the cache, as the build a user debugs has.
        warm = ["docker", "buildx", "build", "--progress=plain", "--load", str(ctx)]
        subprocess.run(warm, capture_output=True, check=False)
        backend = BuildKitBackend()
        inputs = BuildInputs(
            BuildOptions(context=str(ctx)), tmp, os.environ, DOCKERFILE,
            str(ctx / "Dockerfile"), True, lambda _: None, lambda _: None,
        )  # fmt: skip
        ours: list[float] = []
        hand: list[float] = []
        try:
            for i in range(plan.prefix_rounds + 1):  # the first pair warms up
                for who in ("ours", "hand") if i % 2 == 0 else ("hand", "ours"):
                    session = f"{run}-{i}-{who}"
                    labels = {engine.LABEL: session, BENCH_LABEL: run}
                    started = time.perf_counter()
                    if who == "ours":
                        builder = PrefixBuilder(daemon.engine, backend, inputs, labels)
                        builder.build(prefix)
                    else:
                        argv = ["docker", "buildx", "build", "--progress=plain", "--load",
                                "-f", str(by_hand), "--target", prefix.target,
                                "-t", f"dbugbuild-bench-{session}", "--label",
                                f"{engine.LABEL}={session}", "--label", f"{BENCH_LABEL}={run}",
                                str(ctx)]  # fmt: skip
                        done = subprocess.run(argv, capture_output=True, check=False)
                        if done.returncode != 0:
                            raise BenchError(f"buildx failed: {done.stderr.decode()[-500:]}")
                    elapsed = time.perf_counter() - started
                    if i:
                        (ours if who == "ours" else hand).append(elapsed)
                    daemon.engine.sweep(f"{engine.LABEL}={session}")
        finally:
            daemon.engine.sweep(f"{BENCH_LABEL}={run}")
    o, h = statistics.median(ours), statistics.median(hand)
    say(f"   dbugbuild prefix build:          {o:.2f} s  (runs: {_fmt_s(ours)})")
    say(f"   docker buildx build --load, same: {h:.2f} s  (runs: {_fmt_s(hand)})")
    say(f"   ratio {o / h:.2f}x, {1000 * (o - h):+.0f} ms")
    return [
        Row(
            "prefix build, 9 steps cached (wall)",
            f"{o:.2f} s",
            f"docker buildx build --load {h:.2f} s",
            f"{o / h:.2f}x",
        )
    ]


# -- main ---------------------------------------------------------------------------------


def _table(rows: Sequence[Row]) -> str:
    head = Row("benchmark", "dbugbuild", "baseline", "ratio")
    cols = [max(len(getattr(r, f)) for r in [head, *rows]) for f in ("benchmark", "ours")]
    cols.append(max(len(r.baseline) for r in [head, *rows]))
    lines = []
    for r in [head, *rows]:
        lines.append(
            f"{r.benchmark:<{cols[0]}}  {r.ours:>{cols[1]}}  {r.baseline:<{cols[2]}}  {r.ratio}"
        )
    lines.insert(1, "-" * len(max(lines, key=len)))
    return "\n".join(lines)


def _connect() -> Daemon:
    for tool in ("docker", "grep"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not on PATH. Install it and retry")
    try:
        eng = engine.Engine.connect(os.environ)
    except DbugbuildError as exc:
        raise BenchError(str(exc)) from exc
    api = docker.from_env(version="auto", timeout=120).api  # the same daemon, our own client
    protected = frozenset(i["Id"] for i in api.images(all=True))
    return Daemon(eng, api, protected)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    daemon: Daemon | None = None
    try:
        daemon = _connect()
        image = daemon.engine.image_id(BASE_IMAGE)
        if image is None:
            raise BenchError(
                f"{BASE_IMAGE} is not in the daemon and this script never pulls. "
                "Run 'make base-images'"
            )
        say(
            f"dbugbuild benchmarks ({'quick' if args.quick else 'full'}), "
            f"{os.cpu_count()} cores, Docker {daemon.api.version().get('Version', '?')}; "
            "medians of repeated runs\n"
        )
        rows: list[Row] = []
        benches: list[Callable[[], list[Row]]] = [
            lambda: bench_build(daemon, plan),
            lambda: bench_session(daemon, plan, image),
            lambda: bench_prefix(daemon, plan),
        ]
        for bench in benches:
            bench_started = time.perf_counter()
            rows += bench()
            say(f"   ({time.perf_counter() - bench_started:.0f} s)\n")
    except BenchError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbenchmarks/run.py: interrupted", file=sys.stderr)
        return 130
    except DbugbuildError as exc:  # the engine's translation of a daemon failure mid-run
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return 1
    except (docker.errors.DockerException, OSError) as exc:  # the daemon failed mid-run
        print(
            f"benchmarks/run.py: error: the Docker daemon failed mid-run: {exc}. "
            "Check 'docker info'; if tests ran against the same daemon meanwhile, their "
            "clean-up removes images made by others: rerun when it is idle",
            file=sys.stderr,
        )
        return 1
    finally:
        if daemon is not None:
            for warning in daemon.warnings:
                print(f"benchmarks/run.py: warning: {warning}", file=sys.stderr)
            daemon.engine.close()
    say(_table(rows))
    total = time.perf_counter() - started
    say(f"\n(ratio: dbugbuild's time over the baseline's; total {total:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

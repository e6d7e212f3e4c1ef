"""dbugbuild's benchmarks: each one measures dbugbuild against the obvious baseline.

Run `python benchmarks/run.py [--quick]` with the project's venv (`make bench` does).
Every benchmark repeats its measurement, prints the median, the baseline's median and
their ratio, and removes every container and image it made. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

try:
    import docker
    import docker.errors
    from prompt import bench_prompt, prompt_cases, remove_podman_layers  # benchmarks/prompt.py

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
LOGS = REPO / "tests" / "fixtures" / "logs"
BASE_IMAGE = "busybox:latest"
CHUNK = 64 * 1024  # what engine.build relays from the CLI's pipes at a time
BENCH_LABEL = "dbugbuild.bench"
PODMAN_CONF = "/var/lib/dbugbuild-test/containers.conf"  # scripts/setup-podman.sh's
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
    build_rounds: int  # (dbugbuild, plain build) pairs timed, per builder
    build_warmup: bool
    session_rounds: int  # commands per variant
    ctrl_c_rounds: int  # interrupted commands
    prefix_rounds: int  # (prefix build, buildx by hand) pairs timed
    prompt_rounds: int  # (dbugbuild to its prompt, a bare container start) pairs timed


FULL = Plan(
    build_rounds=15,  # a build here spreads ±0.3 s: 9 pairs left the median ±2-4%
    build_warmup=True,
    session_rounds=25,
    ctrl_c_rounds=5,
    prefix_rounds=7,
    prompt_rounds=5,
)
QUICK = Plan(
    build_rounds=2,
    build_warmup=False,
    session_rounds=5,
    ctrl_c_rounds=2,
    prefix_rounds=3,
    prompt_rounds=2,
)


@dataclass(frozen=True)
class Row:
    """One line of the final table: dbugbuild's cost over the baseline's, and the target."""

    benchmark: str
    ours: str
    baseline: str
    ratio: float
    limit: float | None = None  # the ratio the target allows; None: shown, not a target

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return ""
        return f"<= {self.limit:g}x: {'met' if self.ratio <= self.limit else 'NOT met'}"


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


# -- 1. start-up and build overhead ------------------------------------------------------


def _timed_build(
    argv: Sequence[str], cwd: Path, out: Path, err: Path, env: Mapping[str, str]
) -> tuple[float, int]:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
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


@dataclass(frozen=True)
class Builder:
    """One builder's benchmark: dbugbuild's argv and the plain tool's, both failing."""

    title: str
    ours: list[str]
    plain: list[str]
    env: Mapping[str, str]
    classic: bool  # the classic builder leaves images and a container to remove by id


def _one_build(
    daemon: Daemon, builder: Builder, name: str, argv: Sequence[str], ctx: Path
) -> float:
    out, err = ctx.parent / f"{name}.out", ctx.parent / f"{name}.err"
    seconds, code = -1.0, -1
    try:
        seconds, code = _timed_build(argv, ctx, out, err, builder.env)
    finally:
        stdout = out.read_text(errors="replace") if out.exists() else ""
        stderr = err.read_text(errors="replace") if err.exists() else ""
        if builder.classic:
            report = stdout if name == "dbugbuild" else None
            containers, images = _build_leftovers([stdout, stderr], report)
            if code != BUILD_EXIT:
                time.sleep(2)  # interrupted or failed: let the daemon finish its current step
            daemon.remove(containers, images, patience=0 if code == BUILD_EXIT else 15)
        elif builder.title == "Podman":  # dbugbuild's `podman build --layers` keeps each step's
            remove_podman_layers(stdout + stderr, builder.env)
    if code != BUILD_EXIT:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-5:])
        if "unknown parent image ID" in tail or "No such image" in tail:
            tail += (
                "\n(another process removed images from the daemon during the build, e.g. a "
                "test session's clean-up: rerun when the daemon is otherwise idle)"
            )
        raise BenchError(
            f"{builder.title}: {name} exited {code}, expected the failing build's "
            f"{BUILD_EXIT}:\n{tail}"
        )
    return seconds


def dbugbuild_argv() -> list[str]:
    """dbugbuild as a user runs it: the `dbugbuild` script pip installed beside this python
    (the venv's), which imports dbugbuild.cli directly; `python -m dbugbuild` (runpy first,
    ~3 ms more) where there is none."""
    script = Path(sys.executable).parent / "dbugbuild"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dbugbuild"]


def _builders() -> list[Builder]:
    ours = [*dbugbuild_argv(), "--no-shell", "--format", "json", "--no-cache"]
    found = [
        Builder(
            "classic",
            [*ours, "--backend", "classic"],
            ["docker", "build", "--no-cache"],
            {**os.environ, "DOCKER_BUILDKIT": "0"},
            classic=True,
        ),
        Builder(
            "BuildKit",
            [*ours, "--backend", "buildkit"],
            ["docker", "buildx", "build", "--no-cache"],
            dict(os.environ),
            classic=False,
        ),
    ]
    if shutil.which("podman") and Path(PODMAN_CONF).exists():
        found.append(
            Builder(
                "Podman",
                [*ours, "--backend", "podman"],
                ["podman", "build", "--no-cache"],
                {**os.environ, "CONTAINERS_CONF": PODMAN_CONF},
                classic=False,
            )
        )
    else:
        say(f"   (no Podman here, or no {PODMAN_CONF}: run 'make podman' for its row)")
    return found


def bench_build(daemon: Daemon, plan: Plan) -> list[Row]:
    say("1. build overhead: a failing 10-step busybox build, --no-cache")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-") as tmp:
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        for builder in _builders():
            samples: dict[str, list[float]] = {"dbugbuild": [], "plain": []}
            runs = {"dbugbuild": [*builder.ours, str(ctx)], "plain": [*builder.plain, str(ctx)]}
            if plan.build_warmup:
                for name, argv in runs.items():
                    _one_build(daemon, builder, name, argv, ctx)
            for i in range(plan.build_rounds):
                # Alternate who goes first: the daemon's state drifts (other users, page cache).
                for name in list(runs) if i % 2 == 0 else list(reversed(runs)):
                    samples[name].append(_one_build(daemon, builder, name, runs[name], ctx))
            o, p = statistics.median(samples["dbugbuild"]), statistics.median(samples["plain"])
            # Each round's two builds ran one after the other: their ratio is what drift in
            # the shared daemon and host (minutes apart) changes least.
            pairs = list(zip(samples["dbugbuild"], samples["plain"], strict=True))
            ratio = statistics.median(ours / base for ours, base in pairs)
            extra = statistics.median(ours - base for ours, base in pairs)
            plain = " ".join(builder.plain[:-1])
            say(f"   {builder.title}: dbugbuild {o:.2f} s ({_fmt_s(samples['dbugbuild'])})")
            say(f"   {builder.title}: {plain} {p:.2f} s ({_fmt_s(samples['plain'])})")
            say(f"   ratio {ratio:.3f}x, {1000 * extra:+.0f} ms per build (medians of the rounds')")
            rows.append(
                Row(f"build, {builder.title}", f"{o:.2f} s", f"{plain} {p:.2f} s", ratio, 1.05)
            )
    return rows


def bench_startup(plan: Plan) -> list[Row]:
    say("0. start-up: dbugbuild --version and --help against python -c pass")
    say(f"   (dbugbuild is {' '.join(dbugbuild_argv())})")
    repeats = 3 * plan.build_rounds + 1
    bare = _median_s(lambda: _quiet([sys.executable, "-c", "pass"]), repeats)
    rows = []
    for flag in ("--version", "--help"):
        argv = [*dbugbuild_argv(), flag]
        ours = _median_s(functools.partial(_quiet, argv), repeats)
        say(f"   dbugbuild {flag}: {1000 * ours:.0f} ms, python -c pass {1000 * bare:.0f} ms")
        rows.append(
            Row(
                f"start-up, {flag}",
                f"{1000 * ours:.0f} ms",
                f"python -c pass {1000 * bare:.0f} ms",
                ours / bare,
                3.0,
            )
        )
    return rows


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _quiet(argv: Sequence[str]) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}")


def _fmt_s(samples: Sequence[float]) -> str:
    return " ".join(f"{s:.2f}" for s in samples)


# -- 2. session command ---------------------------------------------------------------


SESSION_ARGV = ["/bin/sh", "-c", "true"]
OURS = "Workspace.run (exec in the session's container)"
EXEC_CLI = "docker exec (CLI)"
EXEC_SDK = "docker-py exec_create+start+inspect"
PER_COMMAND = "a container per command (before; shell-less layers)"
RUN_CLI = "docker run --rm (CLI)"


def _workspace(daemon: Daemon, image: str, session: str) -> Workspace:
    config = daemon.engine.image_config(image) or {}
    env = stepenv.reconstruct(image, config, None, (), None)
    return Workspace(daemon.engine, env, session)


def bench_session(daemon: Daemon, plan: Plan, image: str) -> list[Row]:
    say("2. session command: one `true` in a busybox layer, per command")
    api = daemon.api
    session = f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    labels = {BENCH_LABEL: session}
    workspace = _workspace(daemon, image, session)
    # The path a layer without /bin/sh takes, and every command took before: a container
    # from the current image, committed when it changed something (here: nothing).
    alone = _workspace(daemon, image, session + "-alone")
    alone._no_shell = True
    target = api.create_container(
        image=image, command=["sh", "-c", "while :; do sleep 3600; done"], labels=labels
    )["Id"]
    api.start(target)

    def ours() -> None:
        result = workspace.run(SESSION_ARGV)
        if result.exit_code != 0:
            raise BenchError(f"Workspace.run exited {result.exit_code}: {result.output}")

    def per_command() -> None:
        result = alone.run(SESSION_ARGV)
        if result.exit_code != 0:
            raise BenchError(f"Workspace.run exited {result.exit_code}: {result.output}")

    def exec_cli() -> None:
        _checked(["docker", "exec", target, "true"])

    def exec_sdk() -> None:
        exec_id = api.exec_create(target, ["true"])["Id"]
        for _ in api.exec_start(exec_id, stream=True):
            pass
        if api.exec_inspect(exec_id).get("ExitCode") != 0:
            raise BenchError("the docker-py exec failed")

    def run_cli() -> None:
        _checked(["docker", "run", "--rm", "--label", f"{BENCH_LABEL}={session}", image, "true"])

    variants: dict[str, Callable[[], None]] = {
        OURS: ours,
        EXEC_CLI: exec_cli,
        EXEC_SDK: exec_sdk,
        PER_COMMAND: per_command,
        RUN_CLI: run_cli,
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for fn in variants.values():  # warm-up: the session's container, connection pool
            fn()
        names = list(variants)
        for i in range(plan.session_rounds):
            # Round-robin, rotating the order, so drift in the daemon hits all alike.
            for name in names[i % len(names) :] + names[: i % len(names)]:
                started = time.perf_counter()
                variants[name]()
                samples[name].append(time.perf_counter() - started)
        latency = _ctrl_c_latency(workspace, plan.ctrl_c_rounds)
    finally:
        try:
            workspace.close()
            alone.close()
        finally:
            mine = api.containers(all=True, filters={"label": f"{BENCH_LABEL}={session}"})
            daemon.remove([c["Id"] for c in mine], [], patience=15)

    ms = {name: median_ms(s) for name, s in samples.items()}
    run = ms[OURS]
    for name, value in ms.items():
        q1, _, q3 = statistics.quantiles(samples[name], n=4)
        ratio = "" if name == OURS else f"  Workspace.run is {run / value:.2f}x this"
        say(f"   {name:<52} {value:4.0f} ms (IQR {1000 * q1:.0f}-{1000 * q3:.0f}){ratio}")
    stop = median_ms(latency)
    say(f"   Ctrl-C during `sleep 60`, SIGINT to the command's end: {stop:.0f} ms (median)")
    return [
        Row("session command", f"{run:.0f} ms", f"{EXEC_CLI} {ms[EXEC_CLI]:.0f} ms",
            run / ms[EXEC_CLI], 2.0),
        Row("  the same, a container each (before)", f"{ms[PER_COMMAND]:.0f} ms",
            f"{EXEC_CLI} {ms[EXEC_CLI]:.0f} ms", ms[PER_COMMAND] / ms[EXEC_CLI]),
        Row("  Ctrl-C: SIGINT to the command's end", f"{stop:.0f} ms",
            f"{EXEC_CLI} {ms[EXEC_CLI]:.0f} ms", stop / ms[EXEC_CLI]),
    ]  # fmt: skip


def _checked(argv: Sequence[str]) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:2])} exited {proc.returncode}: {proc.stderr.strip()}")


def _setter(event: threading.Event) -> Callable[[str], None]:
    return lambda _: event.set()


def _ctrl_c_latency(workspace: Workspace, rounds: int) -> list[float]:
    """Seconds from the terminal's SIGINT to Workspace.run's return, a command running."""
    samples: list[float] = []
    for _ in range(rounds):
        sent: list[float] = []
        begun = threading.Event()

        def interrupt(begun: threading.Event = begun, sent: list[float] = sent) -> None:
            begun.wait(60)
            time.sleep(0.5)  # in the command's sleep, not its start
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        ran = workspace.run(["/bin/sh", "-c", "echo go; sleep 60"], _setter(begun))
        ended = time.perf_counter()
        if not ran.interrupted or not sent:
            raise BenchError(f"the command was not interrupted: {ran}")
        samples.append(ended - sent[0])
    return samples


# -- 3. the last good layer of a BuildKit failure ------------------------------------------

# The same ten steps for BuildKit: its failing RUN has no image, so dbugbuild builds the
# Dockerfile cut before it (a prefix build) to debug in.
PREFIX_LINE = DOCKERFILE.count("\n")  # the failing RUN is the last line


def bench_prefix(daemon: Daemon, plan: Plan) -> list[Row]:
    """dbugbuild's prefix build against the same cached `docker buildx build --load` by hand."""
    say("3. failure -> prompt under BuildKit: the last good layer's prefix build, cached")
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
            "failure -> prompt, BuildKit (prefix build)",
            f"{o:.2f} s",
            f"cached docker buildx build --load {h:.2f} s",
            o / h,
            1.2,
        )
    ]


def bench_prompts(daemon: Daemon, plan: Plan) -> list[Row]:
    """Failure -> prompt in a terminal, classic and Podman (prompt.py), against one bare
    container start of the same engine."""
    say("4. failure -> prompt in a terminal, classic and Podman: the layer exists")

    def remove_classic(text: str) -> None:
        containers, images = _build_leftovers([text], None)
        daemon.remove(containers, images, patience=15)

    cases = prompt_cases(dbugbuild_argv(), PODMAN_CONF, remove_classic)
    try:
        found = bench_prompt(cases, DOCKERFILE, plan.prompt_rounds, say)
    except (RuntimeError, OSError) as exc:
        raise BenchError(str(exc)) from exc
    return [
        Row(f"failure -> prompt, {title}", f"{1000 * o:.0f} ms", f"{name} {1000 * b:.0f} ms",
            o / b, 1.0)
        for title, o, name, b in found
    ]  # fmt: skip


# -- main ---------------------------------------------------------------------------------


def _table(rows: Sequence[Row]) -> str:
    cells = [("benchmark", "dbugbuild", "baseline", "ratio", "target")]
    cells += [(r.benchmark, r.ours, r.baseline, f"{r.ratio:.2f}x", r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(5)).rstrip() for c in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def _connect() -> Daemon:
    for tool in ("docker",):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not on PATH. Install it and retry")
    try:
        eng = engine.Engine.connect(os.environ)
    except DbugbuildError as exc:
        raise BenchError(str(exc)) from exc
    api = docker.from_env(version="auto", timeout=120).api  # the same daemon, our own client
    protected = frozenset(i["Id"] for i in api.images(all=True))
    return Daemon(eng, api, protected)


def _compile_dbugbuild() -> None:
    """dbugbuild's modules compiled to bytecode first, as a pip-installed package ships them:
    with PYTHONDONTWRITEBYTECODE=1 (these machines) a fresh clone would compile every module
    at every start, 60-90 ms that no installed dbugbuild pays."""
    import compileall

    import dbugbuild

    compileall.compile_dir(os.path.dirname(dbugbuild.__file__), quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    _compile_dbugbuild()
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
            lambda: bench_startup(plan),
            lambda: bench_build(daemon, plan),
            lambda: bench_session(daemon, plan, image),
            lambda: bench_prefix(daemon, plan),
            lambda: bench_prompts(daemon, plan),
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
    missed = [r.benchmark for r in rows if r.limit is not None and r.ratio > r.limit]
    say(f"targets not met: {', '.join(missed)}" if missed else "every target met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Failure -> prompt, as a person sees it: `dbugbuild CTX` in a real terminal (a pexpect pty)
on the benchmark's failing build, timed from the builder's failure line on the terminal to
the session's prompt with the failed command typed at it. The baseline is one bare
container start of the same engine (`docker run --rm busybox true`, `podman run --rm ...`):
the issue's target is a prompt within that. (BuildKit's row is run.py's prefix build: there
the last good layer has to be built.)

run.py calls `bench_prompt`; it is a module of its own to keep run.py readable. The build
is cached (the failure, not the build, is timed: the first round warms the cache and is
not counted); what the rounds leave is removed by the ids their output names: the classic
build's step images, a failed container (the session removes it, but a round that fails
must not leave it), and Podman's `--> id` layers.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pexpect

PROMPT = r"dbugbuild> ls /no/such/dir"  # the failed RUN of run.py's DOCKERFILE, pre-typed
CTRL_U = "\x15"
_PODMAN_ID = re.compile(r"^--> ([0-9a-f]{11,64})\s*$", re.M)


@dataclass(frozen=True)
class PromptCase:
    """One engine's run: dbugbuild's argv (the context appended), the builder's failure line
    on the terminal, the bare container start beside it, and the removal of what a round's
    output names."""

    title: str
    ours: list[str]
    failure: str  # a regex of the builder's own failure line
    bare: list[str]
    env: Mapping[str, str]
    remove: Callable[[str], None]  # given a round's whole terminal output


def prompt_cases(
    dbugbuild: Sequence[str], podman_conf: str, remove_classic: Callable[[str], None]
) -> list[PromptCase]:
    """The classic builder's case, and Podman's when podman and its configuration are here."""
    ours = list(dbugbuild)  # run.dbugbuild_argv(): the installed script, as a user runs it
    cases = [
        PromptCase(
            "classic",
            [*ours, "--backend", "classic"],
            r"returned a non-zero code: 1",
            ["docker", "run", "--rm", "busybox:latest", "true"],
            dict(os.environ),
            remove_classic,
        )
    ]
    if shutil.which("podman") and Path(podman_conf).exists():
        env = {**os.environ, "CONTAINERS_CONF": podman_conf}
        cases.append(
            PromptCase(
                "Podman",
                [*ours, "--backend", "podman"],
                r"Error: building at STEP",
                ["podman", "run", "--rm", "busybox:latest", "true"],
                env,
                lambda text: remove_podman_layers(text, env),
            )
        )
    return cases


def remove_podman_layers(text: str, env: Mapping[str, str]) -> None:
    """Remove the layers a podman build printed (`--> id`), newest first; one still in use
    (a tag, a child another build made) stays. run.py's Podman builds use it too."""
    ids = list(dict.fromkeys(_PODMAN_ID.findall(text)))
    for image in reversed(ids):
        tags = subprocess.run(
            ["podman", "image", "inspect", "--format", "{{len .RepoTags}}", image],
            env=dict(env), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if tags.stdout.strip() != "0":  # tagged (`podman rmi ID` would untag it too), or gone
            continue
        subprocess.run(["podman", "rmi", image], env=dict(env), capture_output=True, check=False)


def _one(case: PromptCase, ctx: Path, state: str, outputs: list[str]) -> float:
    """Seconds from the failure line to the prompt; the terminal's whole output goes to
    `outputs`, whatever happens."""
    env = {**case.env, "XDG_STATE_HOME": state, "TERM": "xterm", "NO_COLOR": "1"}
    seen = io.StringIO()
    child = pexpect.spawn(
        case.ours[0], [*case.ours[1:], str(ctx)], env=env, encoding="utf-8",
        codec_errors="replace", timeout=180, dimensions=(50, 200),
    )  # fmt: skip
    child.logfile_read = seen
    try:
        child.expect(case.failure)
        failed = time.perf_counter()
        child.expect(PROMPT)
        prompt = time.perf_counter()
        child.send(CTRL_U + ":quit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        outputs.append(seen.getvalue())
    if child.exitstatus is None:
        raise RuntimeError(f"{case.title}: dbugbuild ended by signal {child.signalstatus}")
    return prompt - failed


def _bare(case: PromptCase) -> float:
    started = time.perf_counter()
    done = subprocess.run(case.bare, env=dict(case.env), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(case.bare)} failed: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - started


def bench_prompt(
    cases: Sequence[PromptCase], dockerfile: str, rounds: int, say: Callable[[str], None]
) -> list[tuple[str, float, str, float]]:
    """(title, prompt seconds, baseline's name, baseline seconds) per case: medians of
    `rounds` alternating pairs after one that warms the build cache up."""
    out: list[tuple[str, float, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="dbugbuild-bench-") as tmp:
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(dockerfile)
        state = str(Path(tmp) / "state")
        for case in cases:
            ours: list[float] = []
            bare: list[float] = []
            outputs: list[str] = []
            try:
                for i in range(rounds + 1):
                    for who in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
                        seconds = _one(case, ctx, state, outputs) if who == "ours" else _bare(case)
                        if i:
                            (ours if who == "ours" else bare).append(seconds)
            finally:
                case.remove("\n".join(outputs))
            o, b = statistics.median(ours), statistics.median(bare)
            name = " ".join(case.bare[:3])
            say(f"   {case.title}: failure line -> prompt {1000 * o:.0f} ms "
                f"(runs: {', '.join(f'{1000 * s:.0f}' for s in ours)})")  # fmt: skip
            say(f"   {case.title}: {name} {1000 * b:.0f} ms; ratio {o / b:.2f}x")
            out.append((case.title, o, name, b))
    return out


if __name__ == "__main__":  # pragma: no cover - run.py is the entry
    sys.exit("benchmarks/prompt.py: run benchmarks/run.py, which uses this module")

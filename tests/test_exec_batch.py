"""--exec as a batch, on the real daemon: Ctrl-C stops it (exit 130, the next command never
runs), in a terminal (pexpect) and without one (a CI job cancelled), on every backend; its
output streams, in memory flat in the output's size (the JSON report keeps a tail)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import note_build_output
from dbugbuild.engine import Engine
from endings import BACKEND_PARAMS, BACKENDS, PipeRun, PtyRun, docker_leftovers, podman_leftovers

pytestmark = pytest.mark.docker


@pytest.fixture
def marker() -> str:
    return f"ex-{uuid.uuid4().hex[:10]}"


def _project(tmp_path: Path, marker: str) -> Path:
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:latest\nRUN echo {marker} > /one\nRUN cat /missing-{marker}\n"
    )
    return tmp_path


def _batch(backend: str, marker: str) -> list[str]:
    return [
        *BACKENDS[backend],
        "--exec",
        f"echo first-{marker}; sleep 60",
        "--exec",
        f"echo second-{marker}",
        ".",
    ]


def _watch(request: pytest.FixtureRequest, backend: str) -> None:
    """Before the build: the engine fixture notes the daemon's images now, so that those the
    test's builds make are removed at its end (taken after the build, they were kept)."""
    if backend != "podman":
        request.getfixturevalue("engine")


def _left(request: pytest.FixtureRequest, backend: str, marker: str) -> list[str]:
    if backend == "podman":
        return podman_leftovers(marker)
    engine: Engine = request.getfixturevalue("engine")
    return docker_leftovers(engine, marker)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_ctrl_c_in_a_terminal_stops_the_batch(
    request: pytest.FixtureRequest, backend: str, marker: str, tmp_path: Path
) -> None:
    """Ctrl-C killed only the running command: the next one ran, and the exit was 0."""
    _watch(request, backend)
    run = PtyRun(_batch(backend, marker), _project(tmp_path, marker))
    run.expect(f"\r\nfirst-{marker}")
    run.send("\x03")  # the terminal's Ctrl-C: SIGINT to its foreground process group
    assert run.wait() == 130
    screen = run.log.getvalue()
    assert f"second-{marker}" not in screen
    assert "did not run" in screen
    assert _left(request, backend, marker) == []


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_sigint_without_a_terminal_stops_the_batch(
    request: pytest.FixtureRequest, backend: str, marker: str, tmp_path: Path
) -> None:
    """A cancelled CI job (SIGINT, no terminal): 130, and the JSON report says so."""
    args = ["--format", "json", *_batch(backend, marker)]
    _watch(request, backend)
    run = PipeRun(args, _project(tmp_path, marker))
    run.wait_for(f"first-{marker}")
    run.end("SIGINT")
    assert run.wait() == 130, run.output
    assert f"second-{marker}" not in run.output
    assert _left(request, backend, marker) == []


OUTPUT_MB = 20  # enough: keeping it all took 36 bytes a byte (1.81 GB for 50 MB)


def test_exec_output_streams_in_flat_memory(
    engine: Engine, no_leaks: None, marker: str, tmp_path: Path
) -> None:
    """A command printing 20 MB in short lines: every byte shown as it came, the report a
    bounded tail that says it cut, and the process's peak memory far below the output's size
    (all of it was kept, one string per log frame: 1.81 GB for 50 MB)."""
    project = _project(tmp_path, marker)
    lines = OUTPUT_MB * 1024 * 1024 // 16  # "%015d\n": 16 bytes a line
    command = f"seq -w 1 {lines} | sed 's/^/00000000/'"
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        child = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sys.stderr.buffer.write(child.stderr[-4000:])
        sys.stdout.buffer.write(child.stdout)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"PEAK_KB {peak} {len(child.stderr)} {child.returncode}", file=sys.stderr)
        """
    )
    args = ["--backend", "classic", "--format", "json", "--exec", command, "."]
    done = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "dbugbuild", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    note_build_output(done.stderr)
    peak_kb, shown, code = (int(x) for x in done.stderr.rsplit("PEAK_KB ", 1)[1].split())
    assert code == 0, done.stderr[-3000:]
    assert shown > lines * 16  # it all went to stderr, live
    result = json.loads(done.stdout)["exec"][0]
    assert result["exit_code"] == 0
    assert len(result["output"]) == 1 << 20
    assert result["output_cut"] == lines * 16 - (1 << 20)
    assert result["output"].endswith(f"{lines:015d}\n")
    print(f"--exec of {OUTPUT_MB} MB: peak {peak_kb} KiB")  # the figure, with pytest -s
    # the interpreter, docker-py and the tail: well under the output's 50 MB
    assert peak_kb < 100 * 1024, f"peak {peak_kb} KiB for {OUTPUT_MB} MB of output"

"""The benchmarks start on a fresh clone: no script there hides a standard library module."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import podman_harness
from conftest import TESTS, own_label

BENCHMARKS = TESTS.parent / "benchmarks"


def test_benchmarks_shadow_no_standard_module() -> None:
    """Run as a script, a file's folder comes first on sys.path: a `bisect.py` there hid the
    standard `bisect` from `random` (and so `tempfile`), and `make bench` crashed."""
    names = {p.stem for p in BENCHMARKS.glob("*.py")}
    assert names & set(sys.stdlib_module_names) == set()


def test_benchmarks_run_starts() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: benchmarks/run.py")


@pytest.mark.podman
def test_benchmarks_remove_the_layers_a_podman_build_printed(
    tmp_path: Path, podman_no_leaks: None
) -> None:
    """run.py's Podman build row ran `dbugbuild --backend podman --no-cache` (`podman build
    --layers`) ten times and left every step's layer in the store: it removes the `--> id`
    layers each build printed now (prompt.remove_podman_layers), as the classic rows remove
    what theirs printed."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from prompt import remove_podman_layers
    finally:
        sys.path.remove(str(BENCHMARKS))
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox\nRUN echo {own_label()} > /a\nLABEL test={own_label()}\nRUN exit 3\n"
    )
    env = {**os.environ, "CONTAINERS_CONF": podman_harness.conf()}
    built = subprocess.run(
        ["podman", "build", "--layers", "--no-cache", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = built.stdout + built.stderr
    podman_harness.note_build_output(output)
    assert built.returncode != 0, output
    printed = {i for i in podman_harness.images() if any(i.startswith(p) for p in _ids(output))}
    assert len(printed) == 2, output  # the RUN's layer and the LABEL's
    remove_podman_layers(output, env)
    assert podman_harness.images() & printed == set()


def _ids(text: str) -> list[str]:
    return [line[4:].strip() for line in text.splitlines() if line.startswith("--> ")]


@pytest.mark.docker  # run.py reaches Docker's daemon first, whatever its rows
@pytest.mark.podman
def test_benchmarks_podman_build_row_leaves_no_layer(
    podman_no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One round of run.py's Podman build row (dbugbuild, then the plain podman build, on
    the real engines) leaves no image in Podman's store: it left every step's layer of
    dbugbuild's `--layers` build before."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run

    monkeypatch.setattr(run, "PODMAN_CONF", podman_harness.conf())
    podman_only = [b for b in run._builders() if b.title == "Podman"]
    assert podman_only
    monkeypatch.setattr(run, "_builders", lambda: podman_only)
    before = podman_harness.images()
    daemon = run._connect()
    try:
        rows = run.bench_build(daemon, replace(run.QUICK, build_rounds=1))  # no warm-up
    finally:
        daemon.api.close()
    assert [r.benchmark for r in rows] == ["build, Podman"]
    assert podman_harness.images() - before == set()

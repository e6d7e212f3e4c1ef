"""The benchmarks start on a fresh clone: no script there hides a standard library module."""

from __future__ import annotations

import subprocess
import sys

from conftest import TESTS

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

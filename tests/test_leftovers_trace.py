"""engine.leftovers.StepTrace on classic build logs recorded from real engines: the step
containers a failed build still holds are the `Running in` ones the daemon did not remove,
in the wording of each engine (20.10: `Removing intermediate container`; 26: ` ---> Removed
intermediate container`). Pure: the trace reads text; nothing here talks to an engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbugbuild.engine.leftovers import StepTrace

LOGS = Path(__file__).parent / "fixtures" / "logs"
ENGINES = {"engine-20.10": LOGS, "engine-26": LOGS / "engine-26"}
_RUNNING = re.compile(r"^ ---> Running in ([0-9a-f]{12})", re.M)
_REMOVED = re.compile(r"^(?: ---> )?Remov(?:ing|ed) intermediate container ([0-9a-f]{12})", re.M)


def _cases() -> list[tuple[str, Path]]:
    found = []
    for engine, folder in ENGINES.items():
        for log in sorted(folder.glob("*.txt")):
            text = log.read_text()
            if _RUNNING.search(text) and _REMOVED.search(text):
                found.append((engine, log))
    return found


@pytest.mark.parametrize(("engine", "log"), _cases(), ids=lambda v: getattr(v, "stem", v))
def test_step_trace_keeps_only_the_containers_the_daemon_kept(engine: str, log: Path) -> None:
    text = log.read_text()
    kept = [c for c in _RUNNING.findall(text) if c not in _REMOVED.findall(text)]
    trace = StepTrace()
    for piece in re.split(r"(?<=\n)", text):  # as the CLI's lines arrive
        trace.seen(piece)
    assert trace.containers == kept
    assert len(kept) <= 1  # a failed build keeps its failing step's container at most


def test_step_trace_cases_cover_both_wordings() -> None:
    engines = {engine for engine, _ in _cases()}
    assert engines == set(ENGINES)

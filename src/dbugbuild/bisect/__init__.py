"""`dbugbuild bisect`: which step of a build changed what a check says about its image.

PURE here: the search (search.py, a function of a probe callback), the layers to probe
(layers.py), the result (result.py) and its renderings (render.py). The driver, which
builds and probes the layers on the daemon, is driver.py (imported only by app.py).
"""

from dbugbuild.bisect.layers import (
    HistoryEntry,
    Layer,
    StageError,
    StageLayers,
    build_layers,
    history_layers,
    history_step,
    positions,
    prefix_layers,
)
from dbugbuild.bisect.render import headline, render_gcc, render_json, render_text, to_dict
from dbugbuild.bisect.result import OUTPUT_LIMIT, Outcome, Probe, Result, clip, conclude
from dbugbuild.bisect.search import Search, Verdict, probe_budget, search

__all__ = [
    "OUTPUT_LIMIT",
    "HistoryEntry",
    "Layer",
    "Outcome",
    "Probe",
    "Result",
    "Search",
    "StageError",
    "StageLayers",
    "Verdict",
    "build_layers",
    "clip",
    "conclude",
    "headline",
    "history_layers",
    "history_step",
    "positions",
    "prefix_layers",
    "probe_budget",
    "render_gcc",
    "render_json",
    "render_text",
    "search",
    "to_dict",
]

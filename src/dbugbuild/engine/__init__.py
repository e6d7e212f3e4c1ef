"""I/O with container engines: the only code that imports `docker` or runs a container CLI.

It translates every SDK and CLI failure into a DbugbuildError with one actionable
sentence (failures.py), so nothing above it ever sees a docker-py exception.

Importing the package costs nothing: each name below is imported from its module when
first asked for (PEP 562), so a build's CLI starts before the engine's modules load, and
docker-py loads only when the API is first called (sdk.py).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

    from dbugbuild.engine.build import BuildCommand, OutputSink
    from dbugbuild.engine.daemon import LABEL, Engine
    from dbugbuild.engine.probe import ProbeResult
    from dbugbuild.engine.specs import ContainerSpec, Mount

_WHERE = {
    "BuildCommand": "build",
    "OutputSink": "build",
    "ContainerSpec": "specs",
    "Mount": "specs",
    "LABEL": "daemon",
    "Engine": "daemon",
    "ProbeResult": "probe",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:  # a submodule (`from dbugbuild.engine import reach`) is found as usual
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "LABEL",
    "BuildCommand",
    "ContainerSpec",
    "Engine",
    "Mount",
    "OutputSink",
    "ProbeResult",
]

"""I/O with container engines: the only code that imports `docker` or runs a container CLI.

It translates every SDK and CLI failure into a DbugbuildError with one actionable
sentence (failures.py), so nothing above it ever sees a docker-py exception.
"""

from dbugbuild.engine.build import BuildCommand, OutputSink, StreamFilter
from dbugbuild.engine.containers import ContainerSpec, Mount
from dbugbuild.engine.daemon import LABEL, Engine
from dbugbuild.engine.probe import ProbeResult

__all__ = [
    "LABEL",
    "BuildCommand",
    "ContainerSpec",
    "Engine",
    "Mount",
    "OutputSink",
    "ProbeResult",
    "StreamFilter",
]

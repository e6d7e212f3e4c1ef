"""PURE: why a build failed: (failed step, facts) -> a Diagnosis, by an ordered table of rules.

The rules, grouped by family (builder, buildkit, host, programs, binaries, packages,
files, fallback), read a `Case`; what is known beyond the log comes in as `Facts` (gather
assembles them); what a look inside the last good layer could add is asked once, through
the caller's `look` (the probe protocol: probe.py). Tables of names are data (tables.py).
Nothing here does I/O, prints, or reads the environment or the clock.
"""

from dbugbuild.diagnosis.facts import (
    ContextListing,
    Facts,
    FileHead,
    LayerFacts,
    PathInfo,
    Questions,
    gather,
    needs_context,
    secret_ids,
)
from dbugbuild.diagnosis.probe import file_head, parse_probe, probe_script
from dbugbuild.diagnosis.rules import RULES, Look, banner_text, diagnose
from dbugbuild.diagnosis.tables import CLASSES, PACKAGE_MANAGERS

__all__ = [
    "CLASSES",
    "PACKAGE_MANAGERS",
    "RULES",
    "ContextListing",
    "Facts",
    "FileHead",
    "LayerFacts",
    "Look",
    "PathInfo",
    "Questions",
    "banner_text",
    "diagnose",
    "file_head",
    "gather",
    "needs_context",
    "parse_probe",
    "probe_script",
    "secret_ids",
]

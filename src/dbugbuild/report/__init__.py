"""PURE: the build report: its model, locating the failure in the Dockerfile, every rendering.

Nothing here does I/O, prints, or reads the environment or the clock.
"""

from dbugbuild.report.locate import Diagnose, locate
from dbugbuild.report.model import (
    BUILDER,
    SCHEMA_VERSION,
    BuilderChoice,
    Diagnosis,
    ExecResult,
    FailedStep,
    Report,
    Status,
    StepReport,
)
from dbugbuild.report.places import step_matches
from dbugbuild.report.render import (
    built_with,
    headline,
    json_name,
    render_gcc,
    render_json,
    render_text,
    to_dict,
)

__all__ = [
    "BUILDER",
    "SCHEMA_VERSION",
    "BuilderChoice",
    "Diagnose",
    "Diagnosis",
    "ExecResult",
    "FailedStep",
    "Report",
    "Status",
    "StepReport",
    "built_with",
    "headline",
    "json_name",
    "locate",
    "render_gcc",
    "render_json",
    "render_text",
    "step_matches",
    "to_dict",
]

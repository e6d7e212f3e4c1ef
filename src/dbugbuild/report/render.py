"""PURE: the build report's three renderings: text (for people), json and gcc (for tools).

No I/O, no clock, no environment; the caller decides where the text goes and whether it
is coloured (style.Paint).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import Field, fields
from typing import Any

from dbugbuild.report.model import (
    SCHEMA_VERSION,
    BuilderChoice,
    Diagnosis,
    ExecResult,
    FailedStep,
    Report,
    StepReport,
)
from dbugbuild.report.style import Paint, excerpt


def to_dict(report: Report) -> dict[str, Any]:
    """The report as the JSON object `--format json` prints."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "builder": report.builder,
        "builder_choice": _plain(report.builder_choice),
    }
    for f in fields(report):
        value = getattr(report, f.name)
        if not f.metadata.get("json", True) or (value is None and f.metadata.get("omit_none")):
            continue
        out[f.name] = _plain(value)
    return out


def json_name(f: Field[Any]) -> str:
    """A field's key in the JSON report (`class_` is written `class`)."""
    return str(f.metadata.get("json_name", f.name))


def _plain(value: Any) -> Any:
    if isinstance(value, (StepReport, FailedStep, ExecResult, Diagnosis, BuilderChoice)):
        return {
            json_name(f): _plain(getattr(value, f.name))
            for f in fields(value)
            if f.metadata.get("json", True)
            and not (getattr(value, f.name) is None and f.metadata.get("omit_none"))
        }
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def render_json(report: Report, one_line: bool = False) -> str:
    """The JSON report, indented; `one_line`: on one line (`dbugbuild compose`: one report
    per line, a service each)."""
    if one_line:
        return json.dumps(to_dict(report)) + "\n"
    return json.dumps(to_dict(report), indent=2) + "\n"


# The widest output line the text report shows whole: a line can be a megabyte (a progress
# bar without newlines, a minified file): its end is shown, and how much was cut.
LINE_WIDTH = 1000


def _bounded(line: str, width: int = LINE_WIDTH) -> str:
    if len(line) <= width:
        return line
    return f"[{len(line) - width:,} characters cut] ...{line[-width:]}"


def _output_heading(step: FailedStep) -> str:
    """'output (last lines)', with how many were not shown when the parser counted them."""
    shown, printed = len(step.output_tail), step.output_lines
    if printed is None or printed <= shown:
        return "output (last lines)"
    return f"output (last {shown} of {printed:,} lines; {printed - shown:,} not shown)"


def headline(step: FailedStep) -> str:
    """One sentence for the failure: what failed, its code, and the most telling output line."""
    what = step.instruction or "the build"
    if step.exit_code is not None:
        text = f"{what} failed with exit code {step.exit_code}"
        telling = _telling_line(step.output_tail)
        return f"{text}: {telling}" if telling else text
    return step.message


def _telling_line(tail: Sequence[str]) -> str:
    for line in reversed(tail):
        if line.strip():
            return _bounded(line.strip(), 300)
    return ""


def render_gcc(report: Report) -> str:
    """Problem-matcher lines: `Dockerfile:LINE:1: error: ...` (nothing on success)."""
    step = report.failed_step
    if step is None:
        return ""
    path = report.location or report.dockerfile
    where = f"{path}:" if step.line is None else f"{path}:{step.line}:1:"
    service = f"service {report.service}: " if report.service else ""
    lines = [f"{where} error: {service}{headline(step)}"]
    diagnosis = report.diagnosis
    # The diagnosis as `note:` lines (gcc's own word for them; VS Code shows notes as info),
    # where it says more than the error line: not for the catch-all class.
    if diagnosis is not None and diagnosis.class_ != "command-failed":
        lines.append(f"{where} note: {diagnosis.class_}: {diagnosis.summary}")
        lines += [f"{where} note: hint: {hint}" for hint in diagnosis.hints]
    return "".join(line.replace("\n", " ") + "\n" for line in lines)


def built_with(report: Report) -> str | None:
    """Which builder ran and why, in one line for people (the text report, the banner)."""
    choice = report.builder_choice
    if choice is None:
        return None
    return f"{report.builder} ({choice.by}: {choice.reason})"


def _built_with(report: Report) -> list[str]:
    """The `built with:` line of a build dbugbuild ran (a saved log's says nothing new)."""
    said = built_with(report)
    by_log = report.builder_choice is not None and report.builder_choice.by == "log"
    return [f"  built with: {said}"] if said and not by_log else []


def render_text(report: Report, color: bool = False) -> str:
    """A few lines for people: the failing step, its lines with a marker, its output, the ids."""
    paint = Paint(color)
    step = report.failed_step
    if step is None:
        tags = f" ({', '.join(report.tags)})" if report.tags else ""
        lines = [f"{paint('1;32', 'dbugbuild: build succeeded')}: image {report.image}{tags}"]
        lines += [f"  service: {report.service}"] if report.service else []
        lines += _built_with(report)
        lines += [f"  note: {n}" for n in report.notes]
        return "\n".join(lines) + "\n"

    where = f"step {step.index}/{step.total}" if step.index and step.total else ""
    if step.index and not step.total:
        where = f"step {step.index}"
    lines = [
        f"{paint('1;31', 'error')}: {paint('1', headline(step))}"
        + (f"  [{where}]" if where else "")
    ]
    path = report.location or report.dockerfile
    loc = f"{path}:{step.line}" if step.line is not None else path
    stage = f"  (stage {step.stage})" if step.stage else ""
    lines.append(f"  --> {loc}{stage}")
    if report.service:
        lines.append(f"  service: {report.service}")
    if report.source_lines and step.line is not None:
        lines += excerpt(report.source_lines, step.line, paint)
    elif step.command:
        lines.append(f"    {step.instruction or ''} {step.command}".rstrip())
    if step.message != headline(step):
        lines.append(f"  {paint('2', 'builder')}: {step.message}")
    if step.output_tail:
        lines.append(f"  {paint('2', _output_heading(step))}:")
        lines += [f"    | {_bounded(line)}" for line in step.output_tail]
    if report.diagnosis is not None:
        d = report.diagnosis
        lines.append(f"  {paint('1;33', 'diagnosis')}: {d.class_}: {d.summary}")
        lines += [f"    hint: {hint}" for hint in d.hints]
        lines += [f"    {paint('2', 'evidence')}: {e}" for e in d.evidence]
    lines += _built_with(report)
    if report.last_good_image:
        lines.append(f"  last good image: {report.last_good_image}")
    if report.failed_container:
        lines.append(f"  failed container: {report.failed_container}")
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"

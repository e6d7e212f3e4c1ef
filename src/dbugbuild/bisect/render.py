"""PURE: the bisection's answer in its three renderings: text (for people), json and gcc.

The source excerpt, colour and short ids are the build report's (report.style).
"""

from __future__ import annotations

import json
from typing import Any

from dbugbuild import report as build_report
from dbugbuild.bisect.layers import Layer, positions
from dbugbuild.bisect.result import Probe, Result
from dbugbuild.report.style import Paint, excerpt, short_id

SCHEMA_VERSION = 1


def _step_dict(layer: Layer | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {
        "index": layer.index,
        "line": layer.line,
        "end_line": layer.end_line,
        "instruction": layer.instruction,
        "text": layer.text,
        "image": layer.image,
    }


def to_dict(result: Result) -> dict[str, Any]:
    """The result as the JSON object `dbugbuild bisect --format json` prints."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "bisect",
        "check": result.check,
        "until_pass": result.until_pass,
        "verdict": result.verdict,
        "first_bad_step": _step_dict(result.first_bad),
        "last_good_step": _step_dict(result.last_good),
        "probes": len(result.probes),
        "probe_log": [
            {
                "index": p.layer.index,
                "image": p.layer.image,
                "exit_code": p.exit_code,
                "output": p.output,
                "outcome": p.outcome,
                "seconds": round(p.seconds, 3),
            }
            for p in result.probes
        ],
        "layers": len(result.layers),
        "inconsistent": result.inconsistent,
        "stage": result.stage.name,
        "stage_index": result.stage.index,
        "dockerfile": result.dockerfile,
        "image": result.image,
        "probe_timeout": result.probe_timeout,
        "notes": list(result.notes),
        "exit_code": result.exit_code,
        "build": build_report.to_dict(result.build) if result.build is not None else None,
    }


def render_json(result: Result) -> str:
    return json.dumps(to_dict(result), indent=2) + "\n"


def _code(p: Probe | None) -> str:
    if p is None:
        return "not probed"
    if p.outcome == "timeout":
        return f"timed out after {p.seconds:.0f} s"
    return f"exit {p.exit_code}"


def headline(result: Result) -> str:
    """One sentence: the culprit and what it did, or why there is none."""
    check = f"`{result.check}`"
    final = result.probes[0] if result.probes else None
    asked = "passes" if result.until_pass else "fails"
    other = "fails" if result.until_pass else "passes"
    if result.verdict == "found" and result.first_bad is not None:
        did = "made it pass" if result.until_pass else "broke it"
        return (
            f"step {result.first_bad.index} {did}: {check} {other} before it and {asked} from it on"
        )
    where = f"step {final.layer.index}" if final is not None else "the final layer"
    if result.verdict == "not-shown":
        return f"no culprit: {check} {other} in the final layer ({where}, {_code(final)})"
    return (
        f"no culprit: {check} {asked} in every layer probed ({len(result.probes)} of "
        f"{len(positions(result.layers))}), the first one included; none {other}"
    )


def _hint(result: Result) -> str | None:
    if result.verdict == "not-shown":
        return (
            "it does not fail in the final layer: use --until-pass to find the step that made "
            "it pass, or check the command"
            if not result.until_pass
            else "it does not pass in the final layer: drop --until-pass to find the step "
            "that broke it, or check the command"
        )
    if result.verdict == "no-transition":
        return "check the command: its output in the final layer is below"
    return None


def _where(result: Result) -> str:
    return result.location or result.dockerfile or result.image or "image"


def render_gcc(result: Result) -> str:
    """One problem-matcher line at the culprit's line (`PATH:LINE:1: error: ...`)."""
    culprit = result.first_bad
    severity = "warning" if result.until_pass and result.verdict == "found" else "error"
    message = f"bisect: {headline(result)}"
    if culprit is not None and culprit.line is not None and result.dockerfile is not None:
        return f"{_where(result)}:{culprit.line}:1: {severity}: {message}\n"
    return f"{_where(result)}: {severity}: {message}\n"


def _output_lines(output: str, limit: int = 20) -> list[str]:
    lines = output.rstrip("\n").splitlines()
    return lines[-limit:] if lines else []


_GOOD_BAD = ("last good", "first bad")


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render_text(result: Result, color: bool = False) -> str:
    """A few lines for people: the culprit and its lines, the two layers, the probes."""
    paint = Paint(color)
    found = result.verdict == "found"
    head = paint("1;31" if found else "1;33", "bisect")
    lines = [f"{head}: {paint('1', headline(result))}"]
    hint = _hint(result)
    if hint:
        lines.append(f"  {hint}")
    culprit = result.first_bad
    if culprit is not None:
        where = _where(result)
        loc = f"{where}:{culprit.line}" if culprit.line is not None else where
        stage = f"  (stage {result.stage.label})" if result.stage.label else ""
        lines.append(f"  --> {loc}{stage}")
        if result.source_lines and culprit.line is not None:
            lines += excerpt(result.source_lines, culprit.line, paint)
        else:
            lines.append(f"    {culprit.text}")
        good = result.last_good
        before, after = ("last failing", "first passing") if result.until_pass else _GOOD_BAD
        if good is not None:
            lines.append(
                f"  {before}: step {good.index}, image {good.image} "
                f"({_code(result.probe_of(good))})"
            )
        lines.append(
            f"  {after}: step {culprit.index}, image {culprit.image} "
            f"({_code(result.probe_of(culprit))})"
        )
    shown = result.probe_of(culprit) if culprit is not None else None
    if shown is None and result.probes:
        shown = result.probes[0]  # no culprit: the final layer's output tells why
    if shown is not None:
        out = _output_lines(shown.output)
        which = "final"
        if culprit is not None:
            which = "first passing" if result.until_pass else "first bad"
        if out:
            lines.append(f"  {paint('2', f'check output at the {which} layer')}:")
            lines += [f"    | {line}" for line in out]
        else:
            lines.append(f"  {paint('2', f'check output at the {which} layer')}: (none)")
    lines.append(
        f"  probes: {len(result.probes)} of {len(result.layers)} layers"
        + (f" (stage {result.stage.label})" if result.stage.label else "")
    )
    width = max((len(str(p.layer.index)) for p in result.probes), default=1)
    for n, p in enumerate(result.probes, start=1):
        verdict = {"pass": "passes", "fail": "fails", "timeout": "times out"}[p.outcome]
        lines.append(
            f"    {n}. step {str(p.layer.index).rjust(width)}  {short_id(p.layer.image)}  "
            f"{verdict} ({_code(p)})  {_short(p.layer.text)}"
        )
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"

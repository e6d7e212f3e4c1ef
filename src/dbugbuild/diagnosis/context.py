"""PURE: a COPY/ADD source the builder could not find: missing from the build context,
excluded from it by .dockerignore, outside it, or not in the stage a `--from` copies from; in
the classic builder's, BuildKit's and Buildah's words.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Sequence

from dbugbuild.diagnosis.case import Case, Found, code, join, said
from dbugbuild.diagnosis.facts import Facts
from dbugbuild.dockerfile import Instruction, dockerignore
from dbugbuild.report import FailedStep

_COPY_FAILED = re.compile(r"^(COPY|ADD) failed: (.*)$")
# BuildKit's wordings of a source that is not there (tests/fixtures/buildkit/logs/copy-*):
# `failed to calculate checksum of ref ...: "/app.conf": not found`, and, for a path under a
# folder that is missing, `failed to walk /var/lib/docker/tmp/buildkit-mountN/config: lstat`.
_BUILDKIT_NOT_FOUND = re.compile(
    r"failed to (?:compute cache key|calculate checksum)\S*.*?"
    r"(?:\"(?P<quoted>[^\"]+)\": not found"
    r"|failed to walk \S*/buildkit-mount\d+/(?P<walked>\S+?): lstat)"
)
_STAT = re.compile(r"stat (\S+): file does not exist")
# Buildah (podman build): `building at STEP "COPY a b": checking on sources under "<context>":
# copier: stat: "/a": no such file or directory` (older: `no items matching glob "<path>"`).
_BUILDAH_COPY = re.compile(
    r'building at STEP "(COPY|ADD) [^\n]*?": checking on sources under "([^"]*)": (.*)$'
)
_BUILDAH_MISSING = re.compile(
    r'copier: stat: "/?([^"]*)": no such file or directory'
    r'|no items matching glob "([^"]*)"|no files found matching "([^"]*)"'
)
_OUTSIDE = re.compile(r"forbidden path outside the build context: (\S+)")


def _copy_sources(step: FailedStep, ins: Instruction | None) -> tuple[str, ...]:
    if ins is not None and ins.json_args:
        return tuple(ins.json_args[:-1])
    words = [w for w in (step.command or "").split() if not w.startswith("--")]
    return tuple(words[:-1])


def build_context(case: Case) -> Found | None:
    step = case.step
    if step.instruction not in ("COPY", "ADD") or case.runs_command:
        return None
    hit = case.last(_COPY_FAILED) or case.last(_BUILDAH_COPY)
    if hit is None:
        hit = _buildkit_copy_failed(case)
    if hit is None:
        return None
    found, line = hit
    buildah = found.re is _BUILDAH_COPY
    keyword, what = found.group(1), found.group(3 if buildah else 2)
    evidence = [said(line)]
    if buildah:
        evidence = [f'builder: "{line.strip()[:200]}"']
        missing = _BUILDAH_MISSING.search(what)
        if missing is None:
            return None
        source = next(g for g in missing.groups() if g is not None)
        under = found.group(2).rstrip("/") + "/"
        what = f"stat {source.removeprefix(under)}: file does not exist"  # the classic words
    facts = case.facts
    stage = _from_stage(case)
    if stage is not None:
        return _not_in_stage(case, keyword, stage, what, line)
    context = facts.context or "."
    outside = _OUTSIDE.search(what)
    if outside is not None:
        source = outside.group(1)
        return Found(
            f"{code(source)} is outside the build context ({context}): {keyword} only sees "
            "files inside it.",
            (
                f"Move the file into {context}, or build from a folder that contains both "
                "(`docker build -f path/to/Dockerfile <that folder>`) and copy it by its path "
                "there.",
            ),
            tuple(evidence),
        )
    stat = _STAT.search(what)
    sources = (stat.group(1),) if stat else _copy_sources(step, case.instruction)
    if "no source files were specified" in what:
        patterns = _copy_sources(step, case.instruction)
        return Found(
            f"No file in the build context ({context}) matches "
            f"{join([code(p) for p in patterns])}.",
            (
                f"List what the context holds with `ls -la {context}`; a wildcard that matches "
                "nothing is an error for COPY.",
                *_ignore_hints(facts, patterns, evidence),
            ),
            tuple(evidence),
        )
    hints: list[str] = []
    summary = ""
    for source in sources:
        clean = posixpath.normpath(source.lstrip("/"))
        pattern = (
            dockerignore.excluded_by(facts.dockerignore, clean)
            if facts.dockerignore is not None
            else None
        )
        if pattern is not None:
            summary = (
                f"{code(source)} is excluded from the build context by .dockerignore line "
                f"{pattern.line} ({code(pattern.text)})."
            )
            hints.append(
                f"Add the line `!{clean}` after line {pattern.line} of .dockerignore, or remove "
                f"{code(pattern.text)} if the image needs those files."
            )
            evidence.append(f".dockerignore line {pattern.line}: {code(pattern.text)}")
            break
        files = facts.context_files
        if files is not None and clean not in files:
            summary = f"There is no {code(source)} in the build context ({context})."
            close = difflib.get_close_matches(clean, files, n=2, cutoff=0.75)
            if close:
                hints.append(
                    f"Did you mean {join([code(c) for c in close])}? Fix the source on line "
                    f"{step.line}: `{keyword} {(step.command or '').replace(source, close[0], 1)}`."
                )
                evidence.append(f"context: has {join(close)}")
            hints.append(
                f"Sources are relative to the build context ({context}), not to the Dockerfile's "
                "folder."
            )
            evidence.append(f"context: no {clean}")
            break
    if not summary:
        summary = (
            f"{keyword} could not find {join([code(s) for s in sources]) or 'its source'} in "
            f"the build context ({context})."
        )
        hints.append(
            f"Check that the file is in {context} and not listed in .dockerignore; sources are "
            "relative to the build context."
        )
    return Found(summary, tuple(hints), tuple(evidence))


def _buildkit_copy_failed(case: Case) -> tuple[re.Match[str], str] | None:
    """BuildKit's COPY/ADD source failure, in the classic builder's words
    (`COPY failed: stat PATH: file does not exist`), so one rule reads both."""
    hit = case.last(_BUILDKIT_NOT_FOUND)
    if hit is None:
        return None
    path = (hit[0].group("quoted") or hit[0].group("walked") or "").lstrip("/")
    said = f"{case.step.instruction} failed: stat {path}: file does not exist"
    again = _COPY_FAILED.match(said)
    assert again is not None
    return again, hit[1]


def _from_stage(case: Case) -> str | None:
    """The stage (or image) a COPY --from copies from: not the build context."""
    ins = case.instruction
    flags = ins.flags if ins is not None else tuple((case.step.command or "").split()[:3])
    for flag in flags:
        name, _, value = flag.removeprefix("--").partition("=")
        if name.lower() == "from" and value:
            return value
    return None


def _not_in_stage(case: Case, keyword: str, stage: str, what: str, line: str) -> Found:
    stat = _STAT.search(what)
    source = stat.group(1) if stat else "the source"
    written = [s for s in _copy_sources(case.step, case.instruction) if s.lstrip("/") == source]
    source = written[0] if written else source  # as the Dockerfile has it: /out/app.bin
    return Found(
        f"{code(source)} is not in {code(stage)}: `{keyword} --from={stage}` copies from that "
        "stage's (or image's) files, not from the build context.",
        (
            f"Check where {code(stage)} writes it: build that stage alone and look "
            f"(`dbugbuild --target {stage}`, or `docker run --rm IMAGE ls -la` on its image); "
            "a relative source is relative to its root, not its WORKDIR.",
        ),
        (said(line),),
    )


def _ignore_hints(facts: Facts, sources: Sequence[str], evidence: list[str]) -> tuple[str, ...]:
    if facts.dockerignore is None:
        return ()
    hints = []
    for source in sources:
        pattern = dockerignore.excluded_by(facts.dockerignore, source)
        if pattern is not None:
            hints.append(f".dockerignore line {pattern.line} ({code(pattern.text)}) excludes it.")
            evidence.append(f".dockerignore line {pattern.line}: {code(pattern.text)}")
    return tuple(hints)

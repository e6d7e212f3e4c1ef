"""PURE: the failures only BuildKit has: a mount whose `from=` names no stage, a secret the
build was not given, a step that counts on its cache mount's contents, a platform ARG a stage
uses without declaring it.

Each reads the failing RUN's `--mount` flags (from the located instruction, else from the
step as BuildKit echoed it) and BuildKit's own wordings (recorded in
tests/fixtures/buildkit/, Engine 26.1.5 / buildx 0.13.1).
"""

from __future__ import annotations

import difflib
import re

from dbugbuild.diagnosis.case import Case, Found, code, said
from dbugbuild.dockerfile import Dockerfile, parse
from dbugbuild.report.vertices import references, unresolved_source

# Set by BuildKit from the build's platforms; empty in a stage that does not declare them.
PLATFORM_ARGS = frozenset(
    {
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    }
)  # fmt: skip
_SECRET_NOT_FOUND = re.compile(r"secret (\S+): not found")
_MISSING = re.compile(
    r"No such file or directory|not found|can't open|cannot access|can't cd|does not exist"
)
_TESTED = re.compile(r"(?:\btest|\[)\s+-[efdrsx]\s+[\"']?([^\s\"';|&)]+)")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def mounts(case: Case) -> list[dict[str, str]]:
    """The failing RUN's `--mount` flags as key=value maps (BuildKit's defaults filled in)."""
    ins = case.instruction
    flags: list[str] = list(ins.flags) if ins is not None else []
    if ins is None and case.step.instruction == "RUN":  # unmapped: the echoed text's flags
        for word in (case.step.command or "").split():
            if not word.startswith("--"):
                break
            flags.append(word)
    found = []
    for flag in flags:
        name, _, value = flag.removeprefix("--").partition("=")
        if name.lower() != "mount":
            continue
        fields = dict(
            (key.strip().lower(), val.strip())
            for key, _, val in (item.partition("=") for item in value.split(","))
        )
        fields.setdefault("type", "bind")
        for alias in ("dst", "destination"):
            if alias in fields:
                fields.setdefault("target", fields[alias])
        if fields["type"] == "secret":
            fields.setdefault("id", fields.get("target", "").rsplit("/", 1)[-1])
            fields.setdefault("target", f"/run/secrets/{fields['id']}")
        found.append(fields)
    return found


def _model(case: Case) -> Dockerfile | None:
    text = case.facts.dockerfile_text
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError:
        return None


def mount_source(case: Case) -> Found | None:
    """`--mount=...,from=NAME` or `COPY --from=NAME` where NAME is no stage of the file:
    BuildKit took it for an image and could not resolve it."""
    unresolved = unresolved_source(case.step.message)
    dockerfile = _model(case)
    if unresolved is None or dockerfile is None:
        return None
    wanted = unresolved.lower()
    for ins, name, how in references(dockerfile):
        if name.lower() != wanted:
            continue
        stages = [s.name for s in dockerfile.stages if s.name and s.index < (ins.stage or 0)]
        close = difflib.get_close_matches(wanted, stages, n=1, cutoff=0.6)
        hints = []
        if close:
            hints.append(
                f"Did you mean the stage {code(close[0])}? Write `from={close[0]}` on line "
                f"{ins.line}."
            )
        hints.append(
            f"`from=` takes a stage defined before line {ins.line} (`FROM ... AS "
            f"{name.lower()}`), an image, or a context given with `--build-context "
            f"{name.lower()}=...`."
        )
        pulled = "failed to parse stage name" not in case.step.message
        cannot = (
            "tried to pull it as an image and could not"
            if pulled
            else "took it for an image name, which it is not either"
        )
        return Found(
            f"Line {ins.line} takes files from {code(name)} ({code(how)}), which is no stage "
            f"of this Dockerfile, so BuildKit {cannot}.",
            tuple(hints),
            (
                f'builder: "{case.step.message}"',
                f"Dockerfile line {ins.line}: {code(ins.original.splitlines()[0].strip())}",
            ),
        )
    return None


def missing_secret(case: Case) -> Found | None:
    """A secret mount the build was given no `--secret` for."""
    step = case.step
    required = case.last(_SECRET_NOT_FOUND)
    secrets = [m for m in mounts(case) if m["type"] == "secret"]
    where = f" on line {step.line}" if step.line else ""
    if required is not None:
        name = required[0].group(1)
        return Found(
            f"The build was not given the secret {code(name)}, which the RUN{where} mounts "
            "with `required=true`.",
            _secret_hints(name, secrets),
            (f'builder: "{required[1]}"',),
        )
    if not case.runs_command:
        return None
    given = case.facts.secrets
    for mount in secrets:
        name, target = mount["id"], mount["target"]
        if given is not None and name not in given:
            return Found(
                f"The RUN{where} mounts the secret {code(name)} at {code(target)}, but the "
                f"build was given no `--secret id={name}`: BuildKit then leaves the file out "
                "(a secret mount is optional), and the command fails without it.",
                _secret_hints(name, secrets),
                (f"build: no --secret id={name}", *_said_about(case, target)),
            )
        told = _said_about(case, target)
        if given is None and told:
            return Found(
                f"The RUN{where} mounts the secret {code(name)} at {code(target)}, which is not "
                f"there: the build was not given `--secret id={name}`.",
                _secret_hints(name, secrets),
                told,
            )
    return None


def _said_about(case: Case, path: str) -> tuple[str, ...]:
    """The output line that says `path` is missing, as evidence (none: empty)."""
    for line in reversed(case.step.output_tail):
        if path in line and _MISSING.search(line):
            return (said(line),)
    return ()


def _secret_hints(name: str, secrets: list[dict[str, str]]) -> tuple[str, ...]:
    env = next((m.get("env") for m in secrets if m["id"] == name and m.get("env")), None)
    hints = [
        f"Pass it to the build: `--secret id={name},src=PATH` (a file), or "
        f"`--secret id={name},env=VARIABLE` (an environment variable).",
        "A secret never lands in the image or its cache: pass it to every build that runs "
        "the step, CI included.",
    ]
    if env:
        hints.insert(1, f"The mount reads it into ${env}: it is empty without the secret.")
    return tuple(hints)


def cache_mount(case: Case) -> Found | None:
    """A RUN that counts on a file in its cache mount: the cache starts empty."""
    if not case.runs_command:
        return None
    for mount in mounts(case):
        target = mount.get("target", "").rstrip("/")
        if mount["type"] != "cache" or not target:
            continue
        evidence = list(_said_about(case, target + "/"))
        inside = re.compile(re.escape(target) + r"/[^\s'\":;|&)]*")
        tested = [m.group(1) for m in _TESTED.finditer(case.step.command or "")]
        under = [p for p in tested if inside.fullmatch(p)]
        if under:
            path = under[-1]
            evidence.append(f"command: `test ... {path}`")
        elif evidence:
            shown = inside.search(evidence[0])
            path = shown.group(0) if shown else target
        else:
            continue
        where = f" on line {case.step.line}" if case.step.line else ""
        return Found(
            f"The RUN{where} counts on {code(path)} in its cache mount at {code(target)}, but a "
            "cache mount starts empty (a new builder, after `docker builder prune`, another CI "
            "machine) and is never part of the image.",
            (
                f"Make the step work with an empty cache: create or fetch {code(path)} when it "
                "is missing; the cache only saves time.",
                f"What the image needs must be written outside {code(target)}: files in a cache "
                "mount are not in the image, nor in a later stage.",
            ),
            (f"Dockerfile: `--mount=type=cache,target={target}`", *evidence),
        )
    return None


def platform_arg(case: Case) -> Found | None:
    """A RUN that uses $TARGETARCH (or another platform ARG) that its stage never declares."""
    step = case.step
    ins = case.instruction
    if not case.runs_command or ins is None or ins.keyword != "RUN":
        return None
    used = [v for v in _VARIABLE.findall(ins.args) if v in PLATFORM_ARGS]
    if not used:
        return None
    declared = set()
    for other in case.stage_before():
        if other.keyword in ("ARG", "ENV"):
            declared |= {w.split("=", 1)[0] for w in other.args.split()}
    missing = [v for v in dict.fromkeys(used) if v not in declared]
    if not missing:
        if case.facts.builder == "classic":
            name = used[0]
            return Found(
                f"{code('$' + name)} is empty: the classic builder does not set the platform "
                "ARGs, even where `ARG` declares them.",
                ("Build with BuildKit (`--backend buildkit`), which sets them.",),
                (f"Dockerfile line {step.line}: uses ${name}",),
            )
        return None
    name = missing[0]
    return Found(
        f"{code('$' + name)} is empty on line {step.line}: BuildKit sets it only in a stage "
        f"that declares `ARG {name}`, and this one does not.",
        (
            f"Add `ARG {name}` to the stage, before line {step.line} (after its FROM): the "
            "platform ARGs are global, and each stage must declare the ones it uses.",
        ),
        (f"Dockerfile line {step.line}: uses ${name}", f"stage: no `ARG {name}`"),
    )

"""PURE: the ordered table of rules, and the one way to ask them: diagnose.

The first rule of RULES that matches wins; the last, command-failed, matches anything,
so every failure gets exactly one of tables.CLASSES. Each family's module says beside
its rules what a look inside the last good layer could tell them (its `asks`); diagnose
asks for all of it at once, through the caller's `look`, only when something is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dbugbuild.diagnosis import (
    binaries,
    builder,
    buildkit,
    context,
    fallback,
    files,
    host,
    packages,
    programs,
)
from dbugbuild.diagnosis.case import Asker, Case, Rule
from dbugbuild.diagnosis.facts import Facts, LayerFacts, Questions
from dbugbuild.report import Diagnosis, FailedStep

RULES: tuple[tuple[str, Rule], ...] = (
    ("dockerfile-syntax", builder.dockerfile_syntax),
    ("base-image", builder.base_image),
    ("build-context", context.build_context),
    ("mount-source", buildkit.mount_source),
    ("missing-secret", buildkit.missing_secret),
    ("cache-mount", buildkit.cache_mount),
    ("platform-arg", buildkit.platform_arg),
    ("disk-full", host.disk_full),
    ("line-endings", binaries.line_endings),
    ("exec-format", binaries.exec_format),
    ("network", host.network),
    ("package-manager-misuse", packages.package_manager_misuse),
    ("package-not-found", packages.package_not_found),
    ("permission-denied", files.permission_denied),
    ("command-not-found", programs.command_not_found),
    ("missing-file", files.missing_file),
    ("command-failed", fallback.command_failed),
)

# What each family would look up in the layer, merged in this order (the probe's order).
ASKERS: tuple[Asker, ...] = (programs.asks, binaries.asks, files.asks, packages.asks)

# Looks inside the last good layer for what is asked; None when it cannot (no daemon,
# no such image, no shell in the layer).
Look = Callable[[Questions], LayerFacts | None]


def _questions(case: Case) -> Questions:
    """The lookups in the last good layer that could change this case's diagnosis."""
    asked = [ask(case) for ask in ASKERS]
    return Questions(
        commands=_unique(c for q in asked for c in q.commands),
        paths=_unique(p for q in asked for p in q.paths),
        names=_unique(n for q in asked for n in q.names if n),
        probe=any(q.probe for q in asked),
    )


def diagnose(step: FailedStep, facts: Facts, look: Look | None = None) -> Diagnosis:
    """The diagnosis of a failed step: the first rule of RULES that matches it.

    `look` is called at most once, with everything the rules could use from the last
    good layer, and only when that is something; its answer becomes `facts.layer`.
    """
    case = Case.of(step, facts)
    if look is not None:
        asked = _questions(case)
        if asked.layer:
            case = case.with_layer(look(asked))
    for name, rule in RULES:
        found = rule(case)
        if found is not None:
            return Diagnosis(name, found.summary, found.hints, found.evidence)
    raise AssertionError("command-failed matches every failure")  # pragma: no cover


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def banner_text(diagnosis: Diagnosis) -> str:
    """The diagnosis for the session banner: the class and summary, then the first hint."""
    text = f"{diagnosis.class_}: {diagnosis.summary}"
    if diagnosis.hints:
        text += f"\n    hint: {diagnosis.hints[0]}"
    return text

"""PURE: package managers: a package that is not there (package-not-found), a package manager
used wrongly (package-manager-misuse).
"""

from __future__ import annotations

import difflib
import re

from dbugbuild.diagnosis.case import Case, Found, code, join, said
from dbugbuild.diagnosis.facts import Questions
from dbugbuild.diagnosis.tables import APT_OPERATIONS, APT_OPTIONS


def _apt_error(pattern: str) -> re.Pattern[str]:
    """apt-get's `E: MESSAGE`, also with the message at a line's start: apt writes `E: ` and
    the message separately to its unbuffered stderr, and its buffered stdout's newline can
    come between them (`Building dependency tree...E: ` and then the message alone)."""
    return re.compile(r"(?:^|E: )" + pattern)


_APT_INVALID_OPERATION = _apt_error(r"Invalid operation (\S+)")
_APT_BAD_OPTION = _apt_error(
    r"Command line option '?(?P<opt>[^'\s]+)'? (?:\[from (?P<from>\S+)\] )?is not understood"
)
_APT_ABORT = re.compile(r"Do you want to continue\? \[Y/n\] Abort\.")
_PIP_UNKNOWN = re.compile(r'ERROR: unknown command "([^"]+)"|no such option: (\S+)')


def package_manager_misuse(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    step = case.step
    hit = case.last(_APT_INVALID_OPERATION)
    if hit is not None:
        found, line = hit
        op = found.group(1)
        close = difflib.get_close_matches(op, APT_OPERATIONS, n=1, cutoff=0.5)
        hints = []
        if op.startswith("update") or op.startswith("upgrade"):
            hints.append(
                "To refresh the package lists and upgrade: `apt-get update && apt-get -y upgrade`."
            )
        elif close:
            hints.append(f"Did you mean `apt-get {close[0]}`?")
        hints.append(
            "apt-get's first word is an operation: install, remove, update, upgrade, ... "
            "(`apt-get --help` lists them)."
        )
        return Found(f"apt-get has no operation {code(op)}.", tuple(hints), (said(line),))
    hit = case.last(_APT_BAD_OPTION)
    if hit is not None:
        found, line = hit
        opt = found.group("opt")
        close = difflib.get_close_matches(opt, APT_OPTIONS, n=1, cutoff=0.7)
        hints = []
        if close:
            fixed = (step.command or "").replace(opt, close[0])
            hints.append(f"Did you mean {code(close[0])}? `RUN {fixed}`.")
        hints.append("`apt-get --help` and `man apt-get` list the options apt-get understands.")
        return Found(
            f"apt-get does not understand the option {code(opt)}.", tuple(hints), (said(line),)
        )
    hit = case.last(_APT_ABORT)
    if hit is not None:
        return Found(
            "apt-get asked for confirmation and, with no one to answer in a build, aborted.",
            (
                "Add -y: `apt-get install -y --no-install-recommends ...` (a build has no "
                "terminal to answer prompts).",
            ),
            (said(hit[1]),),
        )
    hit = case.last(_PIP_UNKNOWN)
    if hit is not None:
        word = hit[0].group(1) or hit[0].group(2)
        return Found(
            f"pip does not know {code(word)}.",
            ("`pip help` lists its commands and options; install with `pip install PACKAGE`.",),
            (said(hit[1]),),
        )
    return None


_APT_UNABLE = _apt_error(r"Unable to locate package (\S+)")
_APT_NO_CANDIDATE = _apt_error(r"Package '([^']+)' has no installation candidate")
_APT_GLOB = _apt_error(r"Couldn't find any package by (?:glob|regex) '([^']+)'")
_APT_REPLACED = re.compile(r"However the following packages replace it:")
# apk-tools: "ERROR: unable to select packages:" then "  NAME (no such package):" lines
# (newer versions put the first on the same line).
_APK = re.compile(r"(?:^|\s)([^\s:]+) \(no such package\)")
_PIP = re.compile(r"No matching distribution found for (\S+)")
_NPM = re.compile(
    r"404 Not Found - GET \S+/(\S+?)(?: - |$)|'(\S+?)@\S*' is not in (?:the|this) registry"
)
_DNF = re.compile(
    r"No match for argument: (\S+)|Unable to find a match: (\S+)|No package (\S+) available"
)


def package_not_found(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    command = case.step.command or ""
    for pattern in (_APT_UNABLE, _APT_NO_CANDIDATE, _APT_GLOB):
        hit = case.last(pattern)
        if hit is not None:
            return _apt_package(case, hit[0].group(1), hit[1], command)
    for pattern, manager, look in (
        (_APK, "apk", "https://pkgs.alpinelinux.org/packages"),
        (_PIP, "pip", "https://pypi.org"),
        (_NPM, "npm", "https://www.npmjs.com"),
        (_DNF, "dnf", "`dnf search NAME`"),
    ):
        hit = case.last(pattern)
        if hit is not None:
            name = next(g for g in hit[0].groups() if g)
            return Found(
                f"{manager} cannot find a package named {code(name)}.",
                (f"Check the name and version of {code(name)} ({look}).",),
                (said(hit[1]),),
            )
    return None


def _apt_package(case: Case, name: str, line: str, command: str) -> Found:
    evidence = [said(line)]
    hints: list[str] = []
    layer = case.layer
    updated = re.search(r"apt(?:-get)? update", command) is not None
    no_lists = layer is not None and layer.apt_lists == 0
    if layer is not None and layer.apt_lists is not None and not updated:
        evidence.append(f"layer: {layer.apt_lists} package list(s) in /var/lib/apt/lists")
    if not updated and (no_lists or layer is None):
        summary = (
            f"apt-get cannot find {code(name)} because this layer has no package lists: "
            "no `apt-get update` ran before it."
            if no_lists
            else f"apt-get cannot find {code(name)}, and this RUN does not run "
            "`apt-get update` first."
        )
        hints.append(
            f"Update the lists in the same RUN: `RUN apt-get update && apt-get install -y "
            f"--no-install-recommends {name}` (images ship without lists; a separate RUN's "
            "lists go stale in the cache)."
        )
        return Found(summary, tuple(hints), tuple(evidence))
    replaced = case.first(_APT_REPLACED)
    if replaced is not None:
        index = case.lines.index(replaced[1])
        if index + 1 < len(case.lines):
            instead = case.lines[index + 1].split()
            if instead:
                evidence.append(said(replaced[1]))
                evidence.append(said(case.lines[index + 1]))
                hints.append(
                    f"{code(name)} is gone from this release; it is replaced by "
                    f"{join([code(p) for p in instead])}: install one of those instead."
                )
    hints.append(
        f"Check the name for this release: `apt-cache search {name}` in the session, or "
        "https://packages.debian.org (Ubuntu: https://packages.ubuntu.com)."
    )
    return Found(
        f"apt-get cannot find a package named {code(name)} in this image's package lists.",
        tuple(hints),
        tuple(evidence),
    )


def asks(case: Case) -> Questions:
    """apt-get found no package: the layer's package lists decide why (none, or stale)."""
    if not case.runs_command:
        return Questions()
    return Questions(probe=(case.last(_APT_UNABLE) or case.last(_APT_NO_CANDIDATE)) is not None)

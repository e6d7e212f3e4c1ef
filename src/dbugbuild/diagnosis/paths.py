"""PURE: paths inside a layer, as a step sees them: from its WORKDIR, with their parent folders."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable


def absolute(path: str, workdir: str) -> str:
    """`path` as the step's process sees it: relative paths start at WORKDIR."""
    return posixpath.normpath(posixpath.join(workdir or "/", path))


def parents(path: str) -> tuple[str, ...]:
    """The folders above an absolute path, nearest first, `/` last."""
    out = []
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        out.append(path)
    return tuple(out)


def with_parents(paths: Iterable[str]) -> list[str]:
    """Each absolute path, then its parent folders, each once, in that order."""
    out: list[str] = []
    for path in paths:
        for each in (path, *parents(path)):
            if each in out:
                break
            out.append(each)
    return out

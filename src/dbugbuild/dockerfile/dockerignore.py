"""Which `.dockerignore` pattern keeps a path out of the build context. PURE.

Reads the file's text as the docker CLI does (moby/patternmatcher `ignorefile.ReadAll`)
and matches as the CLI does when it tars the context (`MatchesOrParentMatches`: a path
is excluded when it or one of its parent folders matches, the last matching pattern
wins, and a `!` pattern re-includes). Never reads the file itself: the text comes in.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from dbugbuild.dockerfile.lines import lines

__all__ = ["Pattern", "excluded_by", "patterns"]


@dataclass(frozen=True)
class Pattern:
    """One pattern of a .dockerignore file, as the CLI cleaned it, and where it was written."""

    line: int  # 1-based line in .dockerignore
    text: str  # the line as written (stripped)
    cleaned: str  # the pattern as matched (cleaned, without `!` and a leading `/`)
    exclusion: bool  # a `!pattern`: re-includes what earlier patterns excluded


def patterns(text: str) -> tuple[Pattern, ...]:
    """The patterns of a .dockerignore text: comments and blank lines skipped, paths cleaned."""
    out: list[Pattern] = []
    # The CLI reads it with a bufio.Scanner: lines end at "\n" only, as the Dockerfile's do.
    for number, raw in enumerate(lines(text), 1):
        if number == 1:
            raw = raw.removeprefix("\ufeff")
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        body = pattern[1:].strip() if invert else pattern
        if body:
            body = posixpath.normpath(body)
            if len(body) > 1 and body.startswith("/"):
                body = body.lstrip("/") or "/"
        if invert and not body:
            continue  # "!" alone: the CLI refuses the file; nothing we can match
        out.append(Pattern(number, pattern, body, invert))
    return tuple(out)


def _regex(pattern: str) -> re.Pattern[str] | None:
    """patternmatcher's translation of a pattern into a regular expression (Unix separators)."""
    out = "^"
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1  # `**/` is `**`
                out += ".*" if i >= n else "(.*/)?"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in ".+()|{}$^":
            out += "\\" + ch
        elif ch == "\\":
            if i + 1 < n:
                i += 1
                out += re.escape(pattern[i])
            else:
                out += "\\\\"
        else:
            out += ch  # `[`/`]` character classes pass through, as in patternmatcher
        i += 1
    try:
        return re.compile(out + "$", re.DOTALL)
    except re.error:
        return None  # a malformed class: the CLI would refuse the file


def _matcher(cleaned: str) -> re.Pattern[str] | None:
    suffix = cleaned[2:]
    if cleaned.startswith("**") and suffix and not any(c in suffix for c in "*?[]\\"):
        # patternmatcher's suffixMatch: `**foo` is "ends with foo" (also "barfoo"), and
        # `**/foo` also matches a top-level `foo`.
        tail = re.escape(suffix)
        return re.compile(
            f"^(?:.*{tail}|{re.escape(suffix[1:])})$" if suffix[0] == "/" else f"^.*{tail}$",
            re.DOTALL,
        )
    return _regex(cleaned)


def _matches(pattern: Pattern, path: str) -> bool:
    regex = _matcher(pattern.cleaned)
    if regex is None:
        return False
    if regex.match(path):
        return True
    parts = path.split("/")[:-1]
    return any(regex.match("/".join(parts[: i + 1])) for i in range(len(parts)))


def excluded_by(text: str, path: str) -> Pattern | None:
    """The pattern that excludes `path` (relative to the context) from it, or None if it is sent.

    The path is cleaned as a COPY source is (`./a/../b` is `b`, a leading `/` is dropped).
    """
    path = posixpath.normpath(path.lstrip("/") or ".")
    if path in (".", ""):
        return None  # the CLI never excludes the whole context
    culprit: Pattern | None = None
    for pattern in patterns(text):
        excluded = culprit is not None
        # As patternmatcher: an inclusion that already matched, or an exclusion with nothing
        # to re-include, cannot change the outcome.
        if pattern.exclusion != excluded:
            continue
        if _matches(pattern, path):
            culprit = None if pattern.exclusion else pattern
    return culprit

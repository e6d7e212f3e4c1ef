"""PURE: a Dockerfile's variables: the names an ARG declares, and `$NAME` / `${NAME...}` expanded
in a word as BuildKit's shell lexer does (moby/buildkit frontend/dockerfile/shell/lex.go).

Must not do I/O, print, or read the environment or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME = _NAME_START + "0123456789"


def arg_declarations(args: str) -> tuple[tuple[str, str | None], ...]:
    """(name, default or None) for each variable an `ARG` declares (BuildKit takes several:
    `ARG A=1 B`), the default unquoted."""
    out: list[tuple[str, str | None]] = []
    for word in _words(args):
        name, eq, default = word.partition("=")
        out.append((name, default if eq else None))
    return tuple(out)


def _words(text: str) -> list[str]:
    """Whitespace-separated words, quotes kept together and removed (ARG's own splitting)."""
    words: list[str] = []
    chars: list[str] = []
    quote = ""
    started = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in '"\\':
                i += 1
                chars.append(text[i])
            else:
                chars.append(ch)
        elif ch in "'\"":
            quote, started = ch, True
        elif ch.isspace():
            if started:
                words.append("".join(chars))
                chars, started = [], False
        else:
            chars.append(ch)
            started = True
        i += 1
    if started:
        words.append("".join(chars))
    return words


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """`word` with its variables substituted from `env` (a name absent from `env` is unset):
    `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`;
    single quotes keep their text, double quotes expand it; the escape char makes the next
    character literal. Quotes are removed, as BuildKit does for a word."""
    out: list[str] = []
    i, n = 0, len(word)
    quote = ""
    while i < n:
        ch = word[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                out.append(ch)
            i += 1
        elif ch == escape and i + 1 < n:
            out.append(word[i + 1])
            i += 2
        elif ch in "'\"" and (not quote or ch == quote):
            quote = "" if quote else ch
            i += 1
        elif ch == "$":
            text, i = _variable(word, i, env, escape)
            out.append(text)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _variable(word: str, at: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """The expansion of the `$...` at `at`, and the index after it."""
    n = len(word)
    i = at + 1
    if i < n and word[i] == "{":
        close = _closing_brace(word, i + 1)
        if close < 0:
            return word[at:], n  # BuildKit: "missing '}'"; kept as written here
        inner = word[i + 1 : close]
        j = 0
        while j < len(inner) and inner[j] in _NAME:
            j += 1
        name, rest = inner[:j], inner[j:]
        value = env.get(name)
        if not rest:
            return value or "", close + 1
        colon = rest.startswith(":")
        op, alt = (rest[1:2], rest[2:]) if colon else (rest[:1], rest[1:])
        present = value is not None and (value != "" or not colon)
        if op == "-":
            return (value or "") if present else expand(alt, env, escape), close + 1
        if op == "+":
            return expand(alt, env, escape) if present else "", close + 1
        return value or "", close + 1  # other modifiers (?, #, %): the value itself
    if i < n and word[i] in _NAME_START:
        j = i
        while j < n and word[j] in _NAME:
            j += 1
        return env.get(word[i:j]) or "", j
    return "$", i


def _closing_brace(word: str, start: int) -> int:
    depth = 1
    for k in range(start, len(word)):
        if word[k] == "{":
            depth += 1
        elif word[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1

"""PURE: what one line of a Dockerfile is, for the whole program: the reference parser's lines.

BuildKit's parser (frontend/dockerfile/parser/parser.go, scanLines: bufio.ScanLines that keeps
the line endings) ends a line at "\\n" and nowhere else. A lone "\\r", form feed, vertical tab,
\\x1c-\\x1e, \\x85, U+2028 and U+2029, where `str.splitlines` also breaks, are characters inside
a line (recorded on Engine 26: tests/fixtures/parser-engine26/lone_cr, line_separators).
The parser, locate, the report's excerpt, the diagnosis, rewrite and write-back count lines
with these functions only, so a line number means the same line everywhere.
"""

from __future__ import annotations

# Go's unicode.IsSpace, which the parser trims lines with and shell.Lex splits words at
# (Python's str.isspace differs: it also counts \x1c-\x1f).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def lines(text: str, *, keepends: bool = False) -> list[str]:
    """The lines of `text` as the builder counts them; without their endings unless `keepends`.

    A line's ending is its "\\n" and every "\\r" before it (parser.go: trimNewline), so a
    CRLF file's lines come out as an LF file's would. A final line without "\\n" is a line;
    the empty text after a final "\\n" is not.
    """
    pieces = text.split("\n")
    raw = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        raw.append(pieces[-1])
    if keepends:
        return raw
    return [line.rstrip("\r\n") for line in raw]


def line_count(text: str) -> int:
    """How many lines `text` has, as `lines` counts them."""
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)

"""PURE: Dockerfile text -> stages and instructions with line spans, as the builder reads it.

Follows the parser both of Engine 26's builders use (moby/buildkit frontend/dockerfile/parser,
which moby vendors for the classic builder too): lines end at "\n" only (dockerfile.lines),
a line ending in an escaped escape char does not continue, a JSON array followed by more
text is exec form, heredocs in RUN/COPY/ADD (dockerfile.heredoc). Where a behaviour was
surprising it was checked on the daemon: tests/fixtures/parser-engine26 (both builders).
Must not do I/O, print, or read the environment or the clock.

Heredocs on Engine 26.1.5, recorded there (heredoc_*): both builders read `RUN <<EOT` ...
`EOT` alike (the body is no instruction; `Step 2/3 : RUN <<EOT`, the body not counted). Then
BuildKit runs the body as the script (`process "/bin/sh -c echo body-ran\nexit 3\n"`), or
for `RUN cat <<EOT > /x && sh /x` the line, body and name through the shell, while the
classic builder drops the body and runs the line alone: `/bin/sh -c <<EOT` (its image
history), which runs nothing and succeeds. dockerfile.heredoc has the details.
A JSON array followed by text (`RUN ["sh","-c","exit 3"] # note`) runs `sh -c exit 3` on both
(json_then_text: "The command 'sh -c exit 3' returned a non-zero code: 3").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbugbuild.dockerfile import heredoc
from dbugbuild.dockerfile.lines import GO_SPACE, lines
from dbugbuild.dockerfile.model import (
    KEYWORDS,
    Dockerfile,
    DockerfileSyntaxError,
    Heredoc,
    Instruction,
    Stage,
    leading_json_array,
)

# Keywords whose arguments may be a JSON array (parser.go's dispatch table: parseMaybeJSON and
# parseMaybeJSONToList). HEALTHCHECK takes one after its type word, see _json_args.
_JSON_KEYWORDS = frozenset({"ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"})

# parser.go: tokenWhitespace / reWhitespace, which split the keyword and FROM's words.
_TOKEN_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
# parser.go: reDirectives; Go's \s is ASCII [\t\n\f\r ] and its $ is the end of the text.
_DIRECTIVE = re.compile(
    r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z"
)
_VALID_DIRECTIVES = frozenset({"escape", "syntax"})
# instructions/parse.go: validStageName, checked on the lower-cased name.
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")
_BOM = "\ufeff"

_NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


@dataclass(frozen=True)
class _Node:
    """One logical line, as parser.Parse hands it to the instructions package."""

    keyword: str  # lower-case, maybe unknown
    args: str
    flags: tuple[str, ...]
    line: int
    end_line: int
    original: str
    json_args: tuple[str, ...] | None
    code: str
    heredocs: tuple[Heredoc, ...] = ()


def _is_go_space(ch: str) -> bool:
    return ch in GO_SPACE


def _trim_left(s: str) -> str:
    return s.lstrip(GO_SPACE)


def _trim(s: str) -> str:
    return s.strip(GO_SPACE)


def _split_flags(rest: str) -> tuple[str, tuple[str, ...]]:
    """Leading `--flag` words and the remaining text (split_command.go: extractBuilderFlags)."""
    # The Engine 20.10 version: a flag's value must be joined with "=" ("--from build" leaves the
    # flag empty, the daemon says "Missing a value on flag: from"); a bare "--" ends the flags.
    words: list[str] = []
    pos, end = 0, len(rest)
    while True:
        while pos < end and _is_go_space(rest[pos]):
            pos += 1
        if pos == end:
            return "", tuple(words)
        if not rest.startswith("--", pos):
            return rest[pos:], tuple(words)
        chars: list[str] = []
        quote = ""
        blank_ok = False
        while pos < end:
            ch = rest[pos]
            if not quote and _is_go_space(ch):
                break
            pos += 1
            if not quote and ch in "'\"":
                quote, blank_ok = ch, True
                continue
            if quote and ch == quote:
                quote = ""
                continue
            if ch == "\\":  # always a backslash here, whatever the escape directive says
                if pos == end:
                    quote = ""
                    continue
                ch = rest[pos]
                pos += 1
            chars.append(ch)
        word = "".join(chars)
        if word == "--":
            return (rest[pos:] if pos < end else ""), tuple(words)
        if blank_ok or word:
            words.append(word)


def _parse_json_array(rest: str, line: int) -> tuple[str, ...] | None:
    """The JSON array of strings in `rest`, or None for shell form (line_parsers.go: parseJSON)."""
    # Invalid JSON such as `["a", ]` is shell form, as in the builder; text after a valid
    # array is ignored (`[]x` is an empty exec form: the classic builder runs nothing).
    decoded = leading_json_array(_trim_left(rest))
    if decoded is None:
        return None
    if not all(isinstance(item, str) for item in decoded[0]):
        raise DockerfileSyntaxError(_NOT_STRINGS, line)
    return tuple(str(item) for item in decoded[0])


def _json_args(keyword: str, args: str, line: int) -> tuple[str, ...] | None:
    """The exec-form arguments of a logical line whose lower-case keyword is `keyword`."""
    if keyword.upper() in _JSON_KEYWORDS:
        return _parse_json_array(args, line) if args else None
    if keyword == "healthcheck":
        # line_parsers.go: parseHealthConfig: a type word (CMD/NONE), then maybe JSON.
        cut = next((i for i, ch in enumerate(args) if _is_go_space(ch)), len(args))
        rest = _trim_left(args[cut:])
        return _parse_json_array(rest, line) if rest else None
    if keyword == "onbuild" and args:
        # The trigger is parsed as a line of its own; a JSON error in it fails the whole file.
        trigger, _, trigger_args = _split_command(args)
        _json_args(trigger, trigger_args, line)
    return None


def _split_command(logical: str) -> tuple[str, tuple[str, ...], str]:
    """(lower-case keyword, flags, args) of a logical line (split_command.go: splitCommand)."""
    parts = _TOKEN_WHITESPACE.split(_trim(logical), maxsplit=1)
    keyword = parts[0].lower()
    if len(parts) < 2:
        return keyword, (), ""
    rest, flags = _split_flags(parts[1])
    return keyword, flags, _trim(rest)


class _Directives:
    """Parser directives at the top of the file (parser.go: directives)."""

    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.seen: set[str] = set()
        self.continuation = self._continuation_regex()

    def _continuation_regex(self) -> re.Pattern[str]:
        # parser.go: setEscapeToken. An escape char at the end continues the line unless another
        # escape char precedes it: `RUN echo C:\\tools\\` ends there (and so, the reference's
        # regex being what it is, does `a\\\`: parser-engine26/escaped_escape_three).
        e = re.escape(self.escape)
        return re.compile(rf"(?:(?<=[^{e}])|\A){e}[ \t]*\Z")

    def consider(self, token: str, line: int) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(token)
        if match is None or match.group(1).lower() not in _VALID_DIRECTIVES:
            # The first line that is not a known directive (a blank line included) ends them.
            self.done = True
            return
        name, value = match.group(1).lower(), match.group(2)
        if name in self.seen:
            raise DockerfileSyntaxError(f"only one {name} parser directive can be used", line)
        self.seen.add(name)
        if name == "escape":
            if value not in ("`", "\\"):
                raise DockerfileSyntaxError(
                    f"invalid escape token '{value}' does not match ` or \\", line
                )
            self.escape = value
            self.continuation = self._continuation_regex()

    def strip_continuation(self, line: str) -> tuple[str, bool]:
        """The line without its trailing escape char, and whether the instruction continues."""
        stripped, count = self.continuation.subn("", line)
        return stripped, count > 0


def _is_comment(content: str) -> bool:
    return _trim_left(content).startswith("#")


def _opens_heredocs(keyword: str, args: str, json_args: tuple[str, ...] | None) -> bool:
    """Whether a line may open heredocs (parser.go: canContainHeredoc): a shell-form RUN, COPY
    or ADD, also as an ONBUILD trigger."""
    if keyword == "onbuild" and args:
        keyword, _, args = _split_command(args)
        json_args = _json_args(keyword, args, 0) if keyword.upper() in KEYWORDS else None
    return keyword.upper() in heredoc.HEREDOC_KEYWORDS and json_args is None


def _nodes(text: str) -> tuple[list[_Node], str]:
    """Logical lines and the escape char, as parser.Parse produces them."""
    raws = lines(text, keepends=True)
    contents = [raw.rstrip("\r\n") for raw in raws]  # parser.go: trimNewline
    if contents:
        contents[0] = contents[0].removeprefix(_BOM)
    directives = _Directives()
    nodes: list[_Node] = []
    i = 0
    while i < len(raws):
        start = i + 1
        token = _trim_left(contents[i])
        directives.consider(token, start)
        if token.startswith("#"):
            i += 1
            continue
        logical, continues = directives.strip_continuation(token)
        if not continues and not logical:
            i += 1
            continue
        last = start
        while continues and i + 1 < len(raws):
            i += 1
            content = contents[i]
            # Comment lines and blank lines inside a continuation are dropped and do not end it
            # (the daemon warns "Empty continuation line found in: ..." for the blank ones).
            if _is_comment(content) or not _trim_left(content):
                continue
            part, continues = directives.strip_continuation(content)
            logical += part
            last = i + 1
        i += 1
        keyword, flags, args = _split_command(logical)
        json_args = _json_args(keyword, args, start) if keyword.upper() in KEYWORDS else None
        docs: tuple[Heredoc, ...] = ()
        if _opens_heredocs(keyword, args, json_args):
            opened = heredoc.markers(logical)
            if opened:
                # The bodies follow the logical line's last line, whatever came in between.
                docs, last = heredoc.read_bodies(raws, i, opened, start)
                i = last
        nodes.append(
            _Node(
                keyword=keyword,
                args=args,
                flags=flags,
                line=start,
                end_line=last,
                original="".join(raws[start - 1 : last]),
                json_args=json_args,
                code=_trim(logical),
                heredocs=docs,
            )
        )
    if not nodes:
        if not text:
            # The daemon refuses a zero-byte Dockerfile before parsing it.
            raise DockerfileSyntaxError("the Dockerfile cannot be empty", 1)
        raise DockerfileSyntaxError("file with no instructions", max(len(raws), 1))
    return nodes, directives.escape


def _check(node: _Node) -> str | None:
    """The stage name a FROM declares; raises what instructions.ParseInstruction would."""
    keyword = node.keyword.upper()
    if keyword not in KEYWORDS:
        # A lone escape char on the last line makes an instruction with no keyword at all; the
        # daemon then says "unknown instruction:" (recorded: err_lone_escape_at_eof).
        raise DockerfileSyntaxError(f"unknown instruction: {keyword}".rstrip(), node.line)
    if keyword == "FROM":
        words = _TOKEN_WHITESPACE.split(node.args) if node.args else []
        if len(words) == 3 and words[1].lower() == "as":
            name = words[2].lower()
            if not _STAGE_NAME.fullmatch(name):
                raise DockerfileSyntaxError(
                    f'invalid name for build stage: "{words[2]}", '
                    "name can't start with a number or contain symbols",
                    node.line,
                )
            return name
        if len(words) != 1:
            raise DockerfileSyntaxError("FROM requires either one or three arguments", node.line)
    if keyword == "ONBUILD":
        if not node.args:
            raise DockerfileSyntaxError("ONBUILD requires at least one argument", node.line)
        trigger = _split_command(node.args)[0].upper()
        if trigger == "ONBUILD":
            raise DockerfileSyntaxError(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", node.line
            )
        if trigger in ("MAINTAINER", "FROM"):
            raise DockerfileSyntaxError(f"{trigger} isn't allowed as an ONBUILD trigger", node.line)
    return None


def _instruction(node: _Node, stage: int | None) -> Instruction:
    return Instruction(
        keyword=node.keyword.upper(),
        args=node.args,
        flags=node.flags,
        line=node.line,
        end_line=node.end_line,
        stage=stage,
        original=node.original,
        json_args=node.json_args,
        code=node.code,
        heredocs=node.heredocs,
    )


def parse(text: str) -> Dockerfile:
    """Parse Dockerfile text; DockerfileSyntaxError where the classic builder would refuse it."""
    nodes, escape = _nodes(text)
    meta_args: list[Instruction] = []
    heads: list[tuple[Instruction, str | None]] = []  # each stage's FROM and name
    bodies: list[list[Instruction]] = []
    for node in nodes:
        name = _check(node)
        if node.keyword == "from":
            instruction = _instruction(node, len(heads))
            heads.append((instruction, name))
            bodies.append([instruction])
        elif not heads and node.keyword == "arg":
            meta_args.append(_instruction(node, None))
        elif not heads:
            # instructions.Parse; the daemon prints no line for this one.
            raise DockerfileSyntaxError("no build stage in current context", node.line)
        else:
            bodies[-1].append(_instruction(node, len(heads) - 1))
    if not heads:
        # The daemon runs the ARG steps, then fails with "No image was generated".
        raise DockerfileSyntaxError("no FROM instruction", nodes[-1].end_line)
    stages = tuple(
        Stage(
            index=index,
            name=name,
            base=_TOKEN_WHITESPACE.split(head.args)[0],
            instructions=tuple(body),
        )
        for index, ((head, name), body) in enumerate(zip(heads, bodies, strict=True))
    )
    return Dockerfile(
        escape=escape,
        meta_args=tuple(meta_args),
        stages=stages,
        instructions=tuple(meta_args) + tuple(i for s in stages for i in s.instructions),
    )

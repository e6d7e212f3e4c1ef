"""PURE: what makes a build BuildKit's: the first line of a Dockerfile (or option) that the
classic builder would refuse or build differently (issue 11 lists them). choice.py asks it
when the choice of builder reads the Dockerfile, so a forced BuildKit or Podman build starts
without it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Iterator

    from dbugbuild.dockerfile import Dockerfile, Instruction
    from dbugbuild.options import BuildOptions

# The ARGs BuildKit sets from the platforms (docs: "Automatic platform ARGs in the global
# scope"); the classic builder leaves them empty.
PLATFORM_ARGS = frozenset(
    {
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    }
)  # fmt: skip
# RUN flags only BuildKit knows (the classic builder: "the --mount option requires BuildKit").
_RUN_FLAGS = ("mount", "network", "security", "device")
# COPY/ADD flags the classic builder refuses (--chmod, before Engine 27) or does not know.
_COPY_FLAGS = ("chmod", "link", "parents", "exclude", "checksum", "keep-git-dir")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
# A heredoc word as BuildKit's parser finds it (parser.go reHeredoc: `^(\d*)<<(-?)([^<]*)$`),
# on words lexed with their quotes kept (a quoted `<<EOT` is no heredoc).
_HEREDOC_WORD = re.compile(r"\d*<<-?[^<\s]+")
_HEREDOC_TEXT = re.compile(r"(?:^|\s)\d*<<-?[\"']?[A-Za-z_][A-Za-z0-9_]*")
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_LINE = re.compile(r"\s*([A-Za-z]+)(?:\s+(.*))?$")
_FLAG = re.compile(r"--([a-z-]+)")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Trigger:
    """What makes a build BuildKit's: a phrase, and its Dockerfile line (None: an option)."""

    reason: str
    line: int | None


def buildkit_trigger(
    dockerfile: Dockerfile | None, text: str | None, build: BuildOptions
) -> Trigger | None:
    """The first reason the classic builder would refuse or change this build: a Dockerfile
    line (in file order), else a BuildKit-only option; None when it builds the same."""
    found = _syntax_directive(text)
    if found is None:
        if dockerfile is not None:
            found = next(_instruction_triggers(dockerfile), None)
        elif text is not None:  # it does not parse here: its lines, roughly
            found = next(_text_triggers(text), None)
    return found or _option_trigger(build)


def _option_trigger(build: BuildOptions) -> Trigger | None:
    for name, given in (
        ("--secret", build.secrets),
        ("--ssh", build.ssh),
        ("--build-context", build.build_contexts),
    ):
        if given:
            return Trigger(f"{name} is an option only BuildKit has", None)
    if build.builder:
        return Trigger("--builder names a buildx builder", None)
    platforms = [p for p in (build.platform or "").split(",") if p.strip()]
    if len(platforms) > 1:
        return Trigger(f"several platforms ({', '.join(platforms)}) need BuildKit", None)
    return None


def _syntax_directive(text: str | None) -> Trigger | None:
    """A `# syntax=` parser directive at the top of the file (only BuildKit reads it)."""
    if text is None:
        return None
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        found = _DIRECTIVE.match(line.strip())
        if found is None:
            return None  # directives end at the first other line
        if found.group(1).lower() == "syntax":
            return Trigger(
                f"line {number} has a `# syntax={found.group(2)}` directive, which only "
                "BuildKit reads",
                number,
            )
    return None


def _flag_names(flags: tuple[str, ...]) -> list[str]:
    return [flag.removeprefix("--").split("=", 1)[0].lower() for flag in flags]


def has_heredoc(ins: Instruction) -> bool:
    """A RUN/COPY/ADD with a heredoc (`<<EOT`), as BuildKit's parser sees one."""
    if ins.keyword not in _HEREDOC_KEYWORDS or ins.is_exec_form:
        return False
    # The Dockerfile model's own heredocs (dockerfile helper, issue 11), when it has them.
    if getattr(ins, "heredocs", ()):
        return True
    try:
        words = shlex.split(ins.args, posix=False)  # quotes kept, as BuildKit lexes it
    except ValueError:
        words = ins.args.split()
    return any(_HEREDOC_WORD.fullmatch(word) for word in words)


def _instruction_triggers(dockerfile: Dockerfile) -> Iterator[Trigger]:
    for ins in dockerfile.instructions:
        where = f"line {ins.line}"
        names = _flag_names(ins.flags)
        if ins.keyword == "RUN":
            for name in names:
                if name in _RUN_FLAGS:
                    yield Trigger(
                        f"{where} uses `RUN --{name}`, which the classic builder refuses",
                        ins.line,
                    )
        if ins.keyword in ("COPY", "ADD"):
            for name in names:
                if name in _COPY_FLAGS:
                    yield Trigger(
                        f"{where} uses `{ins.keyword} --{name}`, which the classic builder "
                        "refuses or ignores",
                        ins.line,
                    )
        if has_heredoc(ins):
            yield Trigger(
                f"{where} has a heredoc in {ins.keyword}, which the classic builder does not run",
                ins.line,
            )
        if ins.keyword == "ARG":
            for name, has_default in _arg_names(ins.args):
                if name in PLATFORM_ARGS and not has_default:
                    yield Trigger(
                        f"{where} declares `ARG {name}`, which only BuildKit sets (the "
                        "classic builder leaves it empty)",
                        ins.line,
                    )
        if ins.keyword == "FROM":
            for flag in ins.flags:
                used = [v for v in _VARIABLE.findall(flag) if v in PLATFORM_ARGS]
                if flag.startswith("--platform=") and used:
                    yield Trigger(
                        f"{where} uses `FROM {flag}`, and only BuildKit sets ${used[0]}",
                        ins.line,
                    )


def _arg_names(args: str) -> Iterator[tuple[str, bool]]:
    """(name, has a default) of each `NAME[=default]` of an ARG."""
    for word in args.split():
        name, eq, _ = word.partition("=")
        yield name, bool(eq)


def _text_triggers(text: str) -> Iterator[Trigger]:
    """The triggers of a Dockerfile that does not parse here (a line scan: no continuation
    lines, no quotes), so that such a file still goes to the builder that can read it."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = _LINE.match(line)
        if found is None:
            continue
        keyword, rest = found.group(1).upper(), found.group(2) or ""
        flags = []
        for word in rest.split():
            flag = _FLAG.match(word)
            if flag is None:
                break
            flags.append(flag.group(1))
        wanted = _RUN_FLAGS if keyword == "RUN" else _COPY_FLAGS
        if keyword in _HEREDOC_KEYWORDS:
            for name in flags:
                if name in wanted:
                    yield Trigger(
                        f"line {number} uses `{keyword} --{name}`, which the classic builder "
                        "refuses or ignores",
                        number,
                    )
            if _HEREDOC_TEXT.search(rest):
                yield Trigger(
                    f"line {number} has a heredoc in {keyword}, which the classic builder "
                    "does not run",
                    number,
                )
        if keyword == "ARG":
            for name, has_default in _arg_names(rest):
                if name in PLATFORM_ARGS and not has_default:
                    yield Trigger(
                        f"line {number} declares `ARG {name}`, which only BuildKit sets",
                        number,
                    )

"""PURE: the shapes of classic `docker build` lines (steps, bookkeeping, errors) and the failure a
line reports. Read by logs.classic.parser. Never does I/O, never prints, never reads the
environment or the clock.
"""

from __future__ import annotations

import re

from dbugbuild.logs.model import Failure

STEP = re.compile(r"Step (\d+)(?:/(\d+))? : (.*)")
ID = r"([0-9a-f]{12,64})"
RUNNING_IN = re.compile(rf"---> Running in {ID}\s*$")
USING_CACHE = re.compile(r"---> Using cache\s*$")
IMAGE = re.compile(rf"---> {ID}\s*$")
TRIGGERS = re.compile(r"# Executing (\d+) build triggers?")
BUILT = re.compile(rf"Successfully built {ID}\s*$")
TAGGED = re.compile(r"Successfully tagged (\S+)\s*$")
AUX_ID = re.compile(r"sha256:([0-9a-f]{64})\s*$")
BOOKKEEPING = re.compile(
    r"(?:Error r|R)emoving intermediate container "
    r"|Trigger \d+, "  # Docker 1.x echoed each ONBUILD trigger
    r"|Sending build context to Docker daemon"
    r"|DEPRECATED: The legacy builder is deprecated"
    r"|BuildKit is currently disabled; enable it by removing"
    r"|environment-variable\.\s*$"
)
# A line of a step's output with no text in it: blanks and colour codes only (not counted).
BLANK_LINE = re.compile(r"^(?:[ \t\r]|\x1b\[[0-9;]*[A-Za-z])*$", re.MULTILINE)
SENDING_CONTEXT = re.compile(r"Sending build context to Docker daemon")
# The daemon's own pull inside a FROM (or COPY --from) step: v1 and v2 registries.
PULL_PROGRESS = re.compile(
    r"\S+: Pulling from \S+"
    r"|Pulling (?:repository|from) \S+"
    r"|Pulling image \S+"
    r"|[0-9a-f]{12}: (?:Pulling fs layer|Pulling image|Pulling metadata|Pulling dependent layers"
    r"|Waiting|Downloading|Verifying Checksum|Download complete|Extracting|Pull complete"
    r"|Already exists)"
    r"|Digest: sha256:"
    r"|Status: (?:Downloaded newer image|Image is up to date) for "
)
PULLING_STEPS = frozenset({"FROM", "COPY", "ADD"})

# Errors. A strong message can only be the builder's or the CLI's; a weak one is how old
# CLIs printed any error (logrus `FATA[0022] `, Go's `2014/09/17 03:25:48 `) or an error
# the daemon words like program output, and counts only if nothing but bookkeeping
# follows it.
# A wrapper may put text after the code on the same line: a closing quote or brace (logrus,
# Ansible's JSON result), kitchen-dokken's `. The common scenerios ...] on <instance>`.
NON_ZERO = re.compile(
    r"The command (?:'(?P<quoted>.*)'|\[(?P<bracketed>.*)\]) returned a non-zero code: "
    r"(?P<code>-?\d+)(?!\d)"
)
# The same error whose start a wrapper or an excerpt cut off: the command's closing quote is
# what is left of it (an Ansible message holding the whole build on one line).
CUT_NON_ZERO = re.compile(r"\S' returned a non-zero code: (?P<code>-?\d+)(?!\d)")
# Engine 20.10 (and Docker 1.x): `dockerfile parse error line 3: ...`; Engine 23+ (BuildKit's
# parser, vendored: instructions/parse.go parseError) `dockerfile parse error on line 3: ...`.
PARSE_ERROR = re.compile(r"[Dd]ockerfile parse error (?:on )?line (\d+): ")
STRONG_START = re.compile(
    r"(?:COPY|ADD) failed: "
    r"|unable to prepare context: "
    r"|Cannot locate specified Dockerfile"
    r"|[Uu]nknown instruction: "
    r"|failed to reach build target "
    r"|No build stage in current context"
    # moby builder/dockerfile/copy.go: a multi-source COPY/ADD to a path without `/`.
    r"|When using (?:COPY|ADD) with more than one source file, the destination must be"
)
DAEMON_PREFIX = re.compile(r"Error response from daemon: ")
OLD_CLI_PREFIX = re.compile(r"(?:(?:FATA|ERRO|INFO)\[\d+\]|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) ")
# Docker 1.x's CLI with logrus' text format: time="..." level="info" msg="The command ..."
LOGRUS = re.compile(r'time="[^"]*" level="?\w+"? msg="(?P<msg>(?:[^"\\]|\\.)*)"')
WEAK_START = re.compile(
    r"pull access denied |manifest for \S+ not found|manifest unknown|repository \S+ not found"
    r"|failed to |unable to |OCI runtime |invalid reference format|toomanyrequests: "
    r"|error from sender: |(?:Get|Head) \"?https?://|unauthorized: "
)
BUILDKIT = re.compile(
    r"#\d+ (?:\[|DONE |CACHED|ERROR|sha256:|resolve |naming |writing |exporting |transferring )"
    r"|\[\+\] Building "
    r"|=> (?:CACHED |ERROR )?\[|=> exporting|=> naming"
    r"|ERROR: failed to solve: "
)


def failure(line: str) -> tuple[Failure, bool] | None:
    """The failure a line reports and whether it is strong, or None."""
    text = line
    marked = False
    old_cli = OLD_CLI_PREFIX.match(text)
    if old_cli:
        text, marked = text[old_cli.end() :], True
    else:
        logrus = LOGRUS.match(text)
        if logrus:
            text, marked = re.sub(r"\\(.)", r"\1", logrus.group("msg")), True
    daemon = DAEMON_PREFIX.match(text)
    if daemon:
        text = text[daemon.end() :]
    text = text.strip()
    non_zero = NON_ZERO.search(text)
    if non_zero:
        command = non_zero.group("quoted")
        if command is None:
            command = non_zero.group("bracketed")
        message = text[non_zero.start() : non_zero.end()]
        return Failure(message, int(non_zero.group("code")), command, None, False), True
    cut = CUT_NON_ZERO.search(text)
    if cut:
        return Failure(text[: cut.end()], int(cut.group("code")), None, None, False), True
    parse_error = PARSE_ERROR.search(text)
    if parse_error:
        message = text[parse_error.start() :]
        return Failure(message, None, None, int(parse_error.group(1)), False), True
    if daemon or STRONG_START.match(text):
        return Failure(text, None, None, None, False), True
    if marked or WEAK_START.match(text):
        return Failure(text, None, None, None, False), False
    return None


# Every line the parser must read one by one begins (after its CI prefix, wrapper tag and
# blanks) with one of these, or holds one of ANYWHERE: every pattern above that a body must
# start with, grouped by first character. The lines between are a step's output, skipped in
# bulk: one search per interesting line finds the next, in C, where reading each line in
# Python cost 150x grep's time. `re`, not `regex`: this search (text.LinePrefix.starts) runs
# at 196 MB/s in `re` and 75 MB/s in `regex` 2026.11.19 on the 300k-line RUN log, 240
# against 85 MB/s with GitHub stamps (Python 3.11).
STARTS = (
    r"S(?:tep |uccessfully |ending build context)|--->|# Executing |sha256:"
    r"|E(?:rror |RRO\[)|Removing intermediate|Trigger |DEPRECATED: |BuildKit is currently"
    r"|e(?:nvironment-variable\.|rror from sender: )|FATA\[|INFO\[|[0-9]{4}/"
    r"|t(?:ime=\"|oomanyrequests: )|C(?:OPY failed: |annot locate )|ADD failed: "
    r"|u(?:nable to |nknown instruction: |nauthorized: )|Unknown instruction: |failed to "
    r"|No build stage|When using |pull access denied |manifest |repository |OCI runtime "
    r"|invalid reference format|Get |Head "
)
# The first characters of STARTS (and of STDOUT:/STDERR:): a line starting otherwise is
# passed by one test (5x faster on a RUN's output; tests/test_logs_classic checks the set).
STARTS_FIRST = "-#0-9ABCDEFGHINORSTUWefimprstu"
ANYWHERE = ("non-zero code: ", "ockerfile parse error ")

"""logs.buildah on recorded `podman build` output and on public Podman/Buildah logs.

Every expectation below was written by reading the logs under tests/fixtures/podman/logs/
(recorded from Debian's podman 4.3.1 / Buildah 1.28.2 by tests/record_podman.py, each case
with the layer cache and with --no-cache) and tests/fixtures/podman/public/ (logs users posted,
each with a .source). Re-recording changes the ids and logrus timestamps: update IDS from the
new logs (the structure of each expectation stays).
"""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest

from dbugbuild.logs import LogFormatError
from dbugbuild.logs.buildah import (
    MAX_LINE,
    BuildahLog,
    BuildahLogError,
    BuildahLogParser,
    Commit,
    Failure,
    Step,
    looks_like_buildah,
    parse,
)

PODMAN = Path(__file__).parent / "fixtures" / "podman"
CASES = PODMAN / "cases"
LOGS = PODMAN / "logs"
PUBLIC = PODMAN / "public"
CLASSIC = Path(__file__).parent / "fixtures" / "logs"


def recorded(name: str) -> str:
    return (LOGS / f"{name}.log").read_bytes().decode("utf-8")


def public(name: str) -> str:
    return (PUBLIC / f"{name}.log").read_bytes().decode("utf-8")


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def random_pieces(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 40))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def step(
    index: int,
    total: int | None,
    text: str,
    image: str | None = None,
    tail: tuple[str, ...] = (),
    *,
    stage: tuple[int, int] | None = None,
    cached: bool = False,
    instruction: str | None = None,
) -> Step:
    return Step(
        stage=None if stage is None else stage[0],
        stages=None if stage is None else stage[1],
        index=index,
        total=total,
        text=text,
        instruction=instruction or text.split()[0].upper(),
        image=image,
        cached=cached,
        output_tail=tail,
    )


def run_failed(step_text: str, code: int, old: bool = False) -> Failure:
    if old:  # Podman 1.x-3.x (pkg/errors): "error " before each wrapped message
        message = f'error building at STEP "{step_text}": error while running runtime: '
    else:
        message = f'building at STEP "{step_text}": while running runtime: '
    return Failure(f"{message}exit status {code}", code, step_text, "run", None)


def failed(*steps: Step, failure: Failure) -> BuildahLog:
    return BuildahLog(steps=steps, commits=(), failure=failure, image=None, tags=())


# --- The recorded cases ----------------------------------------------------------------------


class Ids(NamedTuple):
    """What one recording printed that changes with every run."""

    images: tuple[str, ...] = ()  # the `--> <id>` lines, in order
    final: str | None = None  # the final 64-hex id line
    stamp: str = ""  # the logrus time="..." of its warnings/errors
    bases: tuple[str, ...] = ()  # the 64-hex ids a later stage's FROM names


IDS = {
    "build-flags": Ids(("22ef1e69842", "8512d9f31bb")),
    "build-flags.no-cache": Ids(("7ea95e5c3cb", "9b515a2a454")),
    "cached-rebuild": Ids(
        ("43de11ebabc", "195db9edaed", "34d2d18caec", "6c0b92a6acd", "2a30515279f"),
        "2a30515279fba0e5298130932dc343ee7c7b2f5674fd91fa91087e0121861ab8",
    ),
    "cached-rebuild.no-cache": Ids(
        ("d03240ae26b", "ec8c7ab67e9", "1f1892d6d56", "f7bd174c4f4", "4a123ac8814"),
        "4a123ac881435e5fef03a7143abeca51010680b7350cb3b99a67bd9289d45eeb",
    ),
    "cached-untagged": Ids(
        ("fbdc1ce6d5e", "dc2246df873"),
        "dc2246df8735d45d2f2b0c471329807f8ece4443bbf59076a90f53ec12be3737",
    ),
    "cached-untagged.no-cache": Ids(
        ("919bf029750", "6331723fb50"),
        "6331723fb50b9f8270dbe59f2bf38545939364909168678b6d9f5a9525e05ce4",
    ),
    "copy-missing": Ids(("62e4dfd80bd", "00dc3571633")),
    "copy-missing.no-cache": Ids(("85287181624", "17863f0387f")),
    "exec-form": Ids(),
    "exec-form.no-cache": Ids(),
    "force-rm-false": Ids(("2713a323a9a", "c5f72cc46f9")),
    "force-rm-false.no-cache": Ids(("e445011fd6e", "df9b32e584a")),
    "heredoc": Ids(("55d152db106",), stamp="2026-12-01T15:38:45Z"),
    "heredoc.no-cache": Ids(("d93fc4a6aec",), stamp="2026-12-01T15:38:46Z"),
    "missing-base": Ids(),
    "missing-base.no-cache": Ids(),
    "missing-base-shortname": Ids(),
    "missing-base-shortname.no-cache": Ids(),
    "multiline-run": Ids(("22e3480d358",)),
    "multiline-run.no-cache": Ids(("6e9ecf0394e",)),
    "multistage-nonfinal": Ids(("2d4d9dde161", "ba30a9d0e30")),
    "multistage-nonfinal.no-cache": Ids(("847a1b594e3", "90798754350")),
    "multistage-success": Ids(
        ("088867b2d61", "c6db2e9e03c", "6c4cd6ce3ca", "ef480041aa2", "4609767b189", "d0d65c25a75"),
        "d0d65c25a75acfb73b7ea3b878e6010a1b1c1b3653873af5c70bdcf6787f64de",
    ),
    "multistage-success.no-cache": Ids(
        ("4dbb8afcf73", "b7de4dc7efd", "4694b7f55b8", "d837224261b", "4b6c963ffb1", "27eed528204"),
        "27eed528204c57968ee54d5f53baee857434fe5f0742237fa96c4c391ce9beea",
    ),
    "onbuild-trigger": Ids(),
    "onbuild-trigger.no-cache": Ids(),
    "output-like-buildah": Ids(("19a048ef214",)),
    "output-like-buildah.no-cache": Ids(("4d3376521b3",)),
    "rm-false": Ids(("daeeb755f58", "997310e04de")),
    "rm-false.no-cache": Ids(("f96a0885b46", "7d30f6c9f78")),
    "run-exit-100": Ids(("91094249bc4", "eb4a51e55ed", "1db3f08e484")),
    "run-exit-100.no-cache": Ids(("b72009311de", "a0672d161bf", "6a75a1379f8")),
    "run-exit-127": Ids(("0fa7b7bb0fc", "7a0f61f36ce")),
    "run-exit-127.no-cache": Ids(("69b161b785b", "1511ba31f00")),
    "shell-docker": Ids(("7fc03a56ae3", "b5c018e910e")),
    "shell-docker.no-cache": Ids(("23cfe2e2dc3", "3018033f8c2")),
    "shell-oci": Ids(("0d188cdbc46", "ee1a6aad99b"), stamp="2026-12-01T15:35:11Z"),
    "shell-oci.no-cache": Ids(("518f9d6a34a", "6bd576bccba"), stamp="2026-12-01T15:35:12Z"),
    "success": Ids(
        ("9933665b629", "fd080c8b160", "1d3eb8d8a7f", "358e7f53088", "7f171ae8c3e", "7931e8ec346"),
        "7931e8ec3464bcad7da74fb70fe3f534ae70c2f7f52a3ed6e81c5abc5dc81122",
    ),
    "success.no-cache": Ids(
        ("b2b4ef3cefe", "b7842e0ecd8", "f857760e3a3", "6c7806e0ae4", "9d7f06dd507", "ec9189d80a6"),
        "ec9189d80a667cbc3d770eaed303e2a7a95c7ba95ff6c776a466eec248603b18",
    ),
    "syntax-error": Ids(("21ad2e43eb2",), stamp="2026-12-01T15:35:16Z"),
    "syntax-error.no-cache": Ids(("3ba0fb0c32d",), stamp="2026-12-01T15:35:16Z"),
    "syntax-error-args": Ids(),
    "syntax-error-args.no-cache": Ids(),
    "target-stage": Ids(
        ("0ef7dffbeef", "3039dea2e46", "dc8962a2ad1", "3b23a8efe4a"),
        bases=("0ef7dffbeefaca85db2b8e5a1f8b8ac746f80d64996b64f5430c17d85ea5be85",),
    ),
    "target-stage.no-cache": Ids(
        ("d08b2f7eb02", "e10f28d681c", "c35383edd6e", "8b970aa3e37"),
        bases=("d08b2f7eb020828d24bf6687573df234ced66283135d888ea80d41d4aaa29229",),
    ),
    "user-permission": Ids(("174ffde8df0", "1bae9af7694", "41f6db85448")),
    "user-permission.no-cache": Ids(("a7107e230c8", "3ea0dc0bfe7", "d34edcd4e69")),
}


def run_exit_100(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    prep = 'RUN echo "preparing $DEBIAN_FRONTEND in $(pwd)" > prep.txt && cat prep.txt'
    return failed(
        step(1, 6, "FROM debian:bookworm"),
        step(2, 6, "ENV DEBIAN_FRONTEND=noninteractive", i[0]),
        step(3, 6, "WORKDIR /srv/app", i[1]),
        step(4, 6, prep, i[2], ("preparing noninteractive in /srv/app",)),
        step(5, 6, "RUN apt-get -y update-all", None, ("E: Invalid operation update-all",)),
        failure=run_failed("RUN apt-get -y update-all", 100),
    )


def run_exit_127(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    missing = "RUN dbugbuild-no-such-command --version"
    return failed(
        step(1, 5, "FROM busybox"),
        step(2, 5, "WORKDIR /work", i[0]),
        step(
            3,
            5,
            'RUN echo "about to call a missing command"',
            i[1],
            ("about to call a missing command",),
        ),
        step(4, 5, missing, None, ("/bin/sh: dbugbuild-no-such-command: not found",)),
        failure=run_failed(missing, 127),
    )


def user_permission(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    run = "RUN id -u && touch /etc/dbugbuild-forbidden"
    return failed(
        step(1, 6, "FROM busybox"),
        step(2, 6, "ENV APP_HOME=/opt/app", i[0]),
        step(3, 6, "WORKDIR /tmp", i[1]),
        step(4, 6, "USER 1234", i[2]),
        step(5, 6, run, None, ("1234", "touch: /etc/dbugbuild-forbidden: Permission denied")),
        failure=run_failed(run, 1),
    )


def target_stage(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    run = 'RUN echo "checking the artifact" && cat /build/artifact.txt'
    cat = "cat: can't open '/build/artifact.txt': No such file or directory"
    return failed(
        step(1, 2, "FROM busybox AS base", stage=(1, 2)),
        step(2, 2, "RUN mkdir -p /opt/base && echo base > /opt/base/marker", i[0], stage=(1, 2)),
        step(1, 6, f"FROM {ids.bases[0]} AS builder", stage=(2, 2)),
        step(2, 6, "WORKDIR /build", i[1], stage=(2, 2)),
        step(3, 6, "ENV STAGE=builder", i[2], stage=(2, 2)),
        step(4, 6, "RUN cp /opt/base/marker ./marker && cat marker", i[3], ("base",), stage=(2, 2)),
        step(5, 6, run, None, ("checking the artifact", cat), stage=(2, 2)),
        failure=run_failed(run, 1),
    )


def multistage_nonfinal(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    run = 'RUN echo "checking the artifact" && cat /build/missing-artifact.txt'
    cat = "cat: can't open '/build/missing-artifact.txt': No such file or directory"
    return failed(
        step(1, 4, "FROM busybox AS builder", stage=(1, 2)),
        step(2, 4, "WORKDIR /build", i[0], stage=(1, 2)),
        step(3, 4, 'RUN echo "compiled" > artifact.txt', i[1], stage=(1, 2)),
        step(4, 4, run, None, ("checking the artifact", cat), stage=(1, 2)),
        failure=run_failed(run, 1),
    )


def copy_missing(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    context = "/work/wt/podman-logs/tests/fixtures/podman/cases/copy-missing"  # as recorded
    message = (
        'building at STEP "COPY missing.txt ./missing.txt": checking on sources under '
        f'"{context}": copier: stat: "/missing.txt": no such file or directory'
    )
    return failed(
        step(1, 5, "FROM busybox"),
        step(2, 5, "WORKDIR /app", i[0]),
        step(3, 5, "COPY present.txt ./present.txt", i[1]),
        step(4, 5, "COPY missing.txt ./missing.txt"),
        failure=Failure(
            message, None, "COPY missing.txt ./missing.txt", "copy-source", "/missing.txt"
        ),
    )


def missing_base(ids: Ids, cached: bool) -> BuildahLog:
    image = "docker.io/library/dbugbuild-test-no-such-image:1"
    message = (
        "creating build container: initializing source docker://dbugbuild-test-no-such-image:1:"
        ' pinging container registry registry-1.docker.io: Get "https://registry-1.docker.io/v2/":'
        " dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host"
    )
    return failed(
        step(1, 2, f"FROM {image}"),  # "Trying to pull ..." is Buildah's, not the step's
        failure=Failure(message, None, None, "base-image", image),
    )


def missing_base_shortname(ids: Ids, cached: bool) -> BuildahLog:
    image = "dbugbuild-test-no-such-image:1"
    message = (
        f'creating build container: short-name "{image}" did not resolve to an alias and no '
        'unqualified-search registries are defined in "/etc/containers/registries.conf"'
    )
    return failed(
        step(1, 2, f"FROM {image}"), failure=Failure(message, None, None, "base-image", image)
    )


def _go_step(command: str, message: str, original: str) -> str:
    """imagebuilder.Step as Buildah 1.28 prints an unknown instruction with %#v."""
    return (
        '&imagebuilder.Step{Env:[]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:'
        f'/usr/bin:/sbin:/bin"}}, Command:"{command}", Args:[]string{{""}}, Flags:[]string{{}}, '
        f'Attrs:map[string]bool(nil), Message:"{message}", Original:"{original}"}}'
    )


def _unhandled(stamp: str, go_step: str) -> str:
    """Buildah's logrus line before the same error (quotes escaped once more)."""
    escaped = go_step.replace("\\", "\\\\").replace('"', '\\"')
    return f'time="{stamp}" level=error msg="+(UNHANDLED LOGLEVEL) {escaped}"'


def syntax_error(ids: Ids, cached: bool) -> BuildahLog:
    go = _go_step("runn", "RUNN ", 'RUNN echo \\"typo in the instruction\\"')
    message = f'building at STEP "RUNN ": Build error: Unknown instruction: "RUNN" {go}'
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, "WORKDIR /app", ids.images[0]),
        # The logrus line that repeats the error is Buildah's bookkeeping, not output.
        step(3, 4, 'RUNN echo "typo in the instruction"'),
        failure=Failure(message, None, "RUNN ", "syntax", None),
    )


def syntax_error_args(ids: Ids, cached: bool) -> BuildahLog:
    message = 'building at STEP "ENV ": ENV requires at least one argument'
    return failed(
        step(1, 3, "FROM busybox"),
        step(2, 3, "ENV"),
        failure=Failure(message, None, "ENV ", "syntax", None),
    )


def heredoc(ids: Ids, cached: bool) -> BuildahLog:
    # Buildah 1.28 knows no heredocs: `RUN <<EOT` runs (and commits), the body is parsed as
    # instructions.
    go = _go_step("echo", "ECHO ", 'echo \\"in a heredoc\\"')
    message = f'building at STEP "ECHO ": Build error: Unknown instruction: "ECHO" {go}'
    return failed(
        step(1, 5, "FROM busybox"),
        step(2, 5, "RUN <<EOT", ids.images[0]),
        step(3, 5, 'echo "in a heredoc"'),
        failure=Failure(message, None, "ECHO ", "syntax", None),
    )


def success(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    return BuildahLog(
        steps=(
            step(1, 7, "FROM busybox"),
            step(2, 7, "LABEL org.example.case=success", i[0]),
            step(3, 7, "ENV GREETING=hello", i[1]),
            step(4, 7, "WORKDIR /srv", i[2]),
            step(5, 7, 'RUN echo "$GREETING from $(pwd)" > greeting.txt', i[3]),
            step(6, 7, "COPY note.txt /srv/note.txt", i[4]),
            step(7, 7, 'CMD ["cat", "/srv/greeting.txt"]', i[5]),
        ),
        commits=(Commit(None, None, "dbugbuild-test-podman-logs-success"),),
        failure=None,
        image=ids.final,
        tags=("localhost/dbugbuild-test-podman-logs-success:latest",),
    )


def cached_rebuild(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    return BuildahLog(
        steps=(
            step(1, 6, "FROM busybox"),
            step(2, 6, "ENV MODE=cached", i[0], cached=cached),
            step(3, 6, "WORKDIR /cache", i[1], cached=cached),
            step(4, 6, 'RUN echo "built once" > once.txt', i[2], cached=cached),
            step(5, 6, "COPY note.txt /cache/note.txt", i[3], cached=cached),
            step(
                6,
                6,
                "RUN cat once.txt note.txt",
                i[4],
                () if cached else ("built once", "cached note"),
                cached=cached,
            ),
        ),
        commits=(Commit(None, None, "dbugbuild-test-podman-logs-cached"),),
        failure=None,
        image=ids.final,
        tags=("localhost/dbugbuild-test-podman-logs-cached:latest",),
    )


def cached_untagged(ids: Ids, cached: bool) -> BuildahLog:
    """Untagged and every step a cache hit: Buildah prints no COMMIT, only the final id."""
    i = ids.images
    return BuildahLog(
        steps=(
            step(1, 3, "FROM busybox"),
            step(2, 3, "RUN echo a > /a", i[0], cached=cached),
            step(3, 3, "RUN echo b > /b", i[1], cached=cached),
        ),
        commits=() if cached else (Commit(None, None, None),),
        failure=None,
        image=ids.final,
        tags=(),
    )


def multistage_success(ids: Ids, cached: bool) -> BuildahLog:
    i = ids.images
    return BuildahLog(
        steps=(
            step(1, 3, "FROM busybox AS builder", stage=(1, 2)),
            step(2, 3, "WORKDIR /build", i[0], stage=(1, 2)),
            step(3, 3, 'RUN echo "compiled" > artifact.txt', i[1], stage=(1, 2)),
            step(1, 5, "FROM busybox", stage=(2, 2)),
            step(2, 5, "WORKDIR /app", i[2], stage=(2, 2)),
            step(
                3, 5, "COPY --from=builder /build/artifact.txt ./artifact.txt", i[3], stage=(2, 2)
            ),
            step(4, 5, "RUN cat artifact.txt", i[4], ("compiled",), stage=(2, 2)),
            step(5, 5, 'CMD ["cat", "/app/artifact.txt"]', i[5], stage=(2, 2)),
        ),
        commits=(Commit(2, 2, "dbugbuild-test-podman-logs-multistage"),),
        failure=None,
        image=ids.final,
        tags=("localhost/dbugbuild-test-podman-logs-multistage:latest",),
    )


def multiline_run(ids: Ids, cached: bool) -> BuildahLog:
    # Buildah echoes the instruction with its continuation lines joined (the `\` and the
    # newline removed, the indentation kept).
    run = 'RUN echo "first line"     && echo "second line"     && ls /src     && exit 3'
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, "WORKDIR /src", ids.images[0]),
        step(3, 4, run, None, ("first line", "second line")),
        failure=run_failed(run, 3),
    )


def onbuild_trigger(ids: Ids, cached: bool) -> BuildahLog:
    # The parent's ONBUILD trigger runs as a step of its own after FROM: `STEP 2/3` in a
    # two-instruction Containerfile, echoed as the trigger's text.
    run = 'RUN echo "trigger runs in the child" && exit 7'
    return failed(
        step(1, 2, "FROM localhost/dbugbuild-test-podman-logs-onbuild-parent"),
        step(2, 3, run, None, ("trigger runs in the child",)),
        failure=run_failed(run, 7),
    )


def kept_container(ids: Ids, cached: bool) -> BuildahLog:
    run = 'RUN echo "partial work" > partial.txt && exit 9'
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, "ENV KEPT=yes", ids.images[0]),
        step(3, 4, "WORKDIR /kept", ids.images[1]),
        step(4, 4, run),
        failure=run_failed(run, 9),
    )


def exec_form(ids: Ids, cached: bool) -> BuildahLog:
    # The error quotes step.Message, which joins an exec form's arguments with spaces.
    quoted = "RUN sh -c echo exec form && exit 3"
    return failed(
        step(1, 2, "FROM busybox"),
        step(2, 2, 'RUN ["sh", "-c", "echo exec form && exit 3"]', None, ("exec form",)),
        failure=run_failed(quoted, 3),
    )


def shell_oci(ids: Ids, cached: bool) -> BuildahLog:
    warning = (
        f'time="{ids.stamp}" level=warning msg="SHELL is not supported for OCI image format, '
        '[/bin/sh -xc] will be ignored. Must use `docker` format"'
    )
    run = "RUN touch /etc/dbugbuild-forbidden"
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, 'SHELL ["/bin/sh", "-xc"]', ids.images[0], (warning,)),
        step(3, 4, "USER 1234", ids.images[1], (warning,)),
        # no "+ touch ..." trace: in OCI format Buildah ignores SHELL for the RUN too
        step(4, 4, run, None, ("touch: /etc/dbugbuild-forbidden: Permission denied",)),
        failure=run_failed(run, 1),
    )


def shell_docker(ids: Ids, cached: bool) -> BuildahLog:
    run = "RUN touch /etc/dbugbuild-forbidden"
    denied = "touch: /etc/dbugbuild-forbidden: Permission denied"
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, 'SHELL ["/bin/sh", "-xc"]', ids.images[0]),
        step(3, 4, "USER 1234", ids.images[1]),
        step(4, 4, run, None, ("+ touch /etc/dbugbuild-forbidden", denied)),
        failure=run_failed(run, 1),
    )


def build_flags(ids: Ids, cached: bool) -> BuildahLog:
    # --platform, --secret, --network and --build-arg print nothing of their own.
    secret = (
        'RUN --mount=type=secret,id=token echo "flavour $FLAVOUR, secret $(cat /run/secrets/token)"'
    )
    test = 'RUN test "$FLAVOUR" = expected || exit 4'
    return failed(
        step(1, 4, "FROM busybox"),
        step(2, 4, "ARG FLAVOUR=plain", ids.images[0]),
        step(3, 4, secret, ids.images[1], ("flavour chosen, secret s3cr3t",)),
        step(4, 4, test),
        failure=run_failed(test, 4),
    )


def output_like_buildah(ids: Ids, cached: bool) -> BuildahLog:
    first = (
        'RUN echo "Error: this line is the program\'s, and the build goes on" '
        '&& echo "--> not an id either"'
    )
    last = (
        'RUN echo "STEP 1: is not a step either" >/dev/null && echo "working" '
        '&& echo "Error: the tool\'s own last words" && exit 2'
    )
    return failed(
        step(1, 3, "FROM busybox"),
        step(
            2,
            3,
            first,
            ids.images[0],
            ("Error: this line is the program's, and the build goes on", "--> not an id either"),
        ),
        step(3, 3, last, None, ("working", "Error: the tool's own last words")),
        failure=run_failed(last, 2),
    )


EXPECTED: dict[str, Callable[[Ids, bool], BuildahLog]] = {
    "build-flags": build_flags,
    "cached-rebuild": cached_rebuild,
    "cached-untagged": cached_untagged,
    "copy-missing": copy_missing,
    "exec-form": exec_form,
    "force-rm-false": kept_container,
    "heredoc": heredoc,
    "missing-base": missing_base,
    "missing-base-shortname": missing_base_shortname,
    "multiline-run": multiline_run,
    "multistage-nonfinal": multistage_nonfinal,
    "multistage-success": multistage_success,
    "onbuild-trigger": onbuild_trigger,
    "output-like-buildah": output_like_buildah,
    "rm-false": kept_container,
    "run-exit-100": run_exit_100,
    "run-exit-127": run_exit_127,
    "shell-docker": shell_docker,
    "shell-oci": shell_oci,
    "success": success,
    "syntax-error": syntax_error,
    "syntax-error-args": syntax_error_args,
    "target-stage": target_stage,
    "user-permission": user_permission,
}
CASE_NAMES = sorted(EXPECTED)
RECORDED = sorted([*CASE_NAMES, *(f"{c}.no-cache" for c in CASE_NAMES)])


def expected(name: str) -> BuildahLog:
    case, _, variant = name.partition(".")
    # The layer-cache run of the cached-* cases is the second build: every step a cache hit.
    return EXPECTED[case](IDS[name], case.startswith("cached-") and variant != "no-cache")


def test_every_case_is_recorded_and_expected() -> None:
    assert sorted(p.name for p in CASES.iterdir() if p.is_dir()) == CASE_NAMES
    assert sorted(p.name[: -len(".log")] for p in LOGS.glob("*.log")) == RECORDED
    assert sorted(IDS) == RECORDED


@pytest.mark.parametrize("case", CASE_NAMES)
def test_meta_records_versions_and_the_designed_exit_code(case: str) -> None:
    meta = json.loads((LOGS / f"{case}.meta.json").read_text())
    spec = json.loads((CASES / case / "case.json").read_text())
    assert meta["versions"]["podman"] == "4.3.1"
    assert meta["versions"]["buildah"] == "1.28.2"
    assert sorted(meta["runs"]) == ["layers", "no-cache"]
    for run in meta["runs"].values():
        assert run["exit_code"] == spec["expected_exit_code"]
        assert run["argv"][:2] == ["podman", "build"]


@pytest.mark.parametrize("name", RECORDED)
def test_parse_recorded_log(name: str) -> None:
    assert parse([recorded(name)]) == expected(name)


PROPERTIES = {
    # case: (succeeded, failed step (stage, index), last good image, the failing stage's FROM)
    "build-flags": (False, (None, 4), 1, "FROM busybox"),
    "cached-rebuild": (True, None, None, None),
    "copy-missing": (False, (None, 4), 1, "FROM busybox"),
    "exec-form": (False, (None, 2), None, "FROM busybox"),  # right after FROM: the base
    "force-rm-false": (False, (None, 4), 1, "FROM busybox"),
    "heredoc": (False, (None, 3), 0, "FROM busybox"),
    "missing-base": (
        False,
        (None, 1),
        None,
        "FROM docker.io/library/dbugbuild-test-no-such-image:1",
    ),
    "missing-base-shortname": (False, (None, 1), None, "FROM dbugbuild-test-no-such-image:1"),
    "multiline-run": (False, (None, 3), 0, "FROM busybox"),
    "multistage-nonfinal": (False, (1, 4), 1, "FROM busybox AS builder"),
    "multistage-success": (True, None, None, None),
    "onbuild-trigger": (
        False,
        (None, 2),
        None,
        "FROM localhost/dbugbuild-test-podman-logs-onbuild-parent",
    ),
    "output-like-buildah": (False, (None, 3), 0, "FROM busybox"),
    "rm-false": (False, (None, 4), 1, "FROM busybox"),
    "run-exit-100": (False, (None, 5), 2, "FROM debian:bookworm"),
    "run-exit-127": (False, (None, 4), 1, "FROM busybox"),
    "shell-docker": (False, (None, 4), 1, "FROM busybox"),
    "shell-oci": (False, (None, 4), 1, "FROM busybox"),
    "success": (True, None, None, None),
    "cached-untagged": (True, None, None, None),
    "syntax-error": (False, (None, 3), 0, "FROM busybox"),
    "syntax-error-args": (False, (None, 2), None, "FROM busybox"),
    "target-stage": (False, (2, 5), 3, "FROM {base} AS builder"),  # in the target stage
    "user-permission": (False, (None, 5), 2, "FROM busybox"),
}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_log_properties(name: str) -> None:
    log = parse([recorded(name)])
    ids = IDS[name]
    ok, where, good, base = PROPERTIES[name.partition(".")[0]]
    failed_step = log.failed_step
    stage_from = log.failed_stage_from
    assert log.succeeded is ok
    assert (None if failed_step is None else (failed_step.stage, failed_step.index)) == where
    assert log.last_good_image == (None if good is None else ids.images[good])
    if base is not None and ids.bases:
        base = base.format(base=ids.bases[0])
    assert (None if stage_from is None else stage_from.text) == base


# --- Public logs -----------------------------------------------------------------------------

PUBLIC_EXPECTED: dict[str, BuildahLog] = {
    "podman5-multistage-runtime-error": failed(
        step(
            1,
            2,
            "FROM cp.stg.icr.io/cp/cpd/olm-utils-v3:latest-validated AS olm-utils-v3",
            stage=(1, 2),
        ),
        step(
            2,
            2,
            "RUN cd /opt/ansible &&     tar czf /tmp/opt-ansible-v3.tar.gz *",
            None,
            (
                "error running container: from /usr/bin/crun creating container for [/bin/sh -c"
                " cd /opt/ansible &&     tar czf /tmp/opt-ansible-v3.tar.gz *]: unknown version"
                " specified",
                ": exit status 1",
                "ERRO[0027] did not get container create message from subprocess: EOF",
            ),
            stage=(1, 2),
        ),
        failure=run_failed("RUN cd /opt/ansible &&     tar czf /tmp/opt-ansible-v3.tar.gz *", 1),
    ),
    "podman-copy-from-missing": failed(
        step(1, 13, "FROM scratch", stage=(3, 3)),
        step(2, 13, "COPY --from=packager /output /", "b9bdce1677fd", stage=(3, 3)),
        step(
            3,
            13,
            "COPY --from=packager /etc/yum.repos.d /etc/yum.repos.d",
            "8b3e1d89b44c",
            stage=(3, 3),
        ),
        step(4, 13, "COPY --from=packager /root/buildinfo /root/buildinfo", stage=(3, 3)),
        # the runner's "Error: Process completed with exit code 125." does not replace it
        failure=Failure(
            'building at STEP "COPY --from=packager /root/buildinfo /root/buildinfo": checking on'
            ' sources under "/home/runner/.local/share/containers/storage/overlay/'
            'b2159aa7fafe191fb32c84d95167c6d7f360f63d166ade29f126c9689481f157/merged": copier:'
            ' stat: "/root/buildinfo": no such file or directory',
            None,
            "COPY --from=packager /root/buildinfo /root/buildinfo",
            "copy-source",
            "/root/buildinfo",
        ),
    ),
    "podman4.6-runtime-sdbus": failed(
        step(1, 2, "FROM quay.io/centos/centos:stream9"),
        step(
            2,
            2,
            "RUN dnf install -y bind-utils",
            None,
            (
                "error running container: from /usr/bin/crun creating container for [/bin/sh -c"
                " dnf install -y bind-utils]: sd-bus call: Interactive authentication required.:"
                " Permission denied",
                ": exit status 1",
                "ERRO[0000] did not get container create message from subprocess: EOF",
            ),
        ),
        failure=run_failed("RUN dnf install -y bind-utils", 1),
    ),
    "podman2-run-exit1": failed(
        step(1, None, "FROM fedora:32"),
        step(
            2,
            None,
            "RUN dnf -y install make",
            None,
            (
                "2020-09-01T20:48:12.000711043Z: sd-bus call: Permission denied",
                "error running container: error creating container for [/bin/sh -c dnf -y "
                "install make]: : exit status 1",
            ),
        ),
        failure=run_failed("RUN dnf -y install make", 1, old=True),
    ),
    "buildah1-bud-success-commit-step": BuildahLog(
        steps=(step(1, None, "FROM alpine"), step(2, None, "RUN whoami", None, ("root",))),
        commits=(Commit(None, None, "foo"),),
        failure=None,
        image="3684c127b9f3789656cd7c2180af9e6d1f7f19fe8c9c5c045fd1a42d40616ae4",
        tags=(),
    ),
    "buildah1.23-bud-workdir-denied": failed(
        step(1, 2, "FROM scratch"),
        step(2, 2, "WORKDIR /bin"),
        failure=Failure(
            'error building at STEP "WORKDIR /bin": copier: mkdir: error checking directory '
            '"/bin": mkdir /bin: permission denied',
            None,
            "WORKDIR /bin",
            "other",
            None,
        ),
    ),
    "podman1.2-success": BuildahLog(
        steps=(
            step(
                1,
                None,
                "FROM jekyll/jekyll:3.7.3",
                None,
                ("{removed hapy build lines for brevity}",),
            ),
            step(
                2,
                None,
                "RUN apk --no-cache add     file     imagemagick",
                "e7f81be21379abe27d4a63cc9348edf047d0179c41382e5debc3db437b0ab444",
                (
                    "fetch http://dl-cdn.alpinelinux.org/alpine/v3.7/main/x86_64/APKINDEX.tar.gz",
                    "fetch http://dl-cdn.alpinelinux.org/alpine/v3.7/community/x86_64/APKINDEX.tar.gz",
                    "(1/31) Installing libmagic (5.32-r0)",
                    "(2/31) Installing file (5.32-r0)",
                    "(3/31) Installing fontconfig (2.12.6-r0)",
                    "(4/31) Installing libltdl (2.4.6-r4)",
                    "...",
                ),
            ),
        ),
        commits=(Commit(None, None, None),),  # `STEP 15: COMMIT ` names no image
        failure=None,
        image="e7f81be21379abe27d4a63cc9348edf047d0179c41382e5debc3db437b0ab444",
        tags=(),
    ),
    "podman1.8-run-redacted": failed(
        step(
            15,
            None,
            "RUN bin/jboss-cli.sh --file=cli/0-K8sCluster.cli"
            " -Dserver.config=standalone-full-ha.xml",
            None,
            (
                "error running container: error creating new mount namespace for [/bin/sh -c "
                "bin/jboss-cli.sh --file=cli/test.cli ]: operation not permitted",
            ),
        ),
        failure=run_failed("RUN bin/jboss-cli.sh --file=cli/test.cli", 1, old=True),
    ),
    "podman-global-counter-copy-from": failed(
        step(10, None, "RUN assemble", "1d67b858dc6", cached=True),
        step(11, None, "FROM quay.io/ansible/ansible-runner:devel"),
        step(12, None, "COPY --from=galaxy /usr/share/ansible/roles /usr/share/ansible/roles"),
        failure=Failure(
            'error building at STEP "COPY --from=galaxy /usr/share/ansible/roles '
            '/usr/share/ansible/roles": error adding sources [/home/alancoding/.local/share/'
            "containers/storage/overlay/7ab81497e1d4bfeb2018a95785a719c9e92ed0a5fc96a41bf172e6592"
            'e88f0c4/merged/usr/share/ansible/roles]: no items matching glob "/home/alancoding/'
            ".local/share/containers/storage/overlay/7ab81497e1d4bfeb2018a95785a719c9e92ed0a5fc96"
            'a41bf172e6592e88f0c4/merged/usr/share/ansible/roles" copied (1 filtered out): no '
            "such file or directory",
            None,
            "COPY --from=galaxy /usr/share/ansible/roles /usr/share/ansible/roles",
            "copy-source",
            "/home/alancoding/.local/share/containers/storage/overlay/7ab81497e1d4bfeb2018a95785a7"
            "19c9e92ed0a5fc96a41bf172e6592e88f0c4/merged/usr/share/ansible/roles",
        ),
    ),
    "podman1.4-copy-error": failed(
        step(9, None, "COPY ./root/ /"),
        failure=Failure(
            'error building at STEP "COPY ./root/ /": error copying "/home/lpcs/lpcsf-new/test/'
            'container/s2i-ruby-container/2.5/root/help.1" to "/home/lpcs/.local/share/containers/'
            "storage/overlay/8af5effa6224129f59b2a5432067d771803338984b32d6e1ad9a751ed254d6b6/"
            'merged": Error processing tar file(exit status 1): unlinkat //help.1: file exists',
            None,  # the "exit status 1" inside is tar's, not the step's
            "COPY ./root/ /",
            "other",
            None,
        ),
    ),
    "podman0.3-struct-erro": BuildahLog(steps=(), commits=(), failure=None, image=None, tags=()),
    "buildah-build-success-no-layers": BuildahLog(
        steps=(
            step(1, 3, "FROM alpine"),
            step(2, 3, "USER root"),  # without --layers: no id per step
            step(3, 3, "RUN touch hello", "094a0c66ede"),
        ),
        commits=(Commit(None, None, "test"),),
        failure=None,
        image="094a0c66ede",  # the final 64-hex line is not in the posted copy
        tags=("localhost/test:latest",),
    ),
    "buildah-bud-ci-indented": BuildahLog(
        steps=(),
        commits=(),
        failure=Failure(
            'error building at STEP "COPY etc /etc": checking on sources under "/home/runner/work/'
            'ublue-image/ublue-image": copier: stat: "/etc": no such file or directory',
            None,
            "COPY etc /etc",
            "copy-source",
            "/etc",
        ),
        image=None,
        tags=(),
    ),
    "podman5-cut-off": BuildahLog(
        steps=(
            step(1, 3, "FROM ruby:2-alpine3.13"),  # pull progress and "✔ ..." are Buildah's
            step(
                2,
                3,
                "RUN apk --update add --virtual build_deps     build-base     libc-dev     cmake"
                "     && apk add icu-dev openssl-dev     && gem install github-linguist     && apk"
                " del build_deps       && rm /var/cache/apk/*",
                None,
                (
                    "fetch https://dl-cdn.alpinelinux.org/alpine/v3.13/main/x86_64/APKINDEX.tar.gz",
                    "fetch https://dl-cdn.alpinelinux.org/alpine/v3.13/community/x86_64/APKINDEX.tar.gz",
                    "(1/32) Upgrading musl (1.2.2-r1 -> 1.2.2-r2)",
                    "(2/32) Installing binutils (2.35.2-r1)",
                    "(3/32) Installing libmagic (5.39-r0)",
                    "(4/32) Installing file (5.39-r0)",
                    "(5/32) Installing libgomp (10.2.1_pre1-r3)",
                    "(6/32) Installing libatomic (10.2.1_pre1-r3)",
                    "(7/32) Installing libgphobos (10.2.1_pre1-r3)",
                    "(8/32) Installing isl22 (0.22-r0)",
                ),
            ),
        ),
        commits=(),
        failure=None,  # cut off: no error, no image; nothing is invented
        image=None,
        tags=(),
    ),
}


def _struct_failure() -> Failure:
    env = (
        "APP_ROOT=/opt/app-root SPARK_HOME=/opt/spark PATH=/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin:/opt/spark/bin RADANALYTICS_JAVA_SPARK=1.0 "
        "JBOSS_IMAGE_VERSION=1.0 JBOSS_IMAGE_NAME=radanalyticsio/radanalytics-java-spark "
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/s2i "
        "JAVA_HOME=/usr/lib/jvm/java JOLOKIA_VERSION=1.4.0 PROMETHEUS_JMX_EXPORTER_VERSION=0.1.0 "
        "AB_JOLOKIA_PASSWORD_RANDOM=true AB_JOLOKIA_AUTH_OPENSHIFT=true "
        "JAVA_DATA_DIR=/deployments/data       JBOSS_IMAGE_NAME=radanalyticsio/radanalytics-java-"
        "spark JBOSS_IMAGE_VERSION=1.0 RADANALYTICS_JAVA_SPARK=1.0 PATH=/usr/local/sbin:"
        "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/spark/bin SPARK_HOME=/opt/spark "
        "APP_ROOT=/opt/app-root"
    )
    run = (
        "yum install -y  epel-release tar wget     && yum clean all &&     rpm -q  epel-release"
        " tar wget"
    )
    # As posted, a line break cuts the Message in "clean al|l": the two lines are one error.
    message_field = (
        "RUN yum install -y  epel-release tar wget     && yum clean al\n"
        "l &&     rpm -q  epel-release tar wget"
    )
    message = (
        f"error building: error building at step {{Env:[{env}] Command:run Args:[{run}] "
        f"Flags:[] Attrs:map[] Message:{message_field} Original:RUN {run}}}: exit status 139"
    )
    return Failure(message, 139, message_field, "run", None)


PUBLIC_EXPECTED["podman0.3-struct-erro"] = replace(
    PUBLIC_EXPECTED["podman0.3-struct-erro"], failure=_struct_failure()
)
PUBLIC_NAMES = sorted(PUBLIC_EXPECTED)


def test_every_public_log_is_tested_and_sourced() -> None:
    assert sorted(p.name[: -len(".log")] for p in PUBLIC.glob("*.log")) == PUBLIC_NAMES
    for name in PUBLIC_NAMES:
        source = (PUBLIC / f"{name}.source").read_text()
        assert re.match(r"URL: https://github\.com/\S+", source), name
        assert "Version:" in source and "Copied:" in source and "Special:" in source, name


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_parse_public_log(name: str) -> None:
    assert parse([public(name)]) == PUBLIC_EXPECTED[name]


def test_public_log_properties() -> None:
    def props(name: str) -> tuple[object, ...]:
        log = parse([public(name)])
        failed_step, stage_from = log.failed_step, log.failed_stage_from
        return (
            None if failed_step is None else (failed_step.stage, failed_step.index),
            log.last_good_image,
            None if stage_from is None else stage_from.index,
        )

    assert props("podman5-multistage-runtime-error") == ((1, 2), None, 1)
    assert props("podman-copy-from-missing") == ((3, 4), "8b3e1d89b44c", 1)
    # one counter for all stages: the failing COPY follows the second stage's FROM
    assert props("podman-global-counter-copy-from") == ((None, 12), None, 11)
    # the error quotes another text than the STEP line (edited by its poster): the last step
    assert props("podman1.8-run-redacted") == ((None, 15), None, None)
    assert props("buildah-bud-ci-indented") == (None, None, None)
    assert props("podman5-cut-off") == (None, None, None)


# --- Chunking, line endings, CI prefixes -------------------------------------------------------

ALL_LOGS = [("recorded", n) for n in RECORDED] + [("public", n) for n in PUBLIC_NAMES]


def text_of(kind: str, name: str) -> str:
    return recorded(name) if kind == "recorded" else public(name)


@pytest.mark.parametrize(("kind", "name"), ALL_LOGS)
def test_result_does_not_depend_on_chunking(kind: str, name: str) -> None:
    text = text_of(kind, name)
    whole = parse([text])
    for size in (1, 2, 3, 5, 7, 64):
        assert parse(pieces(text, size)) == whole, size
    for seed in range(5):
        assert parse(random_pieces(text, seed)) == whole, seed


def _each_line(text: str, change: Callable[[str], str]) -> str:
    return "".join(change(line) + "\n" for line in text.splitlines())


@pytest.mark.parametrize(("kind", "name"), ALL_LOGS)
def test_crlf_cr_and_ansi_colour_change_nothing(kind: str, name: str) -> None:
    text = text_of(kind, name)
    whole = parse([text])
    crlf = text.replace("\n", "\r\n")
    assert parse([crlf]) == whole
    assert parse(pieces(crlf, 3)) == whole  # \r and \n of one ending in two chunks
    assert parse([text.replace("\n", "\r")]) == whole  # lone CR ends a line as well
    bold = _each_line(text, lambda line: f"\x1b[1m{line}\x1b[0m")
    assert parse(pieces(bold, 4)) == whole  # escape sequences cut across chunks


CI_PREFIXES = {
    "github": lambda n: f"2024-03-05T10:11:{n % 60:02d}.{n:07d}Z ",
    "jenkins-iso": lambda n: f"[2024-03-05T10:11:{n % 60:02d}.{n % 1000:03d}Z] ",
    "jenkins-time": lambda n: f"10:11:{n % 60:02d} ",
}


@pytest.mark.parametrize("prefix", sorted(CI_PREFIXES))
@pytest.mark.parametrize(("kind", "name"), ALL_LOGS)
def test_ci_timestamp_prefix_changes_nothing(kind: str, name: str, prefix: str) -> None:
    text = text_of(kind, name)
    stamp = CI_PREFIXES[prefix]
    prefixed = "".join(stamp(n) + line + "\n" for n, line in enumerate(text.splitlines()))
    assert parse(pieces(prefixed, 5)) == parse([text])


def test_indented_log_changes_nothing() -> None:
    text = recorded("run-exit-100")
    assert parse([_each_line(text, lambda line: "    " + line)]) == parse([text])


# --- Several builds, the tail, bad use ---------------------------------------------------------


def test_several_builds_in_one_log_the_last_counts() -> None:
    first, second = recorded("run-exit-100"), recorded("success")
    assert parse([first + second]) == parse([second])
    assert parse([second + first]) == parse([first])
    assert parse([first + "retrying\n" + first]) == parse([first])  # a CI retry of a failure
    multi = recorded("multistage-success")
    assert parse([first + multi]) == parse([multi])  # [1/2] STEP 1/n starts a build


def test_tail_keeps_the_last_lines() -> None:
    text = recorded("multistage-nonfinal")
    full = parse([text])
    last = replace(full.steps[3], output_tail=full.steps[3].output_tail[-1:])
    assert parse([text], tail=1) == replace(full, steps=(*full.steps[:3], last))
    bare = parse([text], tail=0)
    assert bare == replace(full, steps=tuple(replace(s, output_tail=()) for s in full.steps))


def test_weak_error_line_is_output_when_output_follows() -> None:
    # `Error: ...` printed by a RUN, followed by more output: the step's, not a failure.
    text = recorded("output-like-buildah")
    head = text[: text.index("STEP 3/3")]
    log = parse([head])
    assert log.failure is None
    assert log.steps[1].output_tail[0] == (
        "Error: this line is the program's, and the build goes on"
    )
    # an `Error: ` line at the end with nothing after it is the failure
    ended = parse([head + "Error: something went wrong\n"])
    assert ended.failure == Failure("something went wrong", None, None, "other", None)


def test_parser_rejects_bad_use() -> None:
    with pytest.raises(ValueError, match="tail"):
        BuildahLogParser(tail=-1)
    parser = BuildahLogParser()
    parser.feed(recorded("success"))
    log = parser.close()
    assert parser.close() == log  # close() twice: the same result
    with pytest.raises(ValueError, match="after close"):
        parser.feed("STEP 1/1: FROM busybox\n")


# --- Not a Buildah log ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        "hello world\n",
        "\x00\x01\x02 binary junk \xff\n" * 40,
        "STEP 1/2 FROM busybox\n",  # no colon: not Buildah's
        "step 1/2: FROM busybox\n",
        "--> 1a2b3c4d5e6\n",  # an id without a step
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(BuildahLogError) as caught:
        parse([garbage])
    assert isinstance(caught.value, LogFormatError)  # the CLI's error boundary knows it
    assert "STEP 1/3: FROM" in str(caught.value)


@pytest.mark.parametrize("chunks", [[], [""], ["\n\n  \r\n"]])
def test_empty_input_is_refused(chunks: list[str]) -> None:
    with pytest.raises(BuildahLogError, match="empty"):
        parse(chunks)


def test_classic_and_buildkit_logs_are_refused_by_name() -> None:
    classic = (CLASSIC / "run-exit-100.txt").read_text()
    with pytest.raises(BuildahLogError, match="classic `docker build` log"):
        parse([classic])
    buildkit = (CLASSIC / "historic" / "buildkit-plain.txt").read_text()
    with pytest.raises(BuildahLogError, match="BuildKit log"):
        parse([buildkit])


@pytest.mark.parametrize(("kind", "name"), ALL_LOGS)
def test_looks_like_buildah_on_buildah_logs(kind: str, name: str) -> None:
    assert looks_like_buildah(text_of(kind, name)[:4096])


@pytest.mark.parametrize(
    "path",
    sorted(CLASSIC.glob("*.txt")) + sorted((CLASSIC / "historic").glob("*.txt")),
    ids=lambda p: p.name,
)
def test_looks_like_buildah_not_on_docker_logs(path: Path) -> None:
    assert not looks_like_buildah(path.read_text(errors="replace")[:4096])


def test_looks_like_buildah_not_on_garbage() -> None:
    assert not looks_like_buildah("")
    assert not looks_like_buildah("Error: no such file\nhello\n")  # weak: not Buildah's
    assert looks_like_buildah('Error: building at STEP "RUN x": exit status 1\n')


# --- Bounded memory, long lines ---------------------------------------------------------------


def _big_log(output_lines: int) -> Iterator[str]:
    """run-exit-100 with `output_lines` more lines of output in its failing step, in chunks."""
    text = recorded("run-exit-100")
    cut = text.index("E: Invalid operation")
    yield text[:cut]
    line = "Get:1 http://deb.debian.org/debian bookworm/main amd64 libfoo1 2.3.4-1 [123 kB]\n"
    batch = line * 1000
    for _ in range(output_lines // 1000):
        yield batch
    yield text[cut:]


def _peak(chunks: Iterator[str]) -> tuple[int, BuildahLog]:
    tracemalloc.start()
    try:
        parser = BuildahLogParser()
        for chunk in chunks:
            parser.feed(chunk)
        log = parser.close()
        return tracemalloc.get_traced_memory()[1], log
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_on_a_large_log() -> None:
    small_peak, small = _peak(_big_log(10_000))  # ~0.8 MB of output
    large_peak, large = _peak(_big_log(300_000))  # ~24 MB of output
    assert large == small
    failing = large.steps[-1]
    assert len(failing.output_tail) == 20  # the default tail
    assert failing.output_tail[-1] == "E: Invalid operation update-all"
    original = parse([recorded("run-exit-100")])
    assert replace(large, steps=(*large.steps[:-1], original.steps[-1])) == original
    assert large_peak < 4 * 1024 * 1024
    assert large_peak < small_peak + 1024 * 1024  # does not grow with the log


def test_long_lines_are_cut_and_memory_stays_bounded() -> None:
    text = recorded("run-exit-127")
    cut = text.index("/bin/sh: dbugbuild")
    long_line = "x" * (3 * MAX_LINE + 5)
    chunks = [text[:cut], *pieces(long_line, 65536), "\n", text[cut:]]
    peak, log = _peak(iter(chunks))
    failing = log.steps[-1]
    assert failing.output_tail == (
        "x" * MAX_LINE,
        "x" * MAX_LINE,
        "x" * MAX_LINE,
        "xxxxx",
        "/bin/sh: dbugbuild-no-such-command: not found",
    )
    assert parse([text[:cut] + long_line + "\n" + text[cut:]]) == log  # one chunk: the same
    assert peak < 12 * MAX_LINE

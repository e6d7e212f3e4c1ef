"""backends.choice: which builder runs a build, why, and the line that decided it. Pure: each
trigger of issue 11 on a Dockerfile that has it, and the same file without it."""

from __future__ import annotations

import pytest

from dbugbuild import backends
from dbugbuild.backends.choice import Choice, choose, docker_buildkit
from dbugbuild.backends.triggers import buildkit_trigger
from dbugbuild.dockerfile import parse
from dbugbuild.errors import UsageError
from dbugbuild.options import BuildOptions

PLAIN = "FROM busybox:latest\nWORKDIR /app\nCOPY --chown=1:1 a.txt ./\nRUN make\n"


def _choose(text: str, build: BuildOptions | None = None, env: str | None = None) -> Choice:
    try:
        model = parse(text)
    except ValueError:
        model = None
    return choose("auto", env, model, text, build or BuildOptions())


def test_choice_plain_dockerfile_keeps_the_classic_builder() -> None:
    choice = _choose(PLAIN)
    assert (choice.backend, choice.by, choice.line, choice.conflict) == (
        "classic",
        "auto",
        None,
        None,
    )
    assert choice.reason.startswith("the Dockerfile builds the same with both builders")


# Each trigger: the Dockerfile line that has it, and the reason's start.
TRIGGERS = [
    ("RUN --mount=type=cache,target=/root/.cache make\n", "uses `RUN --mount`"),
    ("RUN --mount type=secret,id=tok cat /run/secrets/tok\n", "uses `RUN --mount`"),
    ("RUN --network=none make\n", "uses `RUN --network`"),
    ("RUN --security=insecure make\n", "uses `RUN --security`"),
    ("RUN --device=name=nvidia make\n", "uses `RUN --device`"),
    ("RUN <<EOT\nset -e\nmake\nEOT\n", "has a heredoc in RUN"),
    ("RUN <<-'EOT' sh\n\tmake\n\tEOT\n", "has a heredoc in RUN"),
    ("RUN 3<<EOT cat /dev/fd/3\nhi\nEOT\n", "has a heredoc in RUN"),
    ("COPY <<EOF /etc/app.conf\nkey=1\nEOF\n", "has a heredoc in COPY"),
    ("ADD <<EOF /etc/app.conf\nkey=1\nEOF\n", "has a heredoc in ADD"),
    ("COPY --chmod=755 run.sh /usr/local/bin/\n", "uses `COPY --chmod`"),
    ("COPY --link a.txt /a.txt\n", "uses `COPY --link`"),
    ("COPY --parents src/*.go /app/\n", "uses `COPY --parents`"),
    ("COPY --exclude=*.md . /app/\n", "uses `COPY --exclude`"),
    ("ADD --checksum=sha256:0123 https://example.org/a.tgz /\n", "uses `ADD --checksum`"),
    ("ADD --keep-git-dir=true https://github.com/a/b.git /src\n", "uses `ADD --keep-git-dir`"),
    ("ARG TARGETARCH\n", "declares `ARG TARGETARCH`"),
    ("ARG BUILDPLATFORM\n", "declares `ARG BUILDPLATFORM`"),
    ("ARG TARGETOS TARGETVARIANT\n", "declares `ARG TARGETOS`"),
]


@pytest.mark.parametrize(("line", "says"), TRIGGERS, ids=[t[0].split("\n")[0] for t in TRIGGERS])
def test_choice_each_dockerfile_trigger_picks_buildkit_with_its_line(line: str, says: str) -> None:
    text = "FROM busybox:latest\nRUN echo before\n" + line + "RUN echo after\n"
    choice = _choose(text)
    assert (choice.backend, choice.by, choice.line) == ("buildkit", "auto", 3)
    assert choice.reason.startswith(f"line 3 {says}"), choice.reason


@pytest.mark.parametrize(
    "line",
    [
        "ARG TARGETARCH=amd64\n",  # a default: the same under both builders
        "ARG VERSION\n",
        "RUN echo '<<EOT'\n",  # quoted: no heredoc
        'RUN sh -c "cat <<EOF"\n',
        "RUN cat <<< hello\n",  # a here-string, not a heredoc
        'RUN ["sh", "-c", "cat <<EOF"]\n',  # exec form has no heredocs
        "COPY --chown=1:1 --from=busybox:latest /bin/sh /sh\n",
        "# syntax=docker/dockerfile:1\n",  # not at the top: a comment
    ],
)
def test_choice_lookalikes_keep_the_classic_builder(line: str) -> None:
    choice = _choose("FROM busybox:latest\n" + line + "RUN true\n")
    assert choice.backend == "classic", choice.reason


def test_choice_syntax_directive_decides_on_its_line() -> None:
    choice = _choose("# escape=\\\n# syntax=docker/dockerfile:1.7\nFROM busybox\nRUN true\n")
    assert (choice.backend, choice.line) == ("buildkit", 2)
    assert choice.reason == (
        "line 2 has a `# syntax=docker/dockerfile:1.7` directive, which only BuildKit reads"
    )


def test_choice_from_platform_of_an_automatic_arg() -> None:
    choice = _choose("FROM --platform=$BUILDPLATFORM busybox AS build\nRUN true\n")
    assert (choice.backend, choice.line) == ("buildkit", 1)
    assert "$BUILDPLATFORM" in choice.reason


def test_choice_first_trigger_in_the_file_decides() -> None:
    text = "FROM busybox\nARG TARGETARCH\nRUN --mount=type=cache,target=/c true\n"
    assert _choose(text).line == 2


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (BuildOptions(secrets=("id=tok,src=tok.txt",)), "--secret is an option only BuildKit"),
        (BuildOptions(ssh=("default",)), "--ssh is an option only BuildKit"),
        (BuildOptions(build_contexts=("src=../src",)), "--build-context is an option"),
        (BuildOptions(builder="farm"), "--builder names a buildx builder"),
        (BuildOptions(platform="linux/amd64,linux/arm64"), "several platforms (linux/amd64, "),
    ],
)
def test_choice_buildkit_only_options_pick_buildkit_without_a_line(
    build: BuildOptions, says: str
) -> None:
    choice = _choose(PLAIN, build)
    assert (choice.backend, choice.line) == ("buildkit", None)
    assert choice.reason.startswith(says)


def test_choice_one_platform_keeps_the_classic_builder() -> None:
    assert _choose(PLAIN, BuildOptions(platform="linux/amd64")).backend == "classic"


def test_choice_dockerfile_that_does_not_parse_is_read_line_by_line() -> None:
    """A heredoc body the model cannot read (before heredocs) still sends it to BuildKit."""
    text = "FROM busybox\nRUN <<EOT\nset -e\ntest -f /x\nEOT\n"
    choice = choose("auto", None, None, text, BuildOptions())
    assert (choice.backend, choice.line) == ("buildkit", 2)
    assert _choose("FROM busybox\nRUNN true\n").backend == "classic"


@pytest.mark.parametrize(
    ("value", "backend"),
    [("1", "buildkit"), ("true", "buildkit"), ("0", "classic"), ("False", "classic")],
)
def test_choice_docker_buildkit_decides_as_for_docker(value: str, backend: str) -> None:
    choice = _choose(PLAIN, env=value)
    assert (choice.backend, choice.by, choice.reason) == (
        backend,
        "DOCKER_BUILDKIT",
        f"DOCKER_BUILDKIT={value}",
    )


def test_choice_docker_buildkit_empty_is_unset_and_garbage_is_refused() -> None:
    assert docker_buildkit("") is None
    assert _choose(PLAIN, env="").by == "auto"
    with pytest.raises(UsageError, match="DOCKER_BUILDKIT=yes is not a boolean"):
        _choose(PLAIN, env="yes")


def test_choice_backend_option_wins_over_the_environment() -> None:
    text = "FROM busybox\nRUN --mount=type=cache,target=/c true\n"
    forced = choose("classic", "1", parse(text), text, BuildOptions())
    assert (forced.backend, forced.by, forced.reason) == (
        "classic",
        "--backend",
        "--backend classic",
    )
    assert forced.conflict == (
        "the classic builder was asked for (--backend classic), but line 2 uses `RUN --mount`, "
        "which the classic builder refuses: it may refuse this build or build it differently"
    )
    assert choose("buildkit", "0", parse(PLAIN), PLAIN, BuildOptions()).backend == "buildkit"
    env = choose("auto", "0", parse(text), text, BuildOptions())
    assert (env.backend, env.by) == ("classic", "DOCKER_BUILDKIT")
    assert env.conflict is not None


@pytest.mark.parametrize(
    ("requested", "env", "text", "build"),
    [
        ("classic", None, "FROM busybox\nRUN --mount=type=cache,target=/c true\n", BuildOptions()),
        ("auto", "0", "# syntax=docker/dockerfile:1\nFROM busybox\n", BuildOptions()),
        ("classic", None, PLAIN, BuildOptions(platform="linux/amd64,linux/arm64")),
        ("classic", None, "FROM busybox\nRUN <<EOT\ntrue\nEOT\n", BuildOptions()),
        ("classic", None, "FROM busybox\nRUN --mount=type=cache,target=/c true\n\\", None),
        ("classic", None, PLAIN, BuildOptions()),
        ("buildkit", None, PLAIN, BuildOptions()),
        ("auto", "1", PLAIN, BuildOptions()),
    ],
)
def test_choice_noted_later_is_the_choice_made_with_the_dockerfile(
    requested: str, env: str | None, text: str, build: BuildOptions | None
) -> None:
    """A build whose choice needs no Dockerfile starts before it is parsed (reads_dockerfile):
    choose() without it, then noted() while the build runs, gives what choose() gives with
    it: a forced classic build's note of what wants BuildKit, the first trigger deciding."""
    opts = build or BuildOptions()
    try:
        model = parse(text)
    except ValueError:
        model = None
    assert not backends.reads_dockerfile(requested, env, None)
    later = backends.noted(choose(requested, env, None, None, opts), model, text, opts)
    assert later == choose(requested, env, model, text, opts)


def test_choice_reads_the_dockerfile_only_to_decide() -> None:
    assert backends.reads_dockerfile("auto", None, None)
    assert backends.reads_dockerfile("auto", "", None)
    assert not backends.reads_dockerfile("auto", None, "the endpoint is a Podman service")
    assert not any(backends.reads_dockerfile(b, None, None) for b in ("classic", "buildkit"))


def test_choice_for_refuses_what_the_chosen_builder_cannot_take() -> None:
    with pytest.raises(UsageError, match="--secret is a BuildKit option, and the classic builder"):
        backends.choose_for(
            BuildOptions(secrets=("id=a",), backend="classic"), parse(PLAIN), PLAIN, None
        )
    with pytest.raises(UsageError, match="--builder names a buildx builder, and podman was"):
        backends.choose_for(BuildOptions(backend="podman", builder="b"), parse(PLAIN), PLAIN, None)
    with pytest.raises(UsageError, match="the kaniko backend is not part of this dbugbuild"):
        backends.backend("kaniko")


def test_choice_trigger_is_none_without_a_dockerfile() -> None:
    assert buildkit_trigger(None, None, BuildOptions()) is None

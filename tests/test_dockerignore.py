"""dockerignore.py: which .dockerignore line keeps a path out of the build context.

The pure tests pin the docker CLI's rules (moby/patternmatcher); the docker test checks the
same verdicts against the context the real CLI sends, for one file tree and pattern set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import remove_build, run_cli
from dbugbuild.dockerfile.dockerignore import Pattern, excluded_by, patterns
from dbugbuild.engine import Engine

IGNORE = """\
# comments and blank lines are skipped

*.log
!keep.log
/secret/
**/tmp-*
docs/**/*.md
!docs/README.md
build
node_modules/**
"""


def test_patterns_are_cleaned_as_the_cli_reads_them() -> None:
    assert patterns(IGNORE) == (
        Pattern(3, "*.log", "*.log", False),
        Pattern(4, "!keep.log", "keep.log", True),
        Pattern(5, "/secret/", "secret", False),
        Pattern(6, "**/tmp-*", "**/tmp-*", False),
        Pattern(7, "docs/**/*.md", "docs/**/*.md", False),
        Pattern(8, "!docs/README.md", "docs/README.md", True),
        Pattern(9, "build", "build", False),
        Pattern(10, "node_modules/**", "node_modules/**", False),
    )


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("a.log", 3),
        ("keep.log", None),  # re-included by the `!` line after it
        ("sub/a.log", None),  # `*` does not cross folders
        ("secret/key.pem", 5),  # a parent folder matches
        ("secret", 5),
        ("sub/deeper/tmp-1", 6),
        ("tmp-2", 6),  # `**/` also matches no folder at all
        ("docs/guide/a.md", 7),
        ("docs/a.md", 7),
        ("docs/README.md", None),
        ("build/out/app", 9),
        ("builder.txt", None),
        ("node_modules/x/index.js", 10),
        ("./a.log", 3),  # cleaned as a COPY source is
        ("/a.log", 3),
        ("src/app.py", None),
        (".", None),  # the CLI never excludes the whole context
    ],
)
def test_excluded_by(path: str, line: int | None) -> None:
    found = excluded_by(IGNORE, path)
    assert (found.line if found else None) == line


def test_excluded_by_the_first_pattern_still_in_force() -> None:
    """Excluded, re-included, excluded again: the last exclusion is the one to change."""
    text = "*.conf\n!app.conf\napp.*\n"
    assert excluded_by(text, "app.conf") == Pattern(3, "app.*", "app.*", False)


def test_excluded_by_suffix_patterns() -> None:
    assert excluded_by("**foo\n", "a/barfoo") == Pattern(1, "**foo", "**foo", False)
    assert excluded_by("**/foo\n", "foo") is not None
    assert excluded_by("**/foo\n", "barfoo") is None


def test_excluded_by_escapes_and_classes() -> None:
    assert excluded_by("file[0-9].txt\n", "file7.txt") is not None
    assert excluded_by("file[0-9].txt\n", "fileX.txt") is None
    assert excluded_by("a\\*b\n", "a*b") is not None
    assert excluded_by("a\\*b\n", "axb") is None
    assert excluded_by("weird[\n", "weird[") is None  # a malformed class matches nothing


def test_patterns_skip_a_bom_and_a_lone_bang() -> None:
    assert patterns("\ufeff*.tmp\n!\n") == (Pattern(1, "*.tmp", "*.tmp", False),)


TREE = (
    "a.log",
    "keep.log",
    "sub/a.log",
    "secret/key.pem",
    "sub/deeper/tmp-1",
    "tmp-2",
    "docs/guide/a.md",
    "docs/a.md",
    "docs/README.md",
    "build/out/app",
    "builder.txt",
    "node_modules/x/index.js",
    "src/app.py",
)


@pytest.mark.docker
def test_excluded_by_agrees_with_the_docker_cli(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    (tmp_path / ".dockerignore").write_text(IGNORE)
    for name in TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort && exit 3\n"
    )
    run = run_cli(["--no-cache", "--format", "json", "."], tmp_path)
    report = run.json()
    try:
        assert run.code == 3
        sent = {line.removeprefix("./") for line in report["failed_step"]["output_tail"]}
        assert sent - {".dockerignore", "Dockerfile"} == {
            name for name in TREE if excluded_by(IGNORE, name) is None
        }
    finally:
        remove_build(engine, report)

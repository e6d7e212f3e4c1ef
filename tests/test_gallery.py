"""The sample_failures/ gallery without a daemon: every sample is complete and consistent,
the gallery covers every failure class, `dbugbuild samples` lists it, and the READMEs point
learners at it. (tests/test_samples.py builds the samples on the real daemon.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import TESTS, run_cli
from dbugbuild import samples
from dbugbuild.diagnosis import CLASSES
from dbugbuild.dockerfile import DockerfileSyntaxError, parse

REPO = TESTS.parent
GALLERY = REPO / "sample_failures"
NAMES = sorted(p.name for p in GALLERY.iterdir() if p.is_dir())
# The only images samples may name: the local base images, an invalid reference and a
# registry where nothing listens (base-image samples fail before any registry is contacted).
ALLOWED_FROM = {"busybox", "busybox:latest", "debian:bookworm", "BusyBox:latest"}


def _expected(name: str) -> dict[str, object]:
    return json.loads((GALLERY / name / "expected.json").read_text())  # type: ignore[no-any-return]


def _is_compose(name: str) -> bool:
    return (GALLERY / name / samples.COMPOSE_FILE).is_file()


def _dockerfile(name: str) -> Path:
    """The sample's failing Dockerfile: its own, or (Compose) the failing service's."""
    return GALLERY / name / str(_expected(name).get("dockerfile", "Dockerfile"))


def test_gallery_has_at_least_15_samples_covering_every_class() -> None:
    assert len(NAMES) >= 15
    assert {_expected(n)["class"] for n in NAMES} == set(CLASSES)


@pytest.mark.parametrize("name", NAMES)
def test_sample_is_complete(name: str) -> None:
    folder = GALLERY / name
    assert _dockerfile(name).is_file()
    expected = _expected(name)
    keys = samples.COMPOSE_KEYS if _is_compose(name) else samples.EXPECTED_KEYS
    assert tuple(expected) == keys
    assert expected["class"] in CLASSES
    assert isinstance(expected["exit_code"], int) and expected["exit_code"] >= 1
    readme = (folder / "README.md").read_text()
    assert readme.startswith(f"# {name}\n")
    assert samples.lesson(readme)
    assert "Fix" in readme and "Try it" in readme


@pytest.mark.parametrize("name", NAMES)
def test_sample_expected_line_is_its_instruction(name: str) -> None:
    expected = _expected(name)
    lines = _dockerfile(name).read_text().splitlines()
    line = lines[int(str(expected["line"])) - 1]
    assert line.split()[0].upper() == expected["instruction"]


@pytest.mark.parametrize("name", NAMES)
def test_sample_uses_only_local_images(name: str) -> None:
    dockerfiles = sorted((GALLERY / name).rglob("Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:  # a Compose sample has one per service
        text = dockerfile.read_text()
        try:
            stages = {s.name for s in parse(text).stages}
        except DockerfileSyntaxError:
            stages = set()
        pattern = r"^FROM\s+(?:--\S+\s+)*(\S+)"
        for found in re.finditer(pattern, text, re.MULTILINE | re.IGNORECASE):
            image = found.group(1)
            allowed = image in ALLOWED_FROM or image.startswith("127.0.0.1:9/")
            assert allowed or image in stages, image


def test_simulated_samples_say_how() -> None:
    for name in ("disk-full", "from-unreachable-registry"):
        assert "Simulated:" in (GALLERY / name / "README.md").read_text(), name
        assert "SIMULATION" in (GALLERY / name / "Dockerfile").read_text(), name


def test_gallery_index_lists_every_sample() -> None:
    index = (GALLERY / "README.md").read_text()
    for name in NAMES:
        assert f"| [{name}]({name}/) | `{_expected(name)['class']}` |" in index, name


def test_samples_command_lists_every_sample_with_its_lesson() -> None:
    run = run_cli(["samples"], REPO)
    assert run.code == 0
    head, listing, tail = run.stdout.split("\n\n")  # the header, the samples, Compose's
    lines = [head, "", *listing.splitlines()]
    composed = [n for n in NAMES if _is_compose(n)]
    assert composed and tail == (
        f"{', '.join(composed)}: Compose projects; build and debug one with: "
        "dbugbuild compose -f sample_failures/NAME/compose.yaml\n"
    )
    assert lines[0] == (
        f"{len(NAMES)} failing builds in sample_failures/; build and debug one with: "
        "dbugbuild sample_failures/NAME"
    )
    listed = {line.split()[0]: line for line in lines[2:]}
    assert sorted(listed) == NAMES
    for name in NAMES:
        lesson = samples.lesson((GALLERY / name / "README.md").read_text())
        assert listed[name].split()[1] == _expected(name)["class"]
        assert listed[name].endswith(f"  {lesson}")


def test_samples_command_finds_the_gallery_from_elsewhere(tmp_path: object) -> None:
    run = run_cli(["samples"], str(tmp_path))
    assert run.code == 0
    assert f"{GALLERY}/" in run.stdout.splitlines()[0]


def test_samples_command_refuses_options_and_a_missing_folder() -> None:
    assert run_cli(["samples", "--all"], REPO).code == 2
    missing = run_cli(["samples", "no-such-folder"], REPO)
    assert (missing.code, missing.stderr) == (
        66,
        "dbugbuild: error: no no-such-folder folder here. Run it in a dbugbuild checkout, or "
        "give the gallery's path\n",
    )


def test_readme_points_learners_at_the_gallery() -> None:
    readme = (REPO / "README.md").read_text()
    assert "dbugbuild samples" in readme
    assert "sample_failures/" in readme
    assert "docs/failure-classes.md" in readme

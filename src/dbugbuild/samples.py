"""`dbugbuild samples`: the sample_failures/ gallery of real failing builds, with their lessons.

Each sample is a folder with a Dockerfile, its context, an `expected.json` (`class`,
`line`, `exit_code`, `instruction`) and a README whose `**Lesson: ...**` line is the
one-line lesson listed here. A Compose sample has a compose.yaml instead, and its
expected.json names the failing `service` and its `dockerfile`. Reading the folder is the
only I/O; parsing is pure.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dbugbuild.console import Console
from dbugbuild.errors import NoInputError, UsageError

GALLERY = "sample_failures"
EXPECTED_KEYS = ("class", "line", "exit_code", "instruction")
COMPOSE_KEYS = (*EXPECTED_KEYS, "service", "dockerfile")  # a sample with a compose.yaml
COMPOSE_FILE = "compose.yaml"
_LESSON = re.compile(r"^\*\*Lesson: (.+?)\*\*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Sample:
    """One build of the sample_failures/ gallery, with what it is expected to report."""

    name: str
    path: Path
    expected: dict[str, object]  # expected.json: class, line, exit_code, instruction
    lesson: str

    @property
    def compose(self) -> bool:
        """Built with `dbugbuild compose -f NAME/compose.yaml`, not `dbugbuild NAME`."""
        return (self.path / COMPOSE_FILE).is_file()


def lesson(readme: str) -> str | None:
    """The one-line lesson of a sample's README (its `**Lesson: ...**` line)."""
    found = _LESSON.search(readme)
    return found.group(1).strip() if found else None


def gallery_dir(cwd: str) -> Path | None:
    """./sample_failures, else the one in the dbugbuild checkout this module runs from."""
    for candidate in (Path(cwd) / GALLERY, Path(__file__).resolve().parents[2] / GALLERY):
        if candidate.is_dir():
            return candidate
    return None


def load(folder: Path) -> list[Sample]:
    """The samples in a gallery folder, by name (folders without expected.json are skipped)."""
    out = []
    for path in sorted(p for p in folder.iterdir() if (p / "expected.json").is_file()):
        expected = json.loads((path / "expected.json").read_text(encoding="utf-8"))
        readme = path / "README.md"
        text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        out.append(Sample(path.name, path, expected, lesson(text) or "(no lesson in README.md)"))
    return out


def run(args: list[str], console: Console) -> int:
    """List the gallery: name, failure class and lesson of each sample, and how to run one."""
    if len(args) > 1 or any(a.startswith("-") for a in args):
        raise UsageError(
            f"samples takes at most one folder, got {' '.join(args)}",
            "Run 'dbugbuild samples' or 'dbugbuild samples PATH/sample_failures'",
        )
    folder = Path(console.cwd, args[0]) if args else gallery_dir(console.cwd)
    if folder is None or not folder.is_dir():
        raise NoInputError(
            f"no {args[0] if args else GALLERY} folder here",
            "Run it in a dbugbuild checkout, or give the gallery's path",
        )
    found = load(folder)
    shown = os.path.relpath(folder, console.cwd)
    if shown.startswith(".."):
        shown = str(folder)
    console.write(
        f"{len(found)} failing builds in {shown}/; build and debug one with: "
        f"dbugbuild {shown}/NAME\n\n"
    )
    width = max((len(s.name) for s in found), default=0)
    classes = max((len(str(s.expected.get("class", ""))) for s in found), default=0)
    for sample in found:
        cls = str(sample.expected.get("class", ""))
        console.write(f"  {sample.name:<{width}}  {cls:<{classes}}  {sample.lesson}\n")
    if any(s.compose for s in found):
        console.write(
            f"\n{', '.join(s.name for s in found if s.compose)}: Compose projects; build "
            f"and debug one with: dbugbuild compose -f {shown}/NAME/{COMPOSE_FILE}\n"
        )
    return 0

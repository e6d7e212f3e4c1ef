"""Writing a fix back into the Dockerfile: nothing lost, nothing overwritten behind the user's back.

Writes are atomic (a temporary file in the same folder, then rename) and keep the
file's mode and bytes outside the edit. The previous version is kept as a numbered
backup under the user's state directory, not beside the Dockerfile: a file added
next to it would change the build context (and bust the cache of `COPY . ...` on
the very rebuild that follows). A Dockerfile that changed on disk since dbugbuild
read it is never overwritten.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dbugbuild import dockerfile
from dbugbuild.dockerfile import rewrite
from dbugbuild.errors import BadInputError, UsageError, WriteRefusedError
from dbugbuild.inputs import digest, read_text


class DockerfileChangedError(BadInputError):
    """The Dockerfile on disk is not the one dbugbuild read."""


@dataclass
class DockerfileFile:
    """The Dockerfile being edited, as dbugbuild last read or wrote it."""

    path: str  # absolute
    shown: str  # as the user named it
    text: str
    backups: Path  # folder for this Dockerfile's backups

    @classmethod
    def open(cls, path: str, shown: str, text: str | None, state_home: str) -> DockerfileFile:
        if shown == "-" or text is None:
            raise UsageError(
                "a Dockerfile read from stdin cannot be written back",
                "Give it as a file with -f to use :apply or :add",
            )
        key = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
        return cls(path, shown, text, Path(state_home) / "dbugbuild" / "backups" / key)

    def check_unchanged(self) -> None:
        try:
            now = read_text(self.path)
        except OSError as exc:
            raise DockerfileChangedError(
                f"{self.shown} cannot be read any more ({exc.strerror})",
                "Nothing was written",
            ) from exc
        if digest(now) != digest(self.text):
            raise DockerfileChangedError(
                f"{self.shown} changed on disk since dbugbuild read it; nothing was written",
                "Rebuild with dbugbuild to debug the new version",
            )

    def write(self, new_text: str) -> Path:
        """Replace the file atomically, keeping its mode; returns the backup of the old text.

        The new text is written beside it first and the backup made only then: a folder or
        file that refuses the write (read-only, immutable) leaves no backup of a write that
        never happened, and the Dockerfile as it was (WriteRefusedError)."""
        self.check_unchanged()
        folder = os.path.dirname(self.path)
        try:
            mode = os.stat(self.path).st_mode & 0o7777
            fd, tmp = tempfile.mkstemp(prefix=".dbugbuild-", dir=folder)
        except OSError as exc:
            raise self._refused(exc, f"its folder {folder}") from exc
        backup: Path | None = None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
                fh.write(new_text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            try:
                backup = self._backup()
            except OSError as exc:
                raise self._refused(exc, f"the backup folder {self.backups}") from exc
            try:
                os.replace(tmp, self.path)
            except OSError as exc:
                raise self._refused(exc, self.shown) from exc
        except BaseException:
            for made in (tmp, backup):
                if made is not None and os.path.exists(made):
                    os.unlink(made)
            raise
        self.text = new_text
        assert backup is not None
        return backup

    def _refused(self, exc: OSError, what: str) -> WriteRefusedError:
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EPERM and what == self.shown:
            reason += ": is it immutable (lsattr)?"
        return WriteRefusedError(
            f"cannot write {self.shown}: {what} refuses the write ({reason}); nothing was written",
            "Make it writable and :apply again, or copy the fix from the diff above",
        )

    def _backup(self) -> Path:
        """A new numbered backup (Dockerfile.~1~, ~2~, ...): an older one is never overwritten."""
        self.backups.mkdir(parents=True, exist_ok=True)
        name = os.path.basename(self.path)
        n = 1
        while (self.backups / f"{name}.~{n}~").exists():
            n += 1
        target = self.backups / f"{name}.~{n}~"
        with open(target, "x", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(self.text)
        return target


Confirm = Callable[[str], bool]  # shown the diff, says whether to write


class WriteBack:
    """`:apply` and `:add` for one failing instruction, which moves as lines are added."""

    def __init__(
        self,
        file: DockerfileFile,
        line: int,
        shell: tuple[str, ...],
        confirm: Confirm,
        say: Callable[[str], None],
        refusal: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.shell = shell
        self.confirm = confirm
        self.say = say
        self.refusal = refusal  # set: show the fix, write nothing (a compose dockerfile_inline)

    def _instruction(self) -> dockerfile.Instruction:
        # Not the located instruction the report carries: after an :add the file is another
        # text, and the failing instruction has moved to `self.line`. Parse what is there now.
        ins = dockerfile.parse(self.file.text).instruction_at(self.line)
        if ins is None:  # pragma: no cover - the line always holds it; a bug if not
            raise BadInputError(f"no instruction at {self.file.shown}:{self.line}", "")
        return ins

    def apply(self, command: str) -> bool:
        """Replace the failing RUN with `command`; True when written."""
        ins = self._instruction()
        if ins.keyword != "RUN":
            self.say(f"{self.file.shown}:{self.line} is a {ins.keyword}, not a RUN: use :add\n")
            return False
        return self._write(rewrite.replace_run(self.file.text, ins, command, self.shell))

    def add(self, command: str) -> bool:
        """Insert `RUN command` before the failing instruction; True when written."""
        ins = self._instruction()
        new = rewrite.insert_run_before(self.file.text, ins, command)
        added = dockerfile.line_count(new) - dockerfile.line_count(self.file.text)
        if not self._write(new):
            return False
        self.line += added  # the failing instruction moved down; the next :add goes after this
        return True

    def _write(self, new: str) -> bool:
        self.file.check_unchanged()  # refuse before asking, not after
        diff = rewrite.unified_diff(self.file.text, new, self.file.shown)
        if not diff:
            self.say("the Dockerfile already says that; nothing to write\n")
            return False
        self.say(diff)
        if self.refusal is not None:
            end = "" if new.endswith("\n") else "\n"
            self.say(f"the fixed Dockerfile:\n{new}{end}not written: {self.refusal}\n")
            return False
        if not self.confirm(f"write {self.file.shown}?"):
            self.say("not written\n")
            return False
        backup = self.file.write(new)
        self.say(f"wrote {self.file.shown} (the previous version is in {backup})\n")
        return True

"""(Re)record BuildKit's plain progress output for the cases under tests/fixtures/buildkit/cases/.

Usage (from the repository root, with a Docker daemon, buildx and the local base images):

    .venv/bin/python tests/record_buildkit.py                 # every case folder
    .venv/bin/python tests/record_buildkit.py secret success  # only these case folders
    .venv/bin/python tests/record_buildkit.py --list          # the runs, without building
    .venv/bin/python tests/record_buildkit.py --write-expected  # no daemon: parse every log

--write-expected rewrites tests/fixtures/buildkit/expected/ from the parser's results on every
recorded and public log. Its diff is a change in what the parser reports: read it against the
logs before committing it.

Each case folder holds a Dockerfile, its context and a `case.json`:

    description   what the case shows
    pre_builds    [{context, tag}]: built first (buildx, --load), removed afterwards
    runs          [{...}]: one log each, in this order (a "cached" run relies on the run
                  before it having filled BuildKit's cache)

and each run:

    name                logs/<name>.log and logs/<name>.meta.json
    cli                 "buildx": `docker buildx build --progress=plain --load ...`
                        "build":  `DOCKER_BUILDKIT=1 docker build --progress=plain ...`
                        "build-default": the same without DOCKER_BUILDKIT in the environment
    no_cache            add --no-cache
    target, build_args, secrets, platform   --target, --build-arg K=V, --secret S, --platform
    progress            --progress value ("plain" unless said)
    tty                 run under a pseudo-terminal (120x30), as `script` would save it
    hide_buildx         run where the buildx plugin is not found: a private mount namespace
                        (`unshare -m`) with an empty directory mounted over the plugin folder
                        (only that process sees it; root only)
    expected_exit_code  the CLI's exit code when the case behaves as designed

The CLI's stdout and stderr go into ONE pipe (arrival order, as `2>&1 | tee` keeps it) and
are written to the log byte for byte. The .meta.json beside it records the exact argv,
the environment variables the recorder set or removed, the exit code, the date, and the
versions of the docker CLI, the Engine and buildx.

Clean-up removes exactly what the recording created: every image gets the label
dbugbuild.test.owner=buildkit-logs and a dbugbuild-test-bklogs-* tag; afterwards the tags
are removed, then the images the logs name (`writing image sha256:...`) that did not exist
before the run, then any image still carrying our label. The build cache is NOT pruned:
the builder is shared with other people's builds.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
ROOT = TESTS / "fixtures" / "buildkit"
CASES = ROOT / "cases"
LOGS = ROOT / "logs"
BASE_IMAGES = ("busybox:latest", "debian:bookworm")
OWNER_LABEL = "dbugbuild.test.owner=buildkit-logs"
TAG_PREFIX = "dbugbuild-test-bklogs-"
# Variables that would change what the CLI prints; removed from the recording's environment.
_UNSET = ("BUILDKIT_PROGRESS", "BUILDX_BUILDER", "DOCKER_BUILDKIT", "NO_COLOR", "BUILDKIT_COLORS")
# Where the docker CLI looks for plugins (docker/cli cli-plugins/manager: system folders).
PLUGIN_DIRS = ("/usr/libexec/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/local/lib/docker/cli-plugins")  # fmt: skip
_WRITING_IMAGE = re.compile(rb"writing image (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Run:
    case: str
    directory: Path
    name: str
    cli: str
    no_cache: bool
    expected_exit_code: int
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    platform: str | None = None
    progress: str = "plain"
    tty: bool = False
    hide_buildx: bool = False

    @property
    def tag(self) -> str:
        return TAG_PREFIX + self.name.replace(".", "-")

    def argv(self) -> list[str]:
        if self.cli == "buildx":
            argv = ["docker", "buildx", "build", f"--progress={self.progress}", "--load"]
        elif self.cli in ("build", "build-default"):
            argv = ["docker", "build", f"--progress={self.progress}"]
        else:
            raise SystemExit(f"{self.case}: unknown cli {self.cli!r} in case.json")
        if self.no_cache:
            argv.append("--no-cache")
        if self.target:
            argv += ["--target", self.target]
        for key, value in self.build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        for secret in self.secrets:
            argv += ["--secret", secret]
        if self.platform:
            argv += ["--platform", self.platform]
        return [*argv, "--label", OWNER_LABEL, "-t", self.tag, "."]

    def command(self, empty_dir: Path) -> list[str]:
        """argv as run: inside a mount namespace without the buildx plugin when asked."""
        if not self.hide_buildx:
            return self.argv()
        mounts = " && ".join(
            f"mount --bind {empty_dir} {folder}" for folder in PLUGIN_DIRS if Path(folder).is_dir()
        )
        script = f'{mounts} && exec "$@"'
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *self.argv()]

    def env_changes(self) -> dict[str, str | None]:
        changes: dict[str, str | None] = {name: None for name in _UNSET if name in os.environ}
        if self.cli == "build":
            changes["DOCKER_BUILDKIT"] = "1"
        return changes


def load_runs(directory: Path) -> tuple[list[dict[str, str]], list[Run]]:
    spec = json.loads((directory / "case.json").read_text())
    runs = []
    for item in spec["runs"]:
        runs.append(
            Run(
                case=directory.name,
                directory=directory,
                name=item["name"],
                cli=item["cli"],
                no_cache=item["no_cache"],
                expected_exit_code=item["expected_exit_code"],
                target=item.get("target"),
                build_args=item.get("build_args", {}),
                secrets=tuple(item.get("secrets", ())),
                platform=item.get("platform"),
                progress=item.get("progress", "plain"),
                tty=item.get("tty", False),
                hide_buildx=item.get("hide_buildx", False),
            )
        )
    return spec.get("pre_builds", []), runs


def say(message: str) -> None:
    print(f"record_buildkit: {message}", file=sys.stderr)


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def environment(changes: dict[str, str | None]) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_piped(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[bytes, int]:
    """stdout and stderr in ONE pipe, so the bytes keep their arrival order."""
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, check=False,
    )  # fmt: skip
    return done.stdout, done.returncode


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[bytes, int]:
    """Run under a 120x30 pseudo-terminal and keep every byte it wrote (as `script` does)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**env, "TERM": "xterm-256color"}
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as error:  # EIO: the child side closed
            if error.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks), process.wait()


def image_ids() -> set[str]:
    return {line for line in docker("images", "-aq", "--no-trunc").split() if line}


def versions() -> dict[str, str]:
    info = json.loads(docker("version", "--format", "{{json .}}"))
    buildx = docker("buildx", "version").strip()
    inspect = docker("buildx", "inspect", "default")
    buildkit = re.search(r"BuildKit version:\s*(\S+)", inspect)
    return {
        "docker_cli": info["Client"]["Version"],
        "engine": info["Server"]["Version"],
        "api": info["Server"]["ApiVersion"],
        "buildx": buildx,
        "builder_buildkit": buildkit.group(1) if buildkit else "unknown",
        "builder_driver": "docker (the Engine's built-in BuildKit, builder `default`)",
    }


class Cleaner:
    """Remove what the recording created, and nothing that existed before it."""

    def __init__(self) -> None:
        self.images_before = image_ids()
        self.created: list[str] = []
        self.tags: list[str] = []

    def note(self, output: bytes, tags: Iterable[str]) -> None:
        for match in _WRITING_IMAGE.finditer(output):
            image = match.group(1).decode()
            if image not in self.images_before and image not in self.created:
                self.created.append(image)
        self.tags += [tag for tag in tags if tag not in self.tags]

    def clean(self) -> None:
        for tag in self.tags:
            if docker("image", "inspect", "--format", "{{.Id}}", tag, check=False).strip():
                docker("rmi", tag)
        existing = image_ids()
        for image in reversed(self.created):
            if image in existing:
                docker("rmi", image)
        labelled = docker("images", "-aq", "--no-trunc", "--filter", f"label={OWNER_LABEL}")
        for image in labelled.split():
            if image not in self.images_before:
                docker("rmi", "--force", image)
        self.created.clear()
        self.tags.clear()

    def check(self) -> None:
        for base in BASE_IMAGES:
            if not docker("image", "inspect", "--format", "{{.Id}}", base, check=False).strip():
                raise SystemExit(f"the base image {base} is gone: this must never happen")
        left = docker("images", "-aq", "--filter", f"label={OWNER_LABEL}").split()
        if left:
            raise SystemExit(f"images of ours left after clean-up: {' '.join(left)}")
        say(f"clean: no image labelled {OWNER_LABEL} is left")


def pre_build(case: str, directory: Path, spec: dict[str, str], cleaner: Cleaner) -> None:
    argv = ["docker", "buildx", "build", "--progress=plain", "--load", "--no-cache"]
    argv += ["--label", OWNER_LABEL, "-t", spec["tag"], "."]
    output, code = run_piped(argv, directory / spec["context"], environment({}))
    cleaner.note(output, [spec["tag"]])
    if code != 0:
        raise SystemExit(f"{case}: pre-build {spec['tag']} failed:\n{output.decode()}")


def record(run: Run, cleaner: Cleaner, found: dict[str, str]) -> None:
    argv = run.argv()
    changes = run.env_changes()
    say(f"{run.name}: {' '.join(argv)}")
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    runner = run_in_pty if run.tty else run_piped
    with tempfile.TemporaryDirectory(prefix="bklogs-no-plugins-") as empty:
        output, code = runner(run.command(Path(empty)), run.directory, environment(changes))
    seconds = round(time.monotonic() - started, 1)
    cleaner.note(output, [run.tag])
    if code != run.expected_exit_code:
        say(f"{run.name}: WARNING: exit code {code}, expected {run.expected_exit_code}")
    (LOGS / f"{run.name}.log").write_bytes(output)
    meta: dict[str, Any] = {
        "case": run.case,
        "run": run.name,
        "argv": argv,
        "cwd": f"tests/fixtures/buildkit/cases/{run.case}",
        "env": changes,
        "stdout_stderr": "pty (120x30), as `script` saves it" if run.tty else "one pipe (2>&1)",
        "buildx_plugin": "hidden (unshare -m, empty plugin folder)" if run.hide_buildx else "found",
        "exit_code": code,
        "expected_exit_code": run.expected_exit_code,
        "date": date,
        "seconds": seconds,
        "versions": found,
    }
    (LOGS / f"{run.name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    say(f"{run.name}: exit {code}, {len(output)} bytes, {seconds}s")


def write_expected() -> None:
    """Parse every recorded and public log; write what the parser says to expected/."""
    import dataclasses

    from dbugbuild.logs.buildkit import BuildKitLogError, parse

    for folder in ("logs", "public"):
        for log in sorted((ROOT / folder).glob("*.log")):
            data: dict[str, Any]
            try:
                result = parse([log.read_bytes().decode("utf-8")])
            except BuildKitLogError as error:
                data = {"error": type(error).__name__, "message": str(error)}
            else:
                data = dataclasses.asdict(result)
                data["succeeded"] = result.succeeded
                step = result.failed_step
                data["failed_step"] = dataclasses.asdict(step) if step else None
            out = ROOT / "expected" / folder / (log.name[: -len(".log")] + ".json")
            out.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
            out.write_text(text, encoding="utf-8")
            say(f"wrote {out.relative_to(TESTS.parent)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case folder names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the runs and exit")
    parser.add_argument(
        "--write-expected", action="store_true", help="rewrite expected/ from the parser"
    )
    args = parser.parse_args(argv)
    if args.write_expected:
        write_expected()
        return 0
    folders = sorted(path for path in CASES.iterdir() if (path / "case.json").is_file())
    if args.cases:
        unknown = set(args.cases) - {path.name for path in folders}
        if unknown:
            raise SystemExit(f"no such case folder: {', '.join(sorted(unknown))}")
        folders = [path for path in folders if path.name in args.cases]
    if args.list:
        for folder in folders:
            for run in load_runs(folder)[1]:
                print(
                    f"{run.name}: (cd {folder.relative_to(TESTS.parent)} && {' '.join(run.argv())})"
                )
        return 0
    LOGS.mkdir(parents=True, exist_ok=True)
    found = versions()
    cleaner = Cleaner()
    try:
        for folder in folders:
            pre_builds, runs = load_runs(folder)
            for spec in pre_builds:
                pre_build(folder.name, folder, spec, cleaner)
            for run in runs:
                record(run, cleaner, found)
            cleaner.clean()
    finally:
        cleaner.clean()
    cleaner.check()
    return 0


if __name__ == "__main__":
    sys.exit(main())

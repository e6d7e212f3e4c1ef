"""(Re)record the classic builder's output for the build cases under tests/fixtures/builds/.

Usage (from the repository root, with a Docker daemon and the local base images):

    .venv/bin/python tests/record_fixtures.py            # record every case, then derive
    .venv/bin/python tests/record_fixtures.py run-exit-100 label   # only these cases
    .venv/bin/python tests/record_fixtures.py --derive-only        # no daemon needed
    .venv/bin/python tests/record_fixtures.py --into engine-26     # another engine's set
    .venv/bin/python tests/record_fixtures.py --into engine-26-containerd \
        --host unix:///run/dbugbuild-test/ctrd.sock                # a second daemon

The main set (logs/<case>.*) was recorded on Engine 20.10. `--into NAME` records the same
cases, under the same names, into logs/NAME/ instead (e.g. `engine-26` for Engine 26.1.5,
`engine-26-containerd` for Engine 26 with the containerd image store); nothing is derived
from those. `--host` builds on another daemon (both the CLI and docker-py talk to it).

    .venv/bin/python tests/record_fixtures.py --wrapper mixlib-shellout run-exit-127

records a case's CLI build as a wrapper shows it, into logs/wrapped/<wrapper>-<case>.txt (with
a `.source` saying how and a `.meta.json`): `mixlib-shellout` runs the build through Chef's
Mixlib::ShellOut (Debian's ruby-mixlib-shellout), the library Test Kitchen's docker drivers
and Chef run commands with, and keeps the message of its ShellCommandFailed error, which
prints the command's stdout and stderr in tagged sections (STDOUT: / STDERR:); `packer` runs it
in Packer's shell-local provisioner (Debian's packer), which tags every line `    null: `.

Each case directory holds a Dockerfile, its context and a `case.json`:

    context       the build context, relative to the case directory ("." everywhere)
    dockerfile    the Dockerfile, relative to the context (what `-f` and the API's
                  `dockerfile` parameter get; the CLI runs with the case directory as cwd)
    target        --target, or null
    build_args    {NAME: value} for --build-arg NAME=value
    labels        {key: value} for --label key=value
    tag           -t, or null
    pre_builds    [{context, dockerfile, tag}] built (and tagged) first, removed afterwards
    expected_exit_code   the CLI's exit code when the case behaves as designed

Each case is built twice, with --no-cache, so that every id in the logs is fresh:

    1. `DOCKER_BUILDKIT=0 docker build ...` with stdout and stderr merged into one pipe
       (arrival order, as `2>&1 | tee` keeps it) -> logs/<case>.txt, bytes as printed.
    2. docker-py's low-level `APIClient().build(..., decode=False, rm=True)` -> the raw
       chunks as they arrived -> logs/<case>.api.json (a JSON list of strings; chunks are
       decoded with an incremental UTF-8 decoder, so a character split across two chunks
       moves whole into the later one: the only change to the boundaries).

and logs/<case>.meta.json records the exit codes, the daemon's HTTP error if the API
refused the build before streaming (a Dockerfile parse error does that), the base and
parent image ids, and the versions of the client and daemon.

Clean-up removes exactly what the recording created: the containers named by
" ---> Running in <id>" that still exist (failing steps keep theirs), then the images
named by " ---> <id>" and "Successfully built <id>" that did not exist before the run
(so the FROM base images busybox:latest / debian:bookworm, and anything else that was
there before, are never touched), and the tags the cases made. `docker ps -a` and
`docker images -a` are compared before and after; leftovers of ours fail the run.
Other people may use the same daemon at the same time, so differences that are not
ours are reported, not removed.

Historic formats that today's daemon cannot print are, where no real log could be
found, DERIVED from the recorded logs by the small transforms in `DERIVATIONS` below
(written to logs/historic/derived-*.txt, each with a `.source` sidecar naming the
recorded log and the transform). Real historic logs found in public issue threads are
stored beside them by hand, each with a `.source` naming its URL; this script never
writes those.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
BUILDS = TESTS / "fixtures" / "builds"
LOGS = TESTS / "fixtures" / "logs"
HISTORIC = LOGS / "historic"
OUT = LOGS  # where record() writes: LOGS, or LOGS/<--into>
BASE_IMAGES = ("busybox:latest", "debian:bookworm")

# What the builder prints about the objects it creates (classic builder, moby 20.10).
_IMAGE_LINE = re.compile(r"^ ?---> ([0-9a-f]{12,64})\s*$", re.MULTILINE)
_CONTAINER_LINE = re.compile(r"^ ?---> Running in ([0-9a-f]{12,64})\s*$", re.MULTILINE)
_BUILT_LINE = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    context: str
    dockerfile: str
    target: str | None
    build_args: dict[str, str]
    labels: dict[str, str]
    tag: str | None
    pre_builds: list[dict[str, str]]
    expected_exit_code: int

    @classmethod
    def load(cls, directory: Path) -> Case:
        spec = json.loads((directory / "case.json").read_text())
        return cls(
            name=directory.name,
            directory=directory,
            context=spec["context"],
            dockerfile=spec["dockerfile"],
            target=spec["target"],
            build_args=spec["build_args"],
            labels=spec["labels"],
            tag=spec["tag"],
            pre_builds=spec["pre_builds"],
            expected_exit_code=spec["expected_exit_code"],
        )

    def cli_argv(self) -> list[str]:
        """The docker CLI invocation, run with the case directory as cwd."""
        argv = ["docker", "build", "--no-cache", "-f", self.dockerfile]
        if self.target:
            argv += ["--target", self.target]
        for name, value in self.build_args.items():
            argv += ["--build-arg", f"{name}={value}"]
        for key, value in self.labels.items():
            argv += ["--label", f"{key}={value}"]
        if self.tag:
            argv += ["-t", self.tag]
        return [*argv, self.context]

    def api_kwargs(self) -> dict[str, Any]:
        """docker-py APIClient.build() arguments equivalent to cli_argv()."""
        kwargs: dict[str, Any] = {
            "path": str(self.directory / self.context),
            "dockerfile": self.dockerfile,
            "nocache": True,
            "rm": True,
            "decode": False,
        }
        if self.target:
            kwargs["target"] = self.target
        if self.build_args:
            kwargs["buildargs"] = dict(self.build_args)
        if self.labels:
            kwargs["labels"] = dict(self.labels)
        if self.tag:
            kwargs["tag"] = self.tag
        return kwargs


def say(message: str) -> None:
    print(f"record_fixtures: {message}", file=sys.stderr)


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def classic_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def run_cli_build(argv: list[str], cwd: Path) -> tuple[bytes, int]:
    """Run a build with stdout and stderr in ONE pipe, so bytes keep their arrival order."""
    done = subprocess.run(
        argv, cwd=cwd, env=classic_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return done.stdout, done.returncode


def run_api_build(case: Case) -> tuple[list[str], dict[str, Any] | None]:
    """Build through the Engine API; return the raw chunks and the HTTP error, if any."""
    import docker as docker_sdk  # only the recorder needs the SDK

    client = docker_sdk.APIClient(base_url=os.environ.get("DOCKER_HOST"))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    chunks: list[str] = []
    try:
        for chunk in client.build(**case.api_kwargs()):
            text = decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
            if text:
                chunks.append(text)
        rest = decoder.decode(b"", final=True)
        if rest:
            chunks.append(rest)
    except docker_sdk.errors.APIError as error:
        return chunks, {
            "status_code": error.status_code,
            "explanation": error.explanation,
        }
    finally:
        client.close()
    return chunks, None


def image_ids() -> set[str]:
    return {line for line in docker("images", "-aq", "--no-trunc").split() if line}


def container_ids() -> set[str]:
    return {line for line in docker("ps", "-aq", "--no-trunc").split() if line}


def full_image_id(reference: str) -> str | None:
    out = docker("image", "inspect", "--format", "{{.Id}}", reference, check=False).strip()
    return out or None


def ids_in(texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """Image and container ids that the builder printed, in order of appearance."""
    images: list[str] = []
    containers: list[str] = []
    for text in texts:
        images += _IMAGE_LINE.findall(text) + _BUILT_LINE.findall(text)
        containers += _CONTAINER_LINE.findall(text)
    return images, containers


def api_text(chunks: list[str]) -> str:
    """The "stream" text of an API recording, enough to find the ids it printed."""
    decoder = json.JSONDecoder()
    buffer = "".join(chunks)
    parts: list[str] = []
    index = 0
    while True:
        while index < len(buffer) and buffer[index] in " \t\r\n":
            index += 1
        if index >= len(buffer):
            break
        obj, index = decoder.raw_decode(buffer, index)
        if isinstance(obj, dict) and isinstance(obj.get("stream"), str):
            parts.append(obj["stream"])
    return "".join(parts)


class Cleaner:
    """Remove what the recording created, and nothing that existed before it."""

    def __init__(self) -> None:
        self.images_before = image_ids()
        self.containers_before = container_ids()
        self.created_images: list[str] = []  # full ids, in creation order
        self.created_containers: list[str] = []
        self.tags: list[str] = []

    def note(self, outputs: Iterable[str], tags: Iterable[str] = ()) -> None:
        images, containers = ids_in(outputs)
        for short in containers:
            if not any(full.startswith(short) for full in self.containers_before):
                self.created_containers.append(short)
        for short in images:
            full = full_image_id(short)
            if full is None or full in self.images_before or full in self.created_images:
                continue
            self.created_images.append(full)
        self.tags += list(tags)

    def committed_from_ours(self) -> list[str]:
        """Fresh images committed from our containers or on our images that no log names.

        The classic builder commits an image after each ONBUILD trigger but prints no
        " ---> <id>" for it (moby 20.10, dispatchers.go), so the log alone misses it.
        Up to API 1.44 an image names its container (`.Container`); API 1.45 (Engine 26)
        dropped that field, so a fresh image whose `.Parent` is one of ours counts too.
        """
        fresh = sorted(image_ids() - self.images_before - set(self.created_images))
        if not fresh:
            return []
        out = docker("image", "inspect", *fresh, check=False)
        infos = json.loads(out) if out.strip() else []
        ours = set(self.created_images)
        found: list[str] = []
        grew = True
        while grew:  # a trigger image can be the parent of the next trigger's
            grew = False
            for info in infos:
                image, parent = info["Id"], info.get("Parent") or ""
                container = info.get("Container") or ""
                if image in ours:
                    continue
                from_ours = container and any(
                    container.startswith(c) for c in self.created_containers
                )
                if from_ours or parent in ours:
                    ours.add(image)
                    found.append(image)
                    grew = True
        return found

    def clean(self) -> None:
        self.created_images += self.committed_from_ours()
        existing = container_ids()
        for short in self.created_containers:
            if any(full.startswith(short) for full in existing):
                docker("rm", short)
        for tag in self.tags:
            if full_image_id(tag) is not None:
                docker("rmi", "--no-prune", tag)
        existing = image_ids()
        for full in reversed(self.created_images):  # children before their parents
            if full in existing:
                docker("rmi", "--no-prune", full)
        self.created_images.clear()
        self.created_containers.clear()
        self.tags.clear()

    def check(self) -> None:
        """Compare `docker ps -a` / `docker images -a` with the state before the run."""
        images_after, containers_after = image_ids(), container_ids()
        new_images = images_after - self.images_before
        new_containers = containers_after - self.containers_before
        gone = (self.images_before - images_after) | (self.containers_before - containers_after)
        for base in BASE_IMAGES:
            if full_image_id(base) is None:
                raise SystemExit(f"the base image {base} is gone: this must never happen")
        if new_images or new_containers:
            say(
                "after clean-up the daemon has objects that were not there before; "
                "someone else may be using it:"
            )
            for object_id in sorted(new_images | new_containers):
                say(f"  {object_id[:19]}")
        if gone:
            say(f"{len(gone)} object(s) that existed before disappeared (not removed by us)")
        say(
            f"docker images -a: {len(self.images_before)} before, {len(images_after)} after; "
            f"docker ps -a: {len(self.containers_before)} before, {len(containers_after)} after"
        )


def record(case: Case, cleaner: Cleaner) -> None:
    say(f"{case.name}: building")
    parents: dict[str, str] = {}
    for pre in case.pre_builds:
        argv = ["docker", "build", "--no-cache", "-f", pre["dockerfile"], "-t", pre["tag"], "."]
        output, code = run_cli_build(argv, case.directory / pre["context"])
        cleaner.note([output.decode("utf-8", "replace")], [pre["tag"]])
        if code != 0:
            raise SystemExit(f"{case.name}: pre-build {pre['tag']} failed:\n{output.decode()}")
        parents[pre["tag"]] = full_image_id(pre["tag"]) or ""

    argv = case.cli_argv()
    cli_output, cli_code = run_cli_build(argv, case.directory)
    cli_text = cli_output.decode("utf-8")
    cleaner.note([cli_text], [case.tag] if case.tag else [])
    chunks, http_error = run_api_build(case)
    cleaner.note([api_text(chunks)], [case.tag] if case.tag else [])

    if cli_code != case.expected_exit_code:
        say(f"{case.name}: WARNING: exit code {cli_code}, expected {case.expected_exit_code}")
    (OUT / f"{case.name}.txt").write_bytes(cli_output)
    (OUT / f"{case.name}.api.json").write_text(json.dumps(chunks, indent=1) + "\n")
    meta = {
        "case": case.name,
        "cli": {
            "argv": argv,
            "cwd": f"tests/fixtures/builds/{case.name}",
            "env": {"DOCKER_BUILDKIT": "0"},
            "exit_code": cli_code,
        },
        "api": {
            "call": "docker.APIClient().build(**kwargs)",
            "kwargs": {k: v for k, v in case.api_kwargs().items() if k != "path"},
            "path": f"tests/fixtures/builds/{case.name}/{case.context}",
            "chunks": len(chunks),
            "http_error": http_error,
        },
        "base_images": {base: full_image_id(base) for base in BASE_IMAGES},
        "parent_images": parents,
        "versions": versions(),
        "daemon": daemon_facts(),
    }
    (OUT / f"{case.name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    cleaner.clean()
    say(f"{case.name}: CLI exit {cli_code}, {len(chunks)} API chunks, cleaned up")


_VERSIONS: dict[str, str] = {}
_DAEMON: dict[str, Any] = {}


def daemon_facts() -> dict[str, Any]:
    """How the daemon stores images: the classic graph driver or the containerd store."""
    if not _DAEMON:
        info = json.loads(docker("info", "--format", "{{json .}}"))
        status = {str(k): str(v) for k, v in info.get("DriverStatus") or []}
        _DAEMON.update(
            {
                "storage_driver": info.get("Driver"),
                "containerd_image_store": status.get("driver-type")
                == "io.containerd.snapshotter.v1",
                "host": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
            }
        )
    return _DAEMON


def versions() -> dict[str, str]:
    if not _VERSIONS:
        fmt = "{{.Client.Version}} {{.Server.Version}} {{.Server.APIVersion}}"
        client, server, api = docker("version", "--format", fmt).split()
        _VERSIONS.update({"docker_cli": client, "engine": server, "api": api})
    return _VERSIONS


# --- Derived historic formats -------------------------------------------------------
#
# Each transform takes the text of a recorded CLI log and returns the text an older or
# wrapped builder would have printed for the same build. They change only the framing
# (prefixes, numbering, line endings, order of two bookkeeping lines): the ids, the step
# texts and the RUN output stay those that the real daemon printed.


def _lines(text: str) -> list[str]:
    return text.split("\n")


def gha_timestamps(text: str) -> str:
    """GitHub Actions / Azure Pipelines: `2024-03-05T10:11:12.3456789Z ` before each line.

    The clock is synthetic (a fixed start plus 1.7 ms a line) so the fixture is stable.
    """
    out = []
    for number, line in enumerate(_lines(text)):
        ticks = 3456789 + number * 17000  # 100 ns units, as the runner prints them
        stamp = f"2024-03-05T10:11:{12 + ticks // 10**7:02d}.{ticks % 10**7:07d}Z"
        out.append(f"{stamp} {line}")
    return "\n".join(out)


def jenkins_iso(text: str) -> str:
    """Jenkins timestamper (ISO form): `[2024-03-05T10:11:12.345Z] ` before each line."""
    out = []
    for number, line in enumerate(_lines(text)):
        millis = 345 + number * 7
        out.append(f"[2024-03-05T10:11:{12 + millis // 1000:02d}.{millis % 1000:03d}Z] {line}")
    return "\n".join(out)


def jenkins_time(text: str) -> str:
    """Jenkins timestamper (elapsed/clock form): `HH:MM:SS ` before each line."""
    return "\n".join(
        f"10:11:{12 + number // 10:02d} {line}" for number, line in enumerate(_lines(text))
    )


def crlf(text: str) -> str:
    """Windows line endings: every LF becomes CRLF (a lone CR already there stays)."""
    return text.replace("\n", "\r\n")


def cr_only(text: str) -> str:
    """Old Mac / progress-style line endings: every LF becomes a lone CR."""
    return text.replace("\n", "\r")


def indented(text: str) -> str:
    """A wrapper that indents everything it relays by four spaces."""
    return "\n".join(f"    {line}" if line else line for line in _lines(text))


def ansi_coloured(text: str) -> str:
    """A colourising wrapper: bold Step lines, cyan arrows, red mid-line in the error."""
    out = []
    for line in _lines(text):
        if line.startswith("Step "):
            line = f"\x1b[1m{line}\x1b[0m"
        elif line.startswith(" ---> "):
            line = f" \x1b[36m--->\x1b[0m {line[6:]}"
        elif " returned a non-zero code: " in line:
            line = line.replace(" returned a ", " \x1b[31;1mreturned\x1b[0m a ", 1)
        out.append(line)
    return "\n".join(out)


_STEP_N_OF_M = re.compile(r"^Step (\d+)/(\d+) : ", re.MULTILINE)


def step_zero_based(text: str) -> str:
    """Docker <= 1.9: `Step 0 : FROM ...`, counted from 0, with no total."""
    return _STEP_N_OF_M.sub(lambda m: f"Step {int(m.group(1)) - 1} : ", text)


def step_without_total(text: str) -> str:
    """Docker 1.10 - 1.12: `Step 1 : FROM ...`, counted from 1, with no total."""
    return _STEP_N_OF_M.sub(lambda m: f"Step {m.group(1)} : ", text)


def image_before_removing(text: str) -> str:
    """Docker < 17.07: ` ---> <id>` printed BEFORE `Removing intermediate container`."""
    lines = _lines(text)
    for i in range(len(lines) - 1):
        if lines[i].startswith("Removing intermediate container ") and _IMAGE_LINE.match(
            lines[i + 1]
        ):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


def arrows_without_space(text: str) -> str:
    """Ids without the leading space: `---> <id>` (as many pasted logs show them)."""
    return re.sub(r"^ --->", "--->", text, flags=re.MULTILINE)


def bracket_command(text: str) -> str:
    """Older daemons: `The command [/bin/sh -c foo] returned a non-zero code: 1`."""
    return re.sub(
        r"The command '(.*)' returned a non-zero code: ",
        r"The command [\1] returned a non-zero code: ",
        text,
    )


def drop_cli_notice(text: str) -> str:
    """Older CLIs print no 'DEPRECATED: The legacy builder...' notice: drop it."""
    return re.sub(r"\ADEPRECATED: .*?\n\n", "", text, flags=re.DOTALL)


@dataclass(frozen=True)
class Derivation:
    name: str
    source: str  # a recorded CLI log, tests/fixtures/logs/<source>.txt
    transforms: tuple[Callable[[str], str], ...]


DERIVATIONS = (
    Derivation("derived-gha-timestamps", "run-exit-100", (gha_timestamps,)),
    Derivation("derived-jenkins-iso", "multistage-nonfinal", (jenkins_iso,)),
    Derivation("derived-jenkins-time", "run-exit-127", (jenkins_time,)),
    Derivation("derived-crlf", "multiline-run", (crlf,)),
    Derivation("derived-cr", "copy-dockerignored", (cr_only,)),
    Derivation("derived-indented", "subdir-target", (indented,)),
    Derivation("derived-ansi", "build-arg", (ansi_coloured,)),
    Derivation(
        "derived-step0-bracket",
        "run-exit-100",
        (drop_cli_notice, step_zero_based, image_before_removing, bracket_command),
    ),
    Derivation(
        "derived-no-total-old-order",
        "success",
        (drop_cli_notice, step_without_total, image_before_removing),
    ),
    Derivation("derived-no-space", "onbuild-trigger", (arrows_without_space,)),
    Derivation(
        "derived-gha-ansi-crlf", "multistage-nonfinal", (ansi_coloured, gha_timestamps, crlf)
    ),
)


def derive() -> None:
    HISTORIC.mkdir(parents=True, exist_ok=True)
    for derivation in DERIVATIONS:
        recorded = LOGS / f"{derivation.source}.txt"
        if not recorded.exists():
            say(f"{derivation.name}: {recorded.name} is not recorded yet; skipped")
            continue
        text = recorded.read_bytes().decode("utf-8")
        for transform in derivation.transforms:
            text = transform(text)
        (HISTORIC / f"{derivation.name}.txt").write_bytes(text.encode("utf-8"))
        steps = "\n".join(
            f"  {t.__name__}: {(t.__doc__ or '').strip().splitlines()[0]}"
            for t in derivation.transforms
        )
        (HISTORIC / f"{derivation.name}.source").write_text(
            f"derived: tests/fixtures/logs/{derivation.source}.txt\n"
            f"by tests/record_fixtures.py, in this order:\n{steps}\n"
        )
    say(f"derived {len(DERIVATIONS)} historic fixtures into {HISTORIC.relative_to(TESTS)}")


WRAPPED = LOGS / "wrapped"

# Ruby, run with the case directory as cwd; ARGV is the docker CLI argv.
_MIXLIB_SCRIPT = """
require "mixlib/shellout"
command = Mixlib::ShellOut.new(*ARGV, environment: {"DOCKER_BUILDKIT" => "0"})
command.run_command
begin
  command.error!
  print "(no error)\\n"
rescue Mixlib::ShellOut::ShellCommandFailed => e
  print e.message
end
"""


# Packer (Debian's packer): a `null` builder whose shell-local provisioner runs the build. Packer
# tags each line of the provisioner's stdout `    null: ` and of its stderr `==> null: `.
_PACKER_TEMPLATE = {
    "builders": [{"type": "null", "communicator": "none"}],
    "provisioners": [{"type": "shell-local", "inline": []}],
}
_PACKER_TAG = re.compile(r"^(?:==> | +)null:(?: |$)", re.MULTILINE)


def _run_mixlib(case: Case, argv: list[str]) -> tuple[bytes, dict[str, str]]:
    done = subprocess.run(
        ["ruby", "-e", _MIXLIB_SCRIPT, "--", *argv],
        cwd=case.directory,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruby failed ({done.returncode}): {done.stderr.decode()}")
    ruby = subprocess.run(["ruby", "-v"], capture_output=True, text=True, check=False).stdout
    return done.stdout, {"ruby": ruby.strip(), "ruby-mixlib-shellout": _deb("ruby-mixlib-shellout")}


def _run_packer(case: Case, argv: list[str]) -> tuple[bytes, dict[str, str]]:
    import shlex
    import tempfile

    template = json.loads(json.dumps(_PACKER_TEMPLATE))
    command = f"cd {shlex.quote(str(case.directory))} && DOCKER_BUILDKIT=0 {shlex.join(argv)}"
    template["provisioners"][0]["inline"] = [command]
    with tempfile.TemporaryDirectory() as work:
        Path(work, "build.json").write_text(json.dumps(template, indent=2))
        env = {**os.environ, "CHECKPOINT_DISABLE": "1", "PACKER_CACHE_DIR": f"{work}/cache"}
        done = subprocess.run(
            ["packer", "build", "-color=false", "build.json"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream in arrival order, as a CI log keeps it
            check=False,
        )
    if done.returncode != 1 or b"Step 1/" not in done.stdout:
        raise SystemExit(f"packer did not run the build ({done.returncode}): {done.stdout!r}")
    version = subprocess.run(["packer", "version"], capture_output=True, text=True, check=False)
    return done.stdout, {
        "packer": version.stdout.splitlines()[0] if version.stdout else "",
        "packer-deb": _deb("packer"),
        "template": json.dumps(template),
    }


def _deb(package: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


_WRAPPERS = {
    "mixlib-shellout": (
        _run_mixlib,
        "The case's classic build (DOCKER_BUILDKIT=0) run through Mixlib::ShellOut#run_command\n"
        "and #error!; the file is the message of the ShellCommandFailed error, as Test Kitchen's\n"
        "docker drivers and Chef print it. Versions in the .meta.json beside it.\n",
    ),
    "packer": (
        _run_packer,
        "The case's classic build (DOCKER_BUILDKIT=0) run by Packer's shell-local provisioner\n"
        "(a null builder), Packer's output as printed: the build's stdout lines tagged\n"
        "`    null: `, its stderr lines `==> null: `. Template and versions in the .meta.json.\n",
    ),
}


def record_wrapped(wrapper: str, case: Case, cleaner: Cleaner) -> None:
    if wrapper not in _WRAPPERS:
        raise SystemExit(f"unknown wrapper {wrapper!r}; known: {', '.join(sorted(_WRAPPERS))}")
    run, how = _WRAPPERS[wrapper]
    argv = case.cli_argv()
    output, facts = run(case, argv)
    text = output.decode("utf-8")
    cleaner.note([_PACKER_TAG.sub("", text)], [case.tag] if case.tag else [])
    WRAPPED.mkdir(parents=True, exist_ok=True)
    name = f"{wrapper}-{case.name}"
    (WRAPPED / f"{name}.txt").write_bytes(output)
    (WRAPPED / f"{name}.source").write_text(
        f"recorded: tests/fixtures/builds/{case.name}"
        f" by tests/record_fixtures.py --wrapper {wrapper}\n" + how
    )
    meta = {
        "case": case.name,
        "wrapper": wrapper,
        "argv": argv,
        **facts,
        "versions": versions(),
        "daemon": daemon_facts(),
    }
    (WRAPPED / f"{name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    cleaner.clean()
    say(f"{name}: recorded, cleaned up")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--derive-only", action="store_true", help="only derive historic logs")
    parser.add_argument(
        "--into",
        metavar="NAME",
        help="record into tests/fixtures/logs/NAME/ (another engine's set); derive nothing",
    )
    parser.add_argument("--host", help="the daemon to build on (sets DOCKER_HOST)")
    parser.add_argument("--wrapper", help="record the cases' CLI builds through this wrapper")
    options = parser.parse_args(argv)
    if options.wrapper:
        cleaner = Cleaner()
        try:
            for name in options.cases or ["run-exit-127"]:
                record_wrapped(options.wrapper, Case.load(BUILDS / name), cleaner)
        finally:
            cleaner.clean()
            cleaner.check()
        return 0
    global OUT
    if options.into:
        if options.derive_only or "/" in options.into or options.into in ("historic", ".."):
            parser.error("--into takes a folder name under tests/fixtures/logs/")
        OUT = LOGS / options.into
    if options.host:
        os.environ["DOCKER_HOST"] = options.host
    if not options.derive_only:
        for base in BASE_IMAGES:
            if full_image_id(base) is None:
                say(f"{base} is missing; run scripts/setup-base-images.sh (never pulled here)")
                return 1
        names = options.cases or sorted(p.name for p in BUILDS.iterdir() if p.is_dir())
        OUT.mkdir(parents=True, exist_ok=True)
        cleaner = Cleaner()
        try:
            for name in names:
                record(Case.load(BUILDS / name), cleaner)
        finally:
            cleaner.clean()
            cleaner.check()
    if OUT == LOGS:
        derive()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

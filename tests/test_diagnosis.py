"""The diagnosis rules on recorded builds, whole Diagnosis objects, with and without a look
inside the last good layer.

Every case is a real build: the samples of sample_failures/ and the extra cases of
tests/fixtures/diagnosis/, built by tests/record_samples.py on the real daemon, which saved
the build output and the raw output of the probe dbugbuild ran in the last good layer. Here
the saved output goes through logs, locate and diagnosis.diagnose, as in dbugbuild
--log; the probe output through diagnosis.parse_probe, as after a live build.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import record_samples
from conftest import FIXTURES
from dbugbuild import diagnosis, dockerfile, inputs, logs
from dbugbuild.diagnosis import CLASSES, RULES, Facts, FileHead, LayerFacts, Questions
from dbugbuild.report import Diagnosis, FailedStep, locate

RECORDED = sorted(
    [*record_samples.OUT.glob("*.txt"), *record_samples.CASES_OUT.glob("*.txt")],
    key=lambda p: p.stem,
)
NAMES = [p.stem for p in RECORDED]
SAMPLES = sorted(p.stem for p in record_samples.OUT.glob("*.txt"))


def _log(name: str) -> Path:
    return next(p for p in RECORDED if p.stem == name)


def _probe(name: str) -> dict[str, Any] | None:
    path = _log(name).with_suffix(".probe.json")
    return json.loads(path.read_text()) if path.is_file() else None  # type: ignore[no-any-return]


def _recorded(name: str) -> tuple[FailedStep, Facts, LayerFacts | None]:
    """The failed step, the log-only facts and the recorded layer facts of a case."""
    base, _, step = record_samples.sample_facts(name, _log(name).read_text())
    assert step is not None, f"{name}: the recorded build did not fail"
    probe = _probe(name)
    layer = None
    if probe is not None:
        layer = diagnosis.parse_probe(
            probe["output"], image=probe["image"], user=probe["user"], workdir=probe["workdir"]
        )
    return step, base, layer


# The diagnosis after a live build: with the recorded look inside the last good layer.
EXPECTED: dict[str, Diagnosis] = {
    "apt-as-non-root": Diagnosis(
        "permission-denied",
        "apt-get needs root, but this step runs as USER app.",
        (
            (
                "Install packages before `USER app` (line 4), or put `USER root` before this RUN "
                "and switch back after it."
            ),
        ),
        (
            (
                'output: "E: List directory /var/lib/apt/lists/partial is missing. - Acquire (13: '
                'Permission denied)"'
            ),
            "Dockerfile line 4: `USER app`",
            "layer: runs as uid=1000(app) gid=1000(app) groups=1000(app)",
        ),
    ),
    "apt-invalid-operation": Diagnosis(
        "package-manager-misuse",
        "apt-get has no operation `update-all`.",
        (
            "To refresh the package lists and upgrade: `apt-get update && apt-get -y upgrade`.",
            (
                "apt-get's first word is an operation: install, remove, update, upgrade, ... "
                "(`apt-get --help` lists them)."
            ),
        ),
        ('output: "E: Invalid operation update-all"',),
    ),
    "apt-option-typo": Diagnosis(
        "package-manager-misuse",
        "apt-get does not understand the option `--no-install-recomends`.",
        (
            (
                "Did you mean `--no-install-recommends`? `RUN apt-get install -y "
                "--no-install-recommends ca-certificates`."
            ),
            "`apt-get --help` and `man apt-get` list the options apt-get understands.",
        ),
        (
            (
                'output: "E: Command line option --no-install-recomends is not understood in '
                'combination with the other options"'
            ),
        ),
    ),
    "apt-package-renamed": Diagnosis(
        "package-not-found",
        "apt-get cannot find a package named `python` in this image's package lists.",
        (
            (
                "`python` is gone from this release; it is replaced by `python-is-python3` and "
                "`2to3`: install one of those instead."
            ),
            (
                "Check the name for this release: `apt-cache search python` in the session, or "
                "https://packages.debian.org (Ubuntu: https://packages.ubuntu.com)."
            ),
        ),
        (
            "output: \"E: Package 'python' has no installation candidate\"",
            'output: "However the following packages replace it:"',
            'output: "python-is-python3 2to3"',
        ),
    ),
    "apt-without-update": Diagnosis(
        "package-not-found",
        (
            "apt-get cannot find `curl` because this layer has no package lists: no `apt-get "
            "update` ran before it."
        ),
        (
            (
                "Update the lists in the same RUN: `RUN apt-get update && apt-get install -y "
                "--no-install-recommends curl` (images ship without lists; a separate RUN's lists "
                "go stale in the cache)."
            ),
        ),
        (
            'output: "E: Unable to locate package curl"',
            "layer: 0 package list(s) in /var/lib/apt/lists",
        ),
    ),
    "arm64-binary": Diagnosis(
        "exec-format",
        "`hello` is a binary for aarch64 (arm64), but this machine runs x86_64.",
        (
            (
                "Get the x86_64 build of `hello` (download the release asset for linux/amd64, or "
                "build it in a stage of this Dockerfile)."
            ),
            (
                "Or build the image for the binary's platform with --platform and an emulator "
                "(binfmt/qemu) on the daemon's machine."
            ),
        ),
        (
            'output: "/bin/sh: 1: hello: Exec format error"',
            "layer: /usr/local/bin/hello is an ELF binary for aarch64 (arm64)",
            "layer: containers here run on x86_64",
        ),
    ),
    "arm64-on-busybox": Diagnosis(
        "exec-format",
        "`/usr/local/bin/hello` is a binary for aarch64 (arm64), but this machine runs x86_64.",
        (
            (
                "Get the x86_64 build of `/usr/local/bin/hello` (download the release asset for "
                "linux/amd64, or build it in a stage of this Dockerfile)."
            ),
            (
                "Or build the image for the binary's platform with --platform and an emulator "
                "(binfmt/qemu) on the daemon's machine."
            ),
        ),
        (
            'output: "/usr/local/bin/hello: line 1: ?ELF??????x@@@8???@@????Ҩ?????: not found"',
            "layer: /usr/local/bin/hello is an ELF binary for aarch64 (arm64)",
            "layer: containers here run on x86_64",
        ),
    ),
    "bash-crlf-commands": Diagnosis(
        "line-endings",
        (
            "`/setup.sh` has Windows (CRLF) line endings: the shell reads each line with a "
            "trailing `\\r`, as part of the last word."
        ),
        (
            (
                "Convert it in the build before running it: `RUN sed -i 's/\\r$//' /setup.sh` (or "
                "`dos2unix`), or fix the file itself."
            ),
            (
                "Keep scripts LF in git: a `.gitattributes` line `*.sh text eol=lf`, or `git "
                "config core.autocrlf input` on Windows."
            ),
        ),
        ("output: \"/setup.sh: line 2: cd: $'/tmp\\r': No such file or directory\"",),
    ),
    "bash-script-on-busybox": Diagnosis(
        "command-not-found",
        "`build.sh` exists, but its interpreter `/bin/bash` (its `#!` line) is not in this layer.",
        (
            "Change the first line to an interpreter this layer has, e.g. `#!/bin/sh`.",
            "Or run it with this layer's shell: `sh build.sh`.",
        ),
        (
            'output: "/bin/sh: build.sh: not found"',
            "layer: /usr/local/bin/build.sh starts with `#!/bin/bash`",
            "layer: no /bin/bash",
        ),
    ),
    "busybox-user-mkdir": Diagnosis(
        "permission-denied",
        "USER 1000 may not write `/opt` (/ belongs to root:root, mode 755).",
        (
            (
                "Before `USER 1000` (line 2), as root, create what it must write and hand it "
                "over: `RUN mkdir -p /opt && chown 1000 /opt`."
            ),
            "For copied files, `COPY --chown=1000 ...`.",
        ),
        (
            "output: \"mkdir: can't create directory '/opt/': Permission denied\"",
            "Dockerfile line 2: `USER 1000`",
            "layer: / is owned by root:root, mode 755",
        ),
    ),
    "copy-dest-not-dir": Diagnosis(
        "dockerfile-syntax",
        "COPY with several sources needs a folder as its destination (line 2).",
        ("End the destination with `/`: `COPY a.txt b.txt /app/`.",),
        (
            (
                'output: "When using COPY with more than one source file, the destination must be '
                'a directory and end with a /"'
            ),
        ),
    ),
    "copy-dockerignored": Diagnosis(
        "build-context",
        (
            "`settings/production.conf` is excluded from the build context by .dockerignore line "
            "4 (`settings/`)."
        ),
        (
            (
                "Add the line `!settings/production.conf` after line 4 of .dockerignore, or "
                "remove `settings/` if the image needs those files."
            ),
        ),
        (
            (
                'output: "COPY failed: file not found in build context or excluded by '
                '.dockerignore: stat settings/production.conf: file does not exist"'
            ),
            ".dockerignore line 4: `settings/`",
        ),
    ),
    "copy-glob-none": Diagnosis(
        "build-context",
        "No file in the build context (.) matches `*.cfg`.",
        (
            (
                "List what the context holds with `ls -la .`; a wildcard that matches nothing is "
                "an error for COPY."
            ),
        ),
        ('output: "COPY failed: no source files were specified"',),
    ),
    "copy-outside-context": Diagnosis(
        "build-context",
        "`../secrets.env` is outside the build context (.): COPY only sees files inside it.",
        (
            (
                "Move the file into ., or build from a folder that contains both (`docker build "
                "-f path/to/Dockerfile <that folder>`) and copy it by its path there."
            ),
        ),
        ('output: "COPY failed: forbidden path outside the build context: ../secrets.env ()"',),
    ),
    "copy-typo": Diagnosis(
        "build-context",
        "There is no `requirments.txt` in the build context (.).",
        (
            "Did you mean `requirements.txt`? Fix the source on line 3: `COPY requirements.txt .`.",
            "Sources are relative to the build context (.), not to the Dockerfile's folder.",
        ),
        (
            (
                'output: "COPY failed: file not found in build context or excluded by '
                '.dockerignore: stat requirments.txt: file does not exist"'
            ),
            "context: has requirements.txt",
            "context: no requirments.txt",
        ),
    ),
    "crlf-script": Diagnosis(
        "line-endings",
        (
            "`/usr/local/bin/start.sh` has Windows (CRLF) line endings: its first line asks for "
            "an interpreter named `/bin/sh\\r`, which does not exist."
        ),
        (
            (
                "Convert it in the build before running it: `RUN sed -i 's/\\r$//' "
                "/usr/local/bin/start.sh` (or `dos2unix`), or fix the file itself."
            ),
            (
                "Keep scripts LF in git: a `.gitattributes` line `*.sh text eol=lf`, or `git "
                "config core.autocrlf input` on Windows."
            ),
        ),
        (
            'output: "/bin/sh: start.sh: not found"',
            "layer: /usr/local/bin/start.sh starts with `#!/bin/sh\\r` (CRLF line endings)",
        ),
    ),
    "curl-on-busybox": Diagnosis(
        "command-not-found",
        "`curl` is not in this layer (busybox), which has no package manager to install it with.",
        (
            "This layer has `wget` (/bin/wget): use it instead of `curl`.",
            (
                "This image has no package manager: start FROM an image that has `curl`, or "
                "install it in a build stage FROM a fuller image and `COPY --from=` that stage."
            ),
        ),
        (
            'output: "/bin/sh: curl: not found"',
            "layer: wget is /bin/wget",
            (
                "layer: no package manager (apt-get, apk, dnf, microdnf, yum, zypper and pacman "
                "not on PATH; busybox)"
            ),
        ),
    ),
    "disk-full": Diagnosis(
        "disk-full",
        (
            "The disk the Docker daemon builds on is full: the step ran out of space while "
            "writing `/data/blob.bin`."
        ),
        (
            (
                "See what uses the space: `docker system df`; free it with `docker builder prune` "
                "and `docker image prune` (and `df -h` on the daemon's data root, `docker info -f "
                "'{{.DockerRootDir}}'`)."
            ),
            (
                "Make the step write less: delete downloads and caches in the same RUN that made "
                "them (e.g. `&& rm -rf /var/lib/apt/lists/*`), or fetch only what the image "
                "needs."
            ),
        ),
        ("output: \"dd: error writing '/data/blob.bin': No space left on device\"",),
    ),
    "dns-network-none": Diagnosis(
        "network",
        "The build step could not resolve the name `deb.debian.org` (DNS failed).",
        (
            "Check the spelling of `deb.debian.org` in the URL; try it from the daemon's machine.",
            (
                "The build uses the daemon's DNS: set `dns` in /etc/docker/daemon.json, or try "
                "`--network host`; behind a proxy pass `--build-arg HTTP_PROXY=... --build-arg "
                "HTTPS_PROXY=...`."
            ),
        ),
        ("output: \"wget: bad address 'deb.debian.org'\"",),
    ),
    "download-from-localhost": Diagnosis(
        "network",
        (
            "Nothing answered at `127.0.0.1`: inside a build step, localhost is the step's own "
            "container, not your machine."
        ),
        (
            (
                "A server on your machine is not reachable as localhost from a build: serve the "
                "file from a host the build can reach, or put it in the build context and COPY it "
                "instead of downloading it."
            ),
            (
                "With `--network host` the step shares the daemon machine's network (and its "
                "localhost)."
            ),
        ),
        ('output: "wget: can\'t connect to remote host (127.0.0.1): Connection refused"',),
    ),
    "exec-form-bash-script": Diagnosis(
        "command-not-found",
        "`/build.sh` exists, but its interpreter `/bin/bash` (its `#!` line) is not in this layer.",
        (
            "Change the first line to an interpreter this layer has, e.g. `#!/bin/sh`.",
            "Or run it with this layer's shell: `sh /build.sh`.",
        ),
        (
            'output: "exec /build.sh: no such file or directory"',
            "layer: /build.sh starts with `#!/bin/bash`",
            "layer: no /bin/bash",
        ),
    ),
    "exec-form-crlf": Diagnosis(
        "line-endings",
        (
            "`/start.sh` has Windows (CRLF) line endings: its first line asks for an interpreter "
            "named `/bin/sh\\r`, which does not exist."
        ),
        (
            (
                "Convert it in the build before running it: `RUN sed -i 's/\\r$//' /start.sh` (or "
                "`dos2unix`), or fix the file itself."
            ),
            (
                "Keep scripts LF in git: a `.gitattributes` line `*.sh text eol=lf`, or `git "
                "config core.autocrlf input` on Windows."
            ),
        ),
        (
            'output: "exec /start.sh: no such file or directory"',
            "layer: /start.sh starts with `#!/bin/sh\\r` (CRLF line endings)",
        ),
    ),
    "exec-form-not-found": Diagnosis(
        "command-not-found",
        (
            "`nosuchprog` is not in this layer (busybox), which has no package manager to install "
            "it with."
        ),
        (
            (
                "This image has no package manager: start FROM an image that has `nosuchprog`, or "
                "install it in a build stage FROM a fuller image and `COPY --from=` that stage."
            ),
        ),
        (
            (
                'output: "failed to create shim task: OCI runtime create failed: runc create '
                'failed: unable to start container process: exec: "nosuchprog": executable file '
                'not found in $PATH: unknown"'
            ),
            (
                "layer: no package manager (apt-get, apk, dnf, microdnf, yum, zypper and pacman "
                "not on PATH; busybox)"
            ),
        ),
    ),
    "failing-tests": Diagnosis(
        "command-failed",
        "The command (`sh` ...) ran and exited with code 1.",
        (
            "Its own output above says why: the last lines are usually the error.",
            (
                "Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the "
                "command (or `--retry` / `--exec` in CI)."
            ),
        ),
        (
            "exit code 1",
            'output: "2 test(s) failed"',
        ),
    ),
    "from-unreachable-registry": Diagnosis(
        "base-image",
        (
            "The registry of `127.0.0.1:9/acme/python-base:3.12` (127.0.0.1:9) cannot be reached, "
            "so it cannot be pulled."
        ),
        (
            (
                "Check the registry address in `127.0.0.1:9/acme/python-base:3.12`; a local image "
                "needs no pull: `docker image ls` lists the names that exist here."
            ),
            "Behind a proxy, configure it for the Docker daemon (not only the shell).",
        ),
        (
            (
                'builder: "Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: '
                'connection refused"'
            ),
        ),
    ),
    "from-uppercase": Diagnosis(
        "base-image",
        "`BusyBox:latest` is not a valid image reference.",
        (
            (
                "Image names are lower-case: `FROM busybox:latest` on line 1 (only the tag may "
                "have capitals)."
            ),
            "A reference is [REGISTRY/]NAME[:TAG][@DIGEST], e.g. `debian:bookworm`.",
        ),
        ('builder: "invalid reference format: repository name must be lowercase"',),
    ),
    "git-not-installed": Diagnosis(
        "command-not-found",
        "`git` is not installed in this layer; its package manager, apt-get, can install it.",
        (
            (
                "Install it in this RUN or before: `RUN apt-get update && apt-get install -y "
                "--no-install-recommends git ca-certificates`."
            ),
        ),
        (
            'output: "/bin/sh: 1: git: not found"',
            "layer: package manager apt-get (Debian GNU/Linux 12 (bookworm))",
        ),
    ),
    "glibc-binary-on-busybox": Diagnosis(
        "missing-file",
        (
            "`gsort` is in the layer (/usr/local/bin/gsort), but the dynamic loader or a library "
            "it needs is not, so it cannot start."
        ),
        (
            (
                "List what it needs: `ldd /usr/local/bin/gsort` in a layer that has ldd; a binary "
                "linked against glibc does not run on musl or busybox images."
            ),
            (
                "Build it static (Go: `CGO_ENABLED=0`; C: `-static`), or base the image on one "
                "that has its libraries."
            ),
        ),
        (
            'output: "/bin/sh: gsort: not found"',
            "layer: /usr/local/bin/gsort is an ELF binary",
        ),
    ),
    "grep-no-match": Diagnosis(
        "command-failed",
        "The command (`grep` ...) ran and exited with code 1.",
        (
            (
                "The last command, `grep`, exits 1 when its condition is false or nothing "
                "matched: it may have reported a fact, not an error."
            ),
            "Its own output above says why: the last lines are usually the error.",
            (
                "Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the "
                "command (or `--retry` / `--exec` in CI)."
            ),
        ),
        ("exit code 1",),
    ),
    "killed-137": Diagnosis(
        "command-failed",
        "The RUN's commands ran, and one exited with code 137.",
        (
            "Its own output above says why: the last lines are usually the error.",
            (
                "Exit code 137: killed by SIGKILL, often the out-of-memory killer (give the "
                "daemon more memory, or make the step use less)."
            ),
            (
                "Reproduce it in the layer it ran in: `dbugbuild` in a terminal pre-types the "
                "command (or `--retry` / `--exec` in CI)."
            ),
        ),
        (
            "exit code 137",
            'output: "allocating a large buffer"',
        ),
    ),
    "missing-line-continuation": Diagnosis(
        "dockerfile-syntax",
        "Line 2 ends without a `\\`, so line 3 (`apt-get` ...) is read as a new instruction.",
        (
            (
                "End line 2 with ` \\` to continue the instruction onto line 3: `RUN apt-get "
                "update && \\`."
            ),
        ),
        (
            'builder: "dockerfile parse error line 3: unknown instruction: APT-GET"',
            "Dockerfile line 2: `RUN apt-get update &&`",
            "Dockerfile line 3: `apt-get install -y --no-install-recommends curl`",
        ),
    ),
    "not-on-path": Diagnosis(
        "command-not-found",
        "`tool` is in this layer, at /opt/tool/bin/tool, but its folder is not on PATH.",
        (
            (
                "Call it by its path, `/opt/tool/bin/tool`, or add `ENV PATH=/opt/tool/bin:$PATH` "
                "before this step."
            ),
        ),
        (
            'output: "/bin/sh: tool: not found"',
            "layer: /opt/tool/bin/tool exists (not on PATH)",
        ),
    ),
    "script-not-executable": Diagnosis(
        "permission-denied",
        "`./migrate.sh` is not executable (mode 644), so the shell cannot run it.",
        (
            (
                "Make it executable after copying it: `RUN chmod +x ./migrate.sh`, or run it "
                "through the shell: `sh ./migrate.sh`."
            ),
            (
                "To fix the file itself: `chmod +x ./migrate.sh` (in git: `git update-index "
                "--chmod=+x ./migrate.sh`); COPY keeps the mode it has."
            ),
        ),
        (
            'output: "/bin/sh: ./migrate.sh: Permission denied"',
            "layer: /app/migrate.sh is a regular file owned by root:root, mode 644",
        ),
    ),
    "script-wrong-path": Diagnosis(
        "missing-file",
        "`/app/serve.sh` does not exist in this layer.",
        (
            (
                "`serve.sh` is at `/srv/serve.sh` in this layer: use that path (this step's "
                "WORKDIR is /srv)."
            ),
        ),
        (
            "output: \"sh: can't open '/app/serve.sh': No such file or directory\"",
            "layer: found /srv/serve.sh",
        ),
    ),
    "sudo-not-installed": Diagnosis(
        "command-not-found",
        "`sudo` is not installed, and a build step does not need it.",
        (
            (
                "This step runs as root: drop `sudo`; to run a step as root after a USER switch, "
                "put `USER root` before it."
            ),
        ),
        ('output: "/bin/sh: 1: sudo: not found"',),
    ),
    "workdir-owned-by-root": Diagnosis(
        "permission-denied",
        "USER app may not write `settings.ini` (/srv/app belongs to root:root, mode 755).",
        (
            (
                "`WORKDIR /srv/app` (line 4) made that folder as root, though it comes after "
                "`USER app`: WORKDIR creates folders as root."
            ),
            (
                "Before `USER app` (line 3), as root, create what it must write and hand it over: "
                "`RUN mkdir -p /srv/app && chown app /srv/app`."
            ),
            "For copied files, `COPY --chown=app ...`.",
        ),
        (
            'output: "/bin/sh: 1: cannot create settings.ini: Permission denied"',
            "Dockerfile line 3: `USER app`",
            "layer: runs as uid=1000(app) gid=1000(app) groups=1000(app)",
            "layer: /srv/app is owned by root:root, mode 755",
        ),
    ),
}

# The BuildKit samples (issue 11): recorded with `docker buildx build`, no look inside a
# layer (BuildKit keeps none), so the live diagnosis is the log-only one.
EXPECTED |= {
    "cache-mount-empty": Diagnosis(
        "cache-mount",
        (
            "The RUN on line 4 counts on `/var/cache/deps/deps.tar` in its cache mount at "
            "`/var/cache/deps`, but a cache mount starts empty (a new builder, after `docker "
            "builder prune`, another CI machine) and is never part of the image."
        ),
        (
            (
                "Make the step work with an empty cache: create or fetch "
                "`/var/cache/deps/deps.tar` when it is missing; the cache only saves time."
            ),
            (
                "What the image needs must be written outside `/var/cache/deps`: files in a cache"
                " mount are not in the image, nor in a later stage."
            ),
        ),
        (
            "Dockerfile: `--mount=type=cache,target=/var/cache/deps`",
            "output: \"tar: can't open '/var/cache/deps/deps.tar': No such file or directory\"",
        ),
    ),
    "heredoc-script": Diagnosis(
        "missing-file",
        "`/app/defaults.conf` does not exist in this layer.",
        ("Check that `/app/defaults.conf` is copied (COPY) or made before this step.",),
        ("output: \"cp: can't stat '/app/defaults.conf': No such file or directory\"",),
    ),
    "mount-from-missing-stage": Diagnosis(
        "mount-source",
        (
            "Line 6 takes files from `Bulder` (`RUN --mount=...,from=Bulder`), which is no "
            "stage of this Dockerfile, so BuildKit took it for an image name, which it is not"
            " either."
        ),
        (
            "Did you mean the stage `builder`? Write `from=builder` on line 6.",
            (
                "`from=` takes a stage defined before line 6 (`FROM ... AS bulder`), an image, or"
                " a context given with `--build-context bulder=...`."
            ),
        ),
        (
            (
                'builder: "failed to solve: failed to parse stage name "Bulder": invalid '
                'reference format: repository name (library/Bulder) must be lowercase"'
            ),
            "Dockerfile line 6: `RUN --mount=type=bind,from=Bulder,source=/out,target=/mnt \\`",
        ),
    ),
    "platform-arg-undeclared": Diagnosis(
        "platform-arg",
        (
            "`$TARGETARCH` is empty on line 4: BuildKit sets it only in a stage that declares"
            " `ARG TARGETARCH`, and this one does not."
        ),
        (
            (
                "Add `ARG TARGETARCH` to the stage, before line 4 (after its FROM): the platform "
                "ARGs are global, and each stage must declare the ones it uses."
            ),
        ),
        (
            "Dockerfile line 4: uses $TARGETARCH",
            "stage: no `ARG TARGETARCH`",
        ),
    ),
    "secret-not-passed": Diagnosis(
        "missing-secret",
        (
            "The RUN on line 4 mounts the secret `npmrc` at `/root/.npmrc`, but the build was"
            " given no `--secret id=npmrc`: BuildKit then leaves the file out (a secret mount"
            " is optional), and the command fails without it."
        ),
        (
            (
                "Pass it to the build: `--secret id=npmrc,src=PATH` (a file), or `--secret "
                "id=npmrc,env=VARIABLE` (an environment variable)."
            ),
            (
                "A secret never lands in the image or its cache: pass it to every build that runs"
                " the step, CI included."
            ),
        ),
        (
            "build: no --secret id=npmrc",
            'output: "grep: /root/.npmrc: No such file or directory"',
        ),
    ),
}

# Without a look inside the layer (--log with no daemon), where that differs.
LOG_ONLY: dict[str, Diagnosis] = {
    "apt-as-non-root": Diagnosis(
        "permission-denied",
        "apt-get needs root, but this step runs as USER app.",
        (
            (
                "Install packages before `USER app` (line 4), or put `USER root` before this RUN "
                "and switch back after it."
            ),
        ),
        (
            (
                'output: "E: List directory /var/lib/apt/lists/partial is missing. - Acquire (13: '
                'Permission denied)"'
            ),
            "Dockerfile line 4: `USER app`",
        ),
    ),
    "apt-without-update": Diagnosis(
        "package-not-found",
        "apt-get cannot find `curl`, and this RUN does not run `apt-get update` first.",
        (
            (
                "Update the lists in the same RUN: `RUN apt-get update && apt-get install -y "
                "--no-install-recommends curl` (images ship without lists; a separate RUN's lists "
                "go stale in the cache)."
            ),
        ),
        ('output: "E: Unable to locate package curl"',),
    ),
    "arm64-binary": Diagnosis(
        "exec-format",
        (
            "`hello` cannot be run here: it is a binary for another architecture, or not a "
            'program at all ("exec format error").'
        ),
        (
            (
                "Check what it is: `file hello` or `head -c 20 hello | od -c`; get the build for "
                "this machine's architecture, or add a `#!` line to a script."
            ),
        ),
        ('output: "/bin/sh: 1: hello: Exec format error"',),
    ),
    "arm64-on-busybox": Diagnosis(
        "exec-format",
        (
            "`/usr/local/bin/hello` cannot be run here: it is a binary for another architecture, "
            'or not a program at all ("exec format error").'
        ),
        (
            (
                "Check what it is: `file /usr/local/bin/hello` or `head -c 20 "
                "/usr/local/bin/hello | od -c`; get the build for this machine's architecture, or "
                "add a `#!` line to a script."
            ),
        ),
        ('output: "/usr/local/bin/hello: line 1: ?ELF??????x@@@8???@@????Ҩ?????: not found"',),
    ),
    "bash-script-on-busybox": Diagnosis(
        "command-not-found",
        (
            "`build.sh` was not found: the file is missing, or it is a script whose `#!` "
            "interpreter is missing (or whose line endings are CRLF)."
        ),
        (
            "Check that it is on PATH in this layer: `command -v build.sh`.",
            (
                "If it is there, its first line must name an interpreter this layer has; `head -n "
                "1 build.sh | od -c` shows a `\\r` left by Windows line endings."
            ),
        ),
        ('output: "/bin/sh: build.sh: not found"',),
    ),
    "busybox-user-mkdir": Diagnosis(
        "permission-denied",
        "USER 1000 may not write `/opt`.",
        (
            (
                "Before `USER 1000` (line 2), as root, create what it must write and hand it "
                "over: `RUN mkdir -p /opt && chown 1000 /opt`."
            ),
            "For copied files, `COPY --chown=1000 ...`.",
        ),
        (
            "output: \"mkdir: can't create directory '/opt/': Permission denied\"",
            "Dockerfile line 2: `USER 1000`",
        ),
    ),
    "crlf-script": Diagnosis(
        "command-not-found",
        (
            "`start.sh` was not found: the file is missing, or it is a script whose `#!` "
            "interpreter is missing (or whose line endings are CRLF)."
        ),
        (
            "Check that it is on PATH in this layer: `command -v start.sh`.",
            (
                "If it is there, its first line must name an interpreter this layer has; `head -n "
                "1 start.sh | od -c` shows a `\\r` left by Windows line endings."
            ),
        ),
        ('output: "/bin/sh: start.sh: not found"',),
    ),
    "curl-on-busybox": Diagnosis(
        "command-not-found",
        "`curl` is not installed in the layer this step ran in (not on its PATH).",
        (
            (
                "Install `curl` with the image's package manager in this RUN or an earlier one, "
                "or check the spelling."
            ),
            (
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name."
            ),
        ),
        ('output: "/bin/sh: curl: not found"',),
    ),
    "exec-form-bash-script": Diagnosis(
        "command-not-found",
        (
            "`/build.sh` was not found: the file is missing, or it is a script whose `#!` "
            "interpreter is missing (or whose line endings are CRLF)."
        ),
        (
            (
                "Check that it exists where the step looks (relative paths start at WORKDIR): `ls "
                "-l /build.sh`."
            ),
            (
                "If it is there, its first line must name an interpreter this layer has; `head -n "
                "1 /build.sh | od -c` shows a `\\r` left by Windows line endings."
            ),
        ),
        ('output: "exec /build.sh: no such file or directory"',),
    ),
    "exec-form-crlf": Diagnosis(
        "command-not-found",
        (
            "`/start.sh` was not found: the file is missing, or it is a script whose `#!` "
            "interpreter is missing (or whose line endings are CRLF)."
        ),
        (
            (
                "Check that it exists where the step looks (relative paths start at WORKDIR): `ls "
                "-l /start.sh`."
            ),
            (
                "If it is there, its first line must name an interpreter this layer has; `head -n "
                "1 /start.sh | od -c` shows a `\\r` left by Windows line endings."
            ),
        ),
        ('output: "exec /start.sh: no such file or directory"',),
    ),
    "exec-form-not-found": Diagnosis(
        "command-not-found",
        "`nosuchprog` is not installed in the layer this step ran in (not on its PATH).",
        (
            (
                "Install `nosuchprog` with the image's package manager in this RUN or an earlier "
                "one, or check the spelling."
            ),
            (
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name."
            ),
        ),
        (
            (
                'output: "failed to create shim task: OCI runtime create failed: runc create '
                'failed: unable to start container process: exec: "nosuchprog": executable file '
                'not found in $PATH: unknown"'
            ),
        ),
    ),
    "git-not-installed": Diagnosis(
        "command-not-found",
        "`git` is not installed in the layer this step ran in (not on its PATH).",
        (
            (
                "Install `git` with the image's package manager in this RUN or an earlier one, or "
                "check the spelling."
            ),
            (
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name."
            ),
        ),
        ('output: "/bin/sh: 1: git: not found"',),
    ),
    "glibc-binary-on-busybox": Diagnosis(
        "command-not-found",
        "`gsort` is not installed in the layer this step ran in (not on its PATH).",
        (
            (
                "Install `gsort` with the image's package manager in this RUN or an earlier one, "
                "or check the spelling."
            ),
            (
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name."
            ),
        ),
        ('output: "/bin/sh: gsort: not found"',),
    ),
    "not-on-path": Diagnosis(
        "command-not-found",
        "`tool` is not installed in the layer this step ran in (not on its PATH).",
        (
            (
                "Install `tool` with the image's package manager in this RUN or an earlier one, "
                "or check the spelling."
            ),
            (
                "Run dbugbuild where the build's images exist to see which package manager the "
                "layer has and whether the program is there under another name."
            ),
        ),
        ('output: "/bin/sh: tool: not found"',),
    ),
    "script-not-executable": Diagnosis(
        "permission-denied",
        "`./migrate.sh` is not executable, so the shell cannot run it.",
        (
            (
                "Make it executable after copying it: `RUN chmod +x ./migrate.sh`, or run it "
                "through the shell: `sh ./migrate.sh`."
            ),
            (
                "To fix the file itself: `chmod +x ./migrate.sh` (in git: `git update-index "
                "--chmod=+x ./migrate.sh`); COPY keeps the mode it has."
            ),
        ),
        ('output: "/bin/sh: ./migrate.sh: Permission denied"',),
    ),
    "script-wrong-path": Diagnosis(
        "missing-file",
        "`/app/serve.sh` does not exist in this layer.",
        ("Check that `/app/serve.sh` is copied (COPY) or made before this step.",),
        ("output: \"sh: can't open '/app/serve.sh': No such file or directory\"",),
    ),
    "workdir-owned-by-root": Diagnosis(
        "permission-denied",
        "USER app may not write `settings.ini`.",
        (
            (
                "`WORKDIR /srv/app` (line 4) made that folder as root, though it comes after "
                "`USER app`: WORKDIR creates folders as root."
            ),
            (
                "Before `USER app` (line 3), as root, create what it must write and hand it over: "
                "`RUN mkdir -p /srv/app && chown app /srv/app`."
            ),
            "For copied files, `COPY --chown=app ...`.",
        ),
        (
            'output: "/bin/sh: 1: cannot create settings.ini: Permission denied"',
            "Dockerfile line 3: `USER app`",
        ),
    ),
}


def _asked(step: FailedStep, base: Facts) -> Questions:
    """What diagnose asks to see in the layer (Questions() when it asks nothing)."""
    asked: list[Questions] = []
    diagnosis.diagnose(step, base, lambda questions: asked.append(questions))  # no layer
    assert len(asked) <= 1  # asked once
    return asked[0] if asked else Questions()


@pytest.mark.parametrize("name", NAMES)
def test_diagnosis_with_a_look_inside_the_layer(name: str) -> None:
    step, base, layer = _recorded(name)
    assert diagnosis.diagnose(step, base, lambda asked: layer) == EXPECTED[name]
    assert diagnosis.diagnose(step, replace(base, layer=layer)) == EXPECTED[name]


@pytest.mark.parametrize("name", NAMES)
def test_diagnosis_from_the_log_alone(name: str) -> None:
    step, base, _ = _recorded(name)
    assert diagnosis.diagnose(step, base) == LOG_ONLY.get(name, EXPECTED[name])


@pytest.mark.parametrize("name", NAMES)
def test_diagnosis_asks_what_the_recording_answered(name: str) -> None:
    """The questions asked now are the ones the recorded probe answered (else re-record)."""
    step, base, _ = _recorded(name)
    asked = _asked(step, base)
    probe = _probe(name)
    if probe is None:
        assert (
            not asked.layer or record_samples.sample_facts(name, _log(name).read_text())[1] is None
        )
        return
    recorded = {k: tuple(v) if isinstance(v, list) else v for k, v in probe["questions"].items()}
    assert asked == Questions(**recorded)


def test_diagnosis_every_case_is_expected() -> None:
    assert sorted(EXPECTED) == NAMES
    assert set(LOG_ONLY) <= set(EXPECTED)
    assert all(LOG_ONLY[n] != EXPECTED[n] for n in LOG_ONLY)


def test_diagnosis_rules_cover_exactly_the_classes() -> None:
    assert sorted(name for name, _ in RULES) == sorted(CLASSES)
    assert len(CLASSES) == 17
    assert RULES[-1][0] == "command-failed"  # the catch-all comes last


def test_diagnosis_samples_cover_every_class() -> None:
    assert {EXPECTED[n].class_ for n in SAMPLES} == set(CLASSES)


# -- the build cases of tests/fixtures/builds (recorded logs, no probe) -------------------------

BUILD_CLASSES = {
    "build-arg": "command-failed",
    "copy-dockerignored": "build-context",
    "exec-form": "command-failed",
    "label": "command-failed",
    "multiline-run": "missing-file",
    "multistage-nonfinal": "missing-file",
    "onbuild-trigger": "command-failed",
    "run-exit-100": "package-manager-misuse",
    "run-exit-127": "command-not-found",
    "subdir-target": "command-failed",
    "syntax-error": "dockerfile-syntax",
}


@pytest.mark.parametrize("engine", ["", "engine-26", "engine-26-containerd"])
@pytest.mark.parametrize("name", sorted(BUILD_CLASSES))
def test_diagnosis_of_the_recorded_build_cases(name: str, engine: str) -> None:
    # Recorded on Engine 20.10 (logs/) and 26 (logs/engine-26*/): the same class on each.
    folder = FIXTURES / "builds" / name
    case = json.loads((folder / "case.json").read_text())
    text = (folder / case["dockerfile"]).read_text()
    try:
        model: dockerfile.Dockerfile | None = dockerfile.parse(text)
    except dockerfile.DockerfileSyntaxError:
        model = None
    log = logs.parse([(FIXTURES / "logs" / engine / f"{name}.txt").read_text()])
    report = locate(
        log,
        dockerfile=model,
        source=text,
        dockerfile_path=case["dockerfile"],
        location=case["dockerfile"],
        target=case["target"],
        labels=tuple(f"{k}={v}" for k, v in case["labels"].items()),
    )
    assert report.failed_step is not None
    ignore, files = inputs.context_listing(str(folder))
    found = diagnosis.diagnose(
        report.failed_step,
        Facts(
            dockerfile_text=text,
            in_trigger=log.failure is not None and log.failure.in_trigger,
            context=".",
            dockerignore=ignore,
            context_files=files,
        ),
    )
    assert found.class_ == BUILD_CLASSES[name]
    assert found.summary and found.evidence


def test_diagnosis_of_a_dockerignored_copy_names_the_pattern() -> None:
    folder = FIXTURES / "builds" / "copy-dockerignored"
    log = logs.parse([(FIXTURES / "logs" / "copy-dockerignored.txt").read_text()])
    text = (folder / "Dockerfile").read_text()
    report = locate(
        log,
        dockerfile=dockerfile.parse(text),
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    )
    assert report.failed_step is not None
    ignore, files = inputs.context_listing(str(folder))
    assert diagnosis.diagnose(
        report.failed_step, Facts(context=".", dockerignore=ignore, context_files=files)
    ) == Diagnosis(
        "build-context",
        "`secret.txt` is excluded from the build context by .dockerignore line 1 (`secret.txt`).",
        (
            "Add the line `!secret.txt` after line 1 of .dockerignore, or remove `secret.txt` "
            "if the image needs those files.",
        ),
        (
            'output: "COPY failed: file not found in build context or excluded by '
            '.dockerignore: stat secret.txt: file does not exist"',
            ".dockerignore line 1: `secret.txt`",
        ),
    )


# -- the probe's answers -------------------------------------------------------------------------


def test_parse_probe_of_a_busybox_layer() -> None:
    probe = _probe("curl-on-busybox")
    assert probe is not None
    layer = diagnosis.parse_probe(probe["output"], image="i", user="", workdir="/opt/app")
    assert (layer.machine, layer.os, layer.package_managers, layer.apt_lists) == (
        "x86_64",
        "busybox",
        (),
        None,
    )
    assert layer.command("wget") == "/bin/wget"
    assert layer.command("curl") is None


def test_parse_probe_of_a_debian_layer() -> None:
    probe = _probe("apt-without-update")
    assert probe is not None
    layer = diagnosis.parse_probe(probe["output"], image="i", user="", workdir="/app")
    assert layer.os == "Debian GNU/Linux 12 (bookworm)"
    assert (layer.package_managers, layer.apt_lists) == (("apt-get",), 0)


def test_parse_probe_skips_a_cut_off_line() -> None:
    probe = _probe("workdir-owned-by-root")
    assert probe is not None
    whole = diagnosis.parse_probe(probe["output"], image="i", user="app", workdir="/srv/app")
    cut = diagnosis.parse_probe(probe["output"][:-5], image="i", user="app", workdir="/srv/app")
    assert whole.path("/srv/app") is not None
    assert cut.machine == whole.machine


def test_file_head_reads_elf_machines_and_shebangs() -> None:
    arm64 = (record_samples.SAMPLES / "arm64-binary" / "hello").read_bytes()
    crlf = (record_samples.SAMPLES / "crlf-script" / "start.sh").read_bytes()
    lf = (record_samples.SAMPLES / "bash-script-on-busybox" / "build.sh").read_bytes()
    assert diagnosis.file_head("/h", arm64) == FileHead("/h", None, False, 183)
    assert diagnosis.file_head("/s", crlf) == FileHead("/s", "/bin/sh", True, None)
    assert diagnosis.file_head("/b", lf) == FileHead("/b", "/bin/bash", False, None)
    assert diagnosis.file_head("/t", b"echo hi\n") == FileHead("/t", None, False, None)


def test_probe_script_quotes_what_it_is_given() -> None:
    script = diagnosis.probe_script(
        Questions(commands=("it's",), paths=("a b",), names=("x;y",)), "/w", "app"
    )
    assert "on_path 'it'\"'\"'s'" in script
    assert "stat_path '/w/a b'" in script
    assert "-name 'x;y'" in script
    assert 'say id "$(id app 2>/dev/null)"' in script


def test_questions_for_a_failure_without_a_command_ask_nothing() -> None:
    step, base, _ = _recorded("copy-typo")
    assert _asked(step, base) == Questions()
    assert not Questions().layer


# -- tools the local base images do not have ------------------------------------------------------
# busybox and debian:bookworm have no apk, pip, npm or dnf, so no build here can show their
# messages. These lines are the messages as those tools print them (the wording of their own
# sources: apk-tools' "unable to select packages" and "(no such package)", pip's
# "No matching distribution found for", npm's "404 Not Found - GET", dnf's "No match for
# argument", bash's "bad interpreter" with its ^M), one line each, to pin each rule's pattern.


def _step(*output: str, exit_code: int = 1) -> FailedStep:
    return FailedStep(
        index=2,
        total=2,
        instruction="RUN",
        line=2,
        end_line=2,
        stage=None,
        command="install",
        exit_code=exit_code,
        message=f"The command '/bin/sh -c install' returned a non-zero code: {exit_code}",
        output_tail=output,
    )


@pytest.mark.parametrize(
    ("line", "exit_code", "cls", "named"),
    [
        ("ERROR: unable to select packages: libssl1.1 (no such package)", 1, "package-not-found",
         "`libssl1.1`"),
        ("  py3-nosuch (no such package):", 1, "package-not-found", "`py3-nosuch`"),
        ("ERROR: No matching distribution found for flask==99.0", 1, "package-not-found",
         "`flask==99.0`"),
        ("npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd - Not found", 1,
         "package-not-found", "`left-padd`"),
        ("No match for argument: nosuchpkg", 1, "package-not-found", "`nosuchpkg`"),
        ('ERROR: unknown command "isntall" - maybe you meant "install"', 1,
         "package-manager-misuse", "`isntall`"),
        ("/bin/sh: ./run.sh: /bin/bash^M: bad interpreter: No such file or directory", 126,
         "line-endings", "`./run.sh`"),
        ("curl: (6) Could not resolve host: example.invalid", 6, "network", "`example.invalid`"),
        ("python3: can't open file '/app/main.py': [Errno 2] No such file or directory", 2,
         "missing-file", "`/app/main.py`"),
        ("Killed", 137, "command-failed", "137"),
    ],
)  # fmt: skip
def test_rule_patterns_of_other_tools(line: str, exit_code: int, cls: str, named: str) -> None:
    found = diagnosis.diagnose(_step(line, exit_code=exit_code), Facts())
    assert (found.class_, named in found.summary) == (cls, True), found


def test_banner_text_is_the_class_summary_and_first_hint() -> None:
    assert diagnosis.banner_text(EXPECTED["curl-on-busybox"]) == (
        "command-not-found: `curl` is not in this layer (busybox), which has no package manager "
        "to install it with.\n"
        "    hint: This layer has `wget` (/bin/wget): use it instead of `curl`."
    )


def test_session_banner_shows_the_diagnosis() -> None:
    """The debug phase hands banner_text to the session; the banner shows it under the layer
    lines."""
    from dbugbuild.debug.commands import Commands, Subject
    from dbugbuild.debug.stepenv import DEFAULT_SHELL, StepEnv

    class _Layer:  # the banner reads only the step environment
        env = StepEnv("sha256:" + "a" * 64, "curl x", None, False, DEFAULT_SHELL, (), "", "/",
                      None, "failed container")  # fmt: skip

    subject = Subject(
        where="Dockerfile:4",
        message="RUN failed with exit code 127: /bin/sh: curl: not found",
        last_good_image="sha256:" + "a" * 64,
        failed_container=None,
        diagnosis=diagnosis.banner_text(EXPECTED["curl-on-busybox"]),
    )
    text = Commands(_Layer(), subject, write=lambda _: None).banner()
    assert "\n  diagnosis: command-not-found: `curl` is not in this layer (busybox)" in text
    assert "\n    hint: This layer has `wget` (/bin/wget): use it instead of `curl`.\n" in text

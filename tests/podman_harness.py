"""Podman for the tests marked `podman`: the set-up (scripts/setup-podman.sh, its private
containers.conf), what a test left in Podman's store, and the private services dbugbuild
starts (engine/podman.py), which must all be gone when a run ends.

Podman's store may be shared like Docker's daemon: a test counts only what carries its own
label value, the containers that appeared while it ran, and the images its builds printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parent.parent / "scripts" / "setup-podman.sh"

# What `podman build` prints about the images it makes: `--> <id>` (not `--> Using cache`,
# whose image may be another's) and the final 64-hex id alone on a line.
_PRINTED = re.compile(r"^(?:--> ([0-9a-f]{11,64})|([0-9a-f]{64}))\s*$", re.MULTILINE)
PRINTED: set[str] = set()

_conf: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def conf() -> str:
    """The private containers.conf (scripts/setup-podman.sh, run once: it is idempotent and
    fast when done); a podman test fails under CI=true without podman, else it skips."""
    if not _conf:
        try:
            done = subprocess.run(
                ["bash", str(SETUP)], capture_output=True, text=True, timeout=900, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = subprocess.CompletedProcess([], 1, "", str(exc))
        path = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
        if not path:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            if in_ci():
                pytest.fail(f"CI=true and no usable podman: {why}", pytrace=False)
            pytest.skip(f"no usable podman: {why} (run 'make test' to set it up)")
        _conf.append(path[0])
    return _conf[0]


def podman(*argv: str) -> str:
    """Run the podman CLI with the tests' containers.conf; its stdout."""
    done = subprocess.run(
        ["podman", *argv],
        env={**os.environ, "CONTAINERS_CONF": conf()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"podman {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def note_build_output(text: str) -> None:
    for found in _PRINTED.finditer(text):
        PRINTED.add(found.group(1) or found.group(2))


def images() -> set[str]:
    return {i.removeprefix("sha256:") for i in podman("images", "-a", "-q", "--no-trunc").split()}


def containers() -> set[str]:
    """Every container in the store, Buildah's build containers too (`--external`)."""
    return set(podman("ps", "-a", "--external", "-q", "--no-trunc").split())


def labelled(label: str) -> list[str]:
    found = podman("ps", "-a", "-q", "--filter", f"label={label}").split()
    found += podman("images", "-a", "-q", "--filter", f"label={label}").split()
    return found


def services() -> list[str]:
    """The private `podman system service` processes running (their command lines)."""
    return [
        line for line in _processes() if "system service" in line and "dbugbuild-podman-" in line
    ]


def container_monitors() -> set[str]:
    """The conmon processes of containers dbugbuild names (`dbugbuild-<session>-<n>`): one that
    outlives its run is a container process still running, whatever the store says."""
    return {line for line in _processes() if "conmon" in line and " -n dbugbuild-" in line}


def _processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines()]


def service_dirs() -> set[str]:
    """The private services' folders (engine/podman.py makes them under the temp folder)."""
    where = Path(tempfile.gettempdir())
    return {str(p) for p in where.glob("dbugbuild-podman-*")}


def remove_session_images(before: set[str]) -> None:
    """Remove the images the session's builds printed that the store did not hold before."""
    made = [
        image
        for image in images() - before
        if any(image.startswith(printed) for printed in PRINTED)
    ]
    for _ in range(5):  # children first: podman refuses a parent whose child is left
        if not made:
            return
        subprocess.run(
            ["podman", "rmi", "-f", *made],
            env={**os.environ, "CONTAINERS_CONF": conf()},
            capture_output=True,
            check=False,
        )
        left = images()  # once a round: each `podman images -a` reads the whole store
        made = [image for image in made if image in left]

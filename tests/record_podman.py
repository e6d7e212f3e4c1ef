"""(Re)record `podman build` output for the cases under tests/fixtures/podman/cases/.

Usage (from the repository root, as root, with the set-up done):

    export CONTAINERS_CONF=$(bash scripts/setup-podman.sh)
    .venv/bin/python tests/record_podman.py                 # every case
    .venv/bin/python tests/record_podman.py run-exit-100    # only these cases

Each case directory holds a Dockerfile, its context and a `case.json`:

    description         what the case shows
    context             the build context, relative to the case directory
    dockerfile          the Dockerfile, relative to the case directory (`-f`)
    args                further `podman build` arguments (e.g. ["--target", "builder"])
    tag                 -t, or null
    runs                how many times the build runs back to back; the LAST run is recorded
                        (2 for a cached rebuild)
    pre_builds          [{context, dockerfile, tag, args}] built first (e.g. an ONBUILD parent)
    expected_exit_code  podman's exit status when the case behaves as designed

Every case is recorded twice, each time from a store that holds none of the case's layers:

    1. `podman build --layers ...`   (Buildah's default, spelled out) -> logs/<case>.log
    2. `podman build --no-cache ...`                                  -> logs/<case>.no-cache.log

with stdout and stderr merged into one pipe (arrival order, as `2>&1 | tee` keeps them), bytes
as printed. logs/<case>.meta.json records, per run, the argv, the exit status, the date, and
the versions of podman, the Buildah it embeds and the OCI runtime, plus the build containers a
failing build left behind (`--force-rm=false` keeps one).

Clean-up removes exactly what the case's builds made: images whose id was printed by them
(`--> <id>`, `--> Using cache <id>`, the final 64-hex id) and did not exist before the case,
the case's tags, and build containers that appeared during the case and sit on one of those
images or on a base image (Buildah names them `<image>-working-container`). `podman images -a`
and `podman ps -a --external` are compared before and after; anything else that appeared is
reported, never removed (someone else may share the store).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "fixtures" / "podman" / "cases"
LOGS = TESTS / "fixtures" / "podman" / "logs"
BASE_IMAGES = ("busybox:latest", "debian:bookworm")
VARIANTS = (("layers", "--layers", ""), ("no-cache", "--no-cache", ".no-cache"))

# What Buildah prints about the images it makes (imagebuildah/stage_executor.go logImageID,
# logCacheHit; imagebuildah/executor.go prints the final id alone on stdout).
_PRINTED_ID = re.compile(rb"^--> (?:Using cache )?([0-9a-f]{11,64})\s*$", re.MULTILINE)
_FINAL_ID = re.compile(rb"^([0-9a-f]{64})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    spec: dict[str, Any]


def podman(*argv: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *argv], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"podman {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def images() -> set[str]:
    # `podman images --no-trunc` prints sha256:<hex>; Buildah prints and containers hold <hex>.
    return {i.removeprefix("sha256:") for i in podman("images", "-a", "-q", "--no-trunc").split()}


def containers() -> dict[str, tuple[str, str]]:
    """Every container podman knows, Buildah's included: id -> (name, image id)."""
    out = podman(
        "ps", "-a", "--external", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.ImageID}}"
    )
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            found[parts[0]] = (parts[1], parts[2])
    return found


def versions() -> dict[str, str]:
    version = json.loads(podman("version", "--format", "json"))
    info = json.loads(podman("info", "--format", "json"))
    runtime = info["host"]["ociRuntime"]
    return {
        "podman": version["Client"]["Version"],
        "podman_api": version["Client"]["APIVersion"],
        "go": version["Client"]["GoVersion"],
        "buildah": info["host"]["buildahVersion"],
        "oci_runtime": f"{runtime['name']} {runtime['version'].splitlines()[0]}",
        "network_backend": info["host"].get("networkBackend", ""),
        "cgroup": f"{info['host']['cgroupVersion']} {info['host']['cgroupManager']}",
    }


def load_cases(names: list[str]) -> list[Case]:
    found = sorted(p.parent for p in CASES.glob("*/case.json"))
    cases = [Case(d.name, d, json.loads((d / "case.json").read_text())) for d in found]
    if names:
        unknown = set(names) - {c.name for c in cases}
        if unknown:
            raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.name in names]
    return cases


def build(case: Case, flag: str) -> tuple[list[str], int, bytes]:
    spec = case.spec
    argv = ["podman", "build", flag, *spec["args"]]
    if spec["tag"]:
        argv += ["-t", spec["tag"]]
    argv += ["-f", spec["dockerfile"], spec["context"]]
    output, status = b"", 0
    for _ in range(spec["runs"]):
        done = subprocess.run(
            argv,
            cwd=case.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )
        output, status = done.stdout, done.returncode
        note_ids(done.stdout)
    return argv, status, output


_printed: set[str] = set()  # ids the current case's builds printed


def note_ids(output: bytes) -> None:
    _printed.update(m.decode() for m in _PRINTED_ID.findall(output))
    _printed.update(m.decode() for m in _FINAL_ID.findall(output))


def clean(
    before_images: set[str], before_ctrs: dict[str, tuple[str, str]], tags: list[str]
) -> list[str]:
    """Remove what this case made; return what appeared and was left because it is not ours."""
    base_ids = {podman("image", "inspect", "--format", "{{.Id}}", b).strip() for b in BASE_IMAGES}
    base_ids = {i.removeprefix("sha256:") for i in base_ids}
    new_images = images() - before_images
    ours = {i for i in new_images if any(i.startswith(p) for p in _printed)}
    for tag in tags:
        found = podman("images", "-q", "--no-trunc", tag, check=False).split()
        ours.update(i.removeprefix("sha256:") for i in found)
    ours &= new_images
    for cid, (name, image) in containers().items():
        if cid in before_ctrs:
            continue
        sits_on_ours = any(i.startswith(image) for i in ours | base_ids)
        if name.endswith("-working-container") and sits_on_ours:
            podman("rm", "-f", cid)
    for tag in tags:
        podman("rmi", tag, check=False)
    pending = sorted(ours)
    for _ in range(len(pending) + 1):  # children before parents, in as many passes as needed
        if not pending:
            break
        still = []
        for image in pending:
            if podman("rmi", image, check=False) == "" and image in images():
                still.append(image)
        pending = still
    _printed.clear()
    left = sorted(images() - before_images) + sorted(set(containers()) - set(before_ctrs))
    return left


def record(case: Case, meta_versions: dict[str, str]) -> dict[str, Any]:
    spec = case.spec
    meta: dict[str, Any] = {
        "case": case.name,
        "description": spec["description"],
        "cwd": f"tests/fixtures/podman/cases/{case.name}",
        "env": {"CONTAINERS_CONF": "the file scripts/setup-podman.sh writes"},
        "versions": meta_versions,
        "runs": {},
    }
    tags = [spec["tag"]] if spec["tag"] else []
    for label, flag, suffix in VARIANTS:
        before_images, before_ctrs = images(), containers()
        pre_tags = []
        for pre in spec["pre_builds"]:
            argv = ["podman", "build", *pre.get("args", []), "-t", pre["tag"], "-f"]
            argv += [pre["dockerfile"], pre["context"]]
            done = subprocess.run(argv, cwd=case.directory, capture_output=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"{case.name}: pre-build failed: {done.stdout!r} {done.stderr!r}")
            note_ids(done.stdout)
            pre_tags.append(pre["tag"])
        started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        argv, status, output = build(case, flag)
        kept = [
            {"name": name, "image": image}
            for cid, (name, image) in sorted(containers().items())
            if cid not in before_ctrs
        ]
        log = LOGS / f"{case.name}{suffix}.log"
        log.write_bytes(output)
        meta["runs"][label] = {
            "argv": argv,
            "runs": spec["runs"],
            "exit_code": status,
            "date": started.isoformat(),
            "log": log.name,
            "containers_left_by_the_build": kept,
        }
        left = clean(before_images, before_ctrs, tags + pre_tags)
        if left:
            print(f"{case.name}/{label}: not ours, left alone: {left}", file=sys.stderr)
        expected = spec["expected_exit_code"]
        mark = "ok" if status == expected else f"UNEXPECTED (case.json says {expected})"
        print(f"{case.name}/{label}: exit {status} {mark}", file=sys.stderr)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args(argv)
    if not os.environ.get("CONTAINERS_CONF"):
        print("warning: CONTAINERS_CONF is not set (see scripts/setup-podman.sh)", file=sys.stderr)
    LOGS.mkdir(parents=True, exist_ok=True)
    meta_versions = versions()
    for case in load_cases(args.cases):
        meta = record(case, meta_versions)
        (LOGS / f"{case.name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""(Re)record the sample_failures/ builds, and the extra cases of tests/fixtures/diagnosis/,
with the look inside their last good layers.

Usage (from the repository root, with a Docker daemon and the local base images):

    .venv/bin/python tests/record_samples.py                 # every sample and case
    .venv/bin/python tests/record_samples.py crlf-script     # only these

For each sample (or case), in its folder, with the builder dbugbuild picks for it
(backends.choice, `auto`): the classic one, with DOCKER_BUILDKIT=0,

    docker build --no-cache [OPTIONS] .   (stdout and stderr merged, in arrival order)

or BuildKit (a heredoc, a secret or cache mount, a platform ARG: issue 11's triggers),

    docker buildx build --progress=plain --load --no-cache [OPTIONS] .

where OPTIONS are a case's `options.json` "build_options" (e.g. --network none), ->
tests/fixtures/logs/samples/<name>.txt (tests/fixtures/logs/diagnosis/<name>.txt for
a case), the bytes as printed. Then, when the
diagnosis would look inside the last good layer (diagnosis.diagnose asks), the probe
dbugbuild runs there (diagnosis.probe_script through engine.Engine.probe: read-only, no
network, removed, never committed) -> <name>.probe.json: the image id, its USER and
WORKDIR, the questions asked and the probe's raw output. tests/test_diagnosis.py
diagnoses from exactly these recordings.

Clean-up removes what each build printed that did not exist before (the failed
step's container, the step images), never the base images. A BuildKit build leaves
no image when it fails, and no probe is recorded for it: BuildKit keeps no last good
layer to look into. Samples must not pull
from a registry: base-image samples fail before any registry is contacted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(REPO / "src"))

from dbugbuild import diagnosis, dockerfile, inputs, logs, report  # noqa: E402
from dbugbuild.backends.choice import choose  # noqa: E402
from dbugbuild.engine import Engine  # noqa: E402
from dbugbuild.options import BuildOptions  # noqa: E402
from dbugbuild.report import locate  # noqa: E402

SAMPLES = REPO / "sample_failures"
CASES = TESTS / "fixtures" / "diagnosis"
OUT = TESTS / "fixtures" / "logs" / "samples"
CASES_OUT = TESTS / "fixtures" / "logs" / "diagnosis"
_IDS = re.compile(r"^ ?---> (?:Running in )?([0-9a-f]{12})\s*$", re.MULTILINE)


def say(message: str) -> None:
    print(f"record_samples: {message}", file=sys.stderr)


def folder_of(name: str) -> tuple[Path, Path]:
    """(the sample's or case's folder, where its recordings go)."""
    if (SAMPLES / name).is_dir():
        return SAMPLES / name, OUT
    return CASES / name, CASES_OUT


def build_options(folder: Path) -> list[str]:
    options = folder / "options.json"
    if not options.is_file():
        return []
    return list(json.loads(options.read_text())["build_options"])


def builder_of(folder: Path) -> str:
    """The builder dbugbuild picks for a sample's Dockerfile (`--backend auto`)."""
    text = (folder / "Dockerfile").read_text()
    try:
        model: dockerfile.Dockerfile | None = dockerfile.parse(text)
    except dockerfile.DockerfileSyntaxError:
        model = None
    return choose("auto", None, model, text, BuildOptions()).backend


def sample_facts(
    name: str, log_text: str
) -> tuple[diagnosis.Facts, str | None, report.FailedStep | None]:
    """The log-only Facts of a recorded sample, its last good image and its failed step:
    the saved log read as `dbugbuild --log` reads it, the facts gathered as the app does."""
    folder = folder_of(name)[0]
    text = (folder / "Dockerfile").read_text()
    try:
        model: dockerfile.Dockerfile | None = dockerfile.parse(text)
    except dockerfile.DockerfileSyntaxError:
        model = None  # the daemon's parse error is in the log
    log = logs.read(log_text)
    located = locate(
        log,
        dockerfile=model,
        source=text,
        dockerfile_path="Dockerfile",
        location="Dockerfile",
    )
    step = located.failed_step
    if step is None:
        return diagnosis.Facts(dockerfile_text=text, context="."), None, None
    base = diagnosis.gather(
        step,
        dockerfile_text=text,
        in_trigger=log.failure is not None and log.failure.in_trigger,
        context=".",
        read_context=lambda: inputs.context_listing(str(folder)),
        secrets=(),  # the recordings pass no --secret
        builder=log.family,
    )
    return base, located.last_good_image, step


def record(engine: Engine, name: str) -> None:
    folder, out_dir = folder_of(name)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    argv = ["docker", "build", "--no-cache", *build_options(folder), "."]
    if builder_of(folder) == "buildkit":
        env.pop("DOCKER_BUILDKIT")
        argv[1:2] = ["buildx", "build", "--progress=plain", "--load"]
    done = subprocess.run(
        argv,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    out = done.stdout.decode("utf-8", errors="replace")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.txt").write_bytes(done.stdout)
    probe_file = out_dir / f"{name}.probe.json"
    try:
        base, image, step = sample_facts(name, out)
        probes: list[dict[str, object]] = []

        def look(asked: diagnosis.Questions) -> None:
            """The probe dbugbuild runs after a live build, its raw answer recorded."""
            assert image is not None
            config = engine.image_config(image) or {}
            user = str(config.get("User") or "")
            workdir = str(config.get("WorkingDir") or "/")
            script = diagnosis.probe_script(asked, workdir, user)
            result = engine.probe(image, ["/bin/sh", "-c", script], "record-samples", 10.0)
            if result is None:
                raise SystemExit(f"{name}: the probe did not run")
            probes.append(
                {
                    "image": image,
                    "user": user,
                    "workdir": workdir,
                    "questions": asdict(asked),
                    "output": result.output,
                }
            )

        if step is not None:
            diagnosis.diagnose(step, base, look if image else None)  # asks as the app does
        if probes:
            probe_file.write_text(json.dumps(probes[0], indent=2) + "\n")
        elif probe_file.exists():
            probe_file.unlink()
        say(f"{name}: exit {done.returncode}, {'probed' if probes else 'log only'}")
    finally:
        containers = set(engine.container_ids())
        ids = _IDS.findall(out)
        for cid in ids:
            if any(c.startswith(cid) for c in containers):
                engine.remove_container(cid)
        for iid in reversed(ids):
            full = engine.image_id(iid)
            if full is not None and not _is_base(engine, full):
                engine.remove_image(full)


def _is_base(engine: Engine, image: str) -> bool:
    return image in {engine.image_id("busybox:latest"), engine.image_id("debian:bookworm")}


def main(argv: list[str]) -> int:
    names = argv or [
        *sorted(p.name for p in SAMPLES.iterdir() if (p / "expected.json").is_file()),
        *sorted(p.name for p in CASES.iterdir() if (p / "Dockerfile").is_file()),
    ]
    engine = Engine.connect(os.environ)
    try:
        for name in names:
            record(engine, name)
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

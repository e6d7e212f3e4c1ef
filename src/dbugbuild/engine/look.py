"""I/O: the diagnosis' look inside the last good layer: diagnosis.probe's script, answered
from the layer's overlay folders when the engine is local (fastlook.py: no container), else
run by Engine.probe (read-only, no network, removed, never committed), its answer read; and
the diagnosis of a located failure, which takes that look only when its rules ask.

Best effort: when nothing can be learnt (no such image, no /bin/sh, a daemon error), the
answer is None and the diagnosis is the log-only one.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dbugbuild import diagnosis
from dbugbuild.diagnosis import LayerFacts, Questions, parse_probe, probe_script
from dbugbuild.engine.daemon import Engine
from dbugbuild.engine.fastlook import fast_layer_facts
from dbugbuild.errors import DbugbuildError
from dbugbuild.logs import BuildLog
from dbugbuild.report import Diagnose, Diagnosis, FailedStep

PROBE_TIMEOUT = 10.0  # seconds; the probe's finds are bounded too (depth, count)


def layer_facts(
    engine: Engine, image: str, asked: Questions, timeout: float = PROBE_TIMEOUT
) -> LayerFacts | None:
    """Look inside `image` for what `asked` wants; None when nothing could be learnt. On
    Podman through its CLI, in the store its builds use (podlook.py): no service is needed
    for it, and it sees the layer's /tmp, which the compat API's read-only root hides."""
    try:
        podman = engine.podman_look()
        if podman is not None:
            return podman.layer_facts(image, asked, timeout)
    except DbugbuildError:
        return None
    return api_layer_facts(engine, image, asked, timeout)


def api_layer_facts(
    engine: Engine,
    image: str,
    asked: Questions,
    timeout: float = PROBE_TIMEOUT,
    fast: bool = True,
) -> LayerFacts | None:
    """The look through the Engine API: read from the layer's folders when the daemon is this
    machine's and stores it in overlay2 (the inspect names them), else a probe container
    (Engine.probe; at once when not `fast`).

    "This machine's" is the endpoint (a socket, or loopback) and the folders themselves: the
    read needs every folder the inspect names to be here, and their names cannot match
    another store's by chance (overlay2 names a layer's folder by a random cache id;
    Podman's store by the layer's id, which is its content's). A daemon in a VM, or behind
    a tunnel, names folders this machine does not have, and the probe container answers.
    The daemon's `info` (Engine.is_local, which bind mounts need) is not asked: 7-25 ms of
    a failed build's end, on the daemon the build just used."""
    try:
        found = engine.image_inspect(image)
        if found is None:
            return None
        config = dict(found.get("Config") or {})
        if fast and engine.endpoint.on_this_machine:
            arch = str(found.get("Architecture") or "")
            read = fast_layer_facts(found.get("GraphDriver"), config, arch, image, asked)
            if read is not None:
                return read
        user = str(config.get("User") or "")
        workdir = str(config.get("WorkingDir") or "/")
        script = probe_script(asked, workdir, user)
        # 12 random hex digits: os.urandom, not uuid (10-20 ms to import, on every diagnosis)
        result = engine.probe(
            image, ["/bin/sh", "-c", script], f"probe-{os.urandom(6).hex()}", timeout
        )
    except DbugbuildError:
        return None
    if result is None:
        return None
    return parse_probe(result.output, image=image, user=user, workdir=workdir)


def diagnoser(
    log: BuildLog,
    *,
    dockerfile_text: str | None,
    context: str,
    read_context: Callable[[], diagnosis.ContextListing] | None,
    secrets: tuple[str, ...] | None,
    engine: Callable[[], Engine | None],
) -> Diagnose:
    """How a located failure of `log` is diagnosed: the rules decide from the log-only facts,
    and look (once, when they ask) in the build context (`read_context`) and, through the
    engine (reached only then), read-only in the last good layer. `secrets`: the build's
    --secret ids (None when unknown: a saved log's build may have had others)."""

    def diagnose(step: FailedStep, image: str | None) -> Diagnosis:
        facts = diagnosis.gather(
            step,
            dockerfile_text=dockerfile_text,
            in_trigger=log.failure is not None and log.failure.in_trigger,
            context=context,
            read_context=read_context,
            secrets=secrets,
            builder=log.family,
        )

        def look(asked: Questions) -> LayerFacts | None:
            eng = engine() if image else None
            return layer_facts(eng, image, asked) if eng is not None and image else None

        return diagnosis.diagnose(step, facts, look if image else None)

    return diagnose

"""The diagnosis' two looks beyond the log, wired to the real world: the build context on disk
(inputs.context_listing) and, through the engine, read-only inside the last good layer.

Best effort: a fact that cannot be had is left out, never an error. The look inside the
layer is one probe container (engine.Engine.probe): read-only, no network, removed and
never committed, killed after a few seconds. The script and its reading are the pure
diagnosis.probe; the rules are diagnosis'.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from dbugbuild import diagnosis, inputs
from dbugbuild.diagnosis import LayerFacts, Questions, parse_probe, probe_script
from dbugbuild.dockerfile import Dockerfile
from dbugbuild.engine import Engine
from dbugbuild.errors import DbugbuildError
from dbugbuild.report import Report

PROBE_TIMEOUT = 10.0  # seconds; the probe's finds are bounded too (depth, count)


def explain(
    report: Report,
    *,
    dockerfile: Dockerfile | None,
    dockerfile_text: str | None,
    in_trigger: bool,
    context: str,
    context_dir: str | None,
    engine: Callable[[], Engine | None],
) -> Report:
    """The report with its diagnosis (None on success). `engine` is called only when a look
    inside the last good layer could change the diagnosis and there is such a layer."""
    step = report.failed_step
    if step is None:
        return replace(report, diagnosis=None)
    facts = diagnosis.gather(
        step,
        dockerfile=dockerfile,
        dockerfile_text=dockerfile_text,
        in_trigger=in_trigger,
        context=context,
        read_context=(lambda: inputs.context_listing(context_dir)) if context_dir else None,
    )
    image = report.last_good_image

    def look(asked: Questions) -> LayerFacts | None:
        eng = engine() if image else None
        return layer_facts(eng, image, asked, PROBE_TIMEOUT) if eng and image else None

    return replace(report, diagnosis=diagnosis.diagnose(step, facts, look if image else None))


def layer_facts(engine: Engine, image: str, asked: Questions, timeout: float) -> LayerFacts | None:
    """Look inside `image` for what `asked` wants; None when nothing could be learnt."""
    try:
        config = engine.image_config(image)
        if config is None:
            return None
        user = str(config.get("User") or "")
        workdir = str(config.get("WorkingDir") or "/")
        script = probe_script(asked, workdir, user)
        result = engine.probe(
            image, ["/bin/sh", "-c", script], f"probe-{uuid.uuid4().hex[:12]}", timeout
        )
    except DbugbuildError:
        return None
    if result is None:
        return None
    return parse_probe(result.output, image=image, user=user, workdir=workdir)

"""I/O: the diagnosis' look inside the last good layer: diagnosis.probe's script, run by
Engine.probe (read-only, no network, removed, never committed), its answer read.

Best effort: when nothing can be learnt (no such image, no /bin/sh, a daemon error), the
answer is None and the diagnosis is the log-only one.
"""

from __future__ import annotations

import uuid

from dbugbuild.diagnosis import LayerFacts, Questions, parse_probe, probe_script
from dbugbuild.engine.daemon import Engine
from dbugbuild.errors import DbugbuildError

PROBE_TIMEOUT = 10.0  # seconds; the probe's finds are bounded too (depth, count)


def layer_facts(
    engine: Engine, image: str, asked: Questions, timeout: float = PROBE_TIMEOUT
) -> LayerFacts | None:
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

"""`dbugbuild bisect` on BuildKit, which keeps no image per step: each probed layer is a prefix
build (backends.lastgood) of the Dockerfile up to that step, from the build's cache.

The search is the same (bisect.search: at most ceil(log2 n) + 2 probes beyond the final
layer's), so the prefix builds are as few as the probes. A layer's build ARGs are the
values BuildKit gave them (the prefix echoes them). Every prefix image carries the
bisection's label and is removed when it ends, however it ends.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

from dbugbuild import bisect
from dbugbuild.backends.base import BuildInputs
from dbugbuild.backends.lastgood import Builds, PrefixBuilder
from dbugbuild.bisect.driver import bisect_layers, stage_error
from dbugbuild.command_options import BisectOptions
from dbugbuild.console import Console
from dbugbuild.debug.stepenv import resolve_build_args
from dbugbuild.dockerfile import Dockerfile
from dbugbuild.dockerfile.prefix import Prefix, arg_values, cut, proxy_env
from dbugbuild.engine import Engine
from dbugbuild.errors import BadInputError
from dbugbuild.inputs import DockerfileSource
from dbugbuild.report import Report, headline


def run_prefixes(
    engine: Engine,
    backend: Builds,
    build: Report,
    source: DockerfileSource,
    options: BisectOptions,
    console: Console,
) -> int | None:
    """Bisect a BuildKit build's stage (the failing one, or --stage, --target, the last);
    None when the stage has no layer before its failure (the caller reports the build)."""
    df, text = source.model, source.text
    if df is None or text is None:
        raise BadInputError(
            f"{source.shown} does not parse, so its layers cannot be rebuilt for bisect",
            "Fix the Dockerfile first",
        )
    failed = build.failed_step
    try:
        stage = bisect.prefix_layers(
            df,
            options.stage,
            target=options.build.target,
            failed_line=failed.line if failed is not None else None,
        )
    except bisect.StageError as exc:
        raise stage_error(exc) from exc
    if not stage.layers:
        return None
    session = uuid.uuid4().hex[:12]
    inputs = BuildInputs(
        options=options.build,
        cwd=console.cwd,
        env=console.env,
        dockerfile_text=text,
        dockerfile_file=None if source.stdin else os.path.join(console.cwd, source.shown),
        context_given=True,
        say=lambda t: console.write(t, err=True),
        show=lambda t: console.write(t, err=True),
    )
    builder = PrefixBuilder(engine, backend, inputs, engine.labels(session))
    build_args = resolve_build_args(options.build.build_args, console.env)

    def prepare(layer: bisect.Layer) -> bisect.Layer:
        prefix = _prefix_after(df, text, layer)
        image = builder.build(prefix, f"the layer of step {layer.index}")
        labels = (engine.image_config(image) or {}).get("Labels") or {}
        args = (*arg_values(prefix.args, labels), *proxy_env(build_args))
        return replace(layer, image=image, args_env=args)

    notes = ["BuildKit keeps no image per step: each probed layer was a prefix build (cached)"]
    if failed is not None:
        where = f"{source.location}:{failed.line}" if failed.line is not None else source.location
        notes.append(
            f"the build failed at {where} ({headline(failed)}); bisected the layers before it"
        )
    return bisect_layers(
        engine,
        stage,
        options,
        console,
        source=source,
        build=build,
        notes=notes,
        prepare=prepare,
        session=session,
    )


def _prefix_after(df: Dockerfile, text: str, layer: bisect.Layer) -> Prefix:
    """The prefix whose last instruction is the layer's (the whole stage for its last one)."""
    assert layer.line is not None
    ins = df.instruction_at(layer.line)
    assert ins is not None and ins.stage is not None
    stage = df.stages[ins.stage]
    later = [i for i in stage.instructions if i.line > ins.end_line]
    return cut(text, df, stage, later[0].line if later else None)

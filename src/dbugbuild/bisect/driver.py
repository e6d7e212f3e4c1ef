"""`dbugbuild bisect` against the daemon: pick the layers, probe them, render the answer.

A probe runs the check the way a session command runs a typed line: debug.workspace
in the layer's reconstructed step environment (its SHELL, USER, WORKDIR, Env and the
build ARGs in scope), with a timeout, committing nothing, every container labelled and
removed. Where to probe is bisect.search's pure decision; only the engine talks to Docker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from dbugbuild import bisect
from dbugbuild.backends.lastgood import Builds
from dbugbuild.command_options import BisectOptions
from dbugbuild.console import Console
from dbugbuild.debug import stepenv
from dbugbuild.debug.signals import ending_signals
from dbugbuild.debug.stepenv import resolve_build_args
from dbugbuild.debug.workspace import Workspace
from dbugbuild.dockerfile import label_options
from dbugbuild.engine import LABEL, Engine
from dbugbuild.errors import BadInputError, EngineError, NoInputError, NoShellError, UsageError
from dbugbuild.inputs import DockerfileSource
from dbugbuild.logs import BuildLog
from dbugbuild.report import Report, headline
from dbugbuild.report.style import short_id


def run_build(
    engine: Engine,
    build: Report,
    log: BuildLog,
    source: DockerfileSource,
    options: BisectOptions,
    console: Console,
    backend: Builds | None = None,
) -> int | None:
    """Bisect the layers a build made (of its last stage, or --stage); returns the exit
    status, or None when that stage made no layer (the caller then reports the build).
    BuildKit's build made no layer per step: its layers are prefix builds (prefixes.py)."""
    if build.builder == "buildkit" and backend is not None:
        from dbugbuild.bisect.prefixes import run_prefixes  # it builds on this module

        return run_prefixes(engine, backend, build, source, options, console)
    if build.builder == "buildkit":  # no backend to build its prefixes with
        raise EngineError(
            f"bisecting a {build.builder} build needs a build of each prefix of the "
            "Dockerfile, which this dbugbuild cannot make yet",
            "Bisect with the classic builder: --backend classic (or --backend podman)",
        )
    args = resolve_build_args(options.build.build_args, console.env)
    try:
        stage = bisect.build_layers(log, build.steps, source.model, args, options.stage)
    except bisect.StageError as exc:
        raise stage_error(exc) from exc
    if not stage.layers:
        return None
    notes: list[str] = []
    failed = build.failed_step
    if failed is not None:
        where = f"{source.location}:{failed.line}" if failed.line is not None else source.location
        notes.append(
            f"the build failed at step {failed.index} ({where}: {headline(failed)}); "
            "bisected the layers made before it"
        )
        if build.failed_container:
            # Engine.close removes it: the classic builder was dbugbuild's choice.
            notes.append(f"the build's failed container {build.failed_container} is removed")
    return bisect_layers(engine, stage, options, console, source=source, build=build, notes=notes)


def run_image(
    engine: Engine,
    options: BisectOptions,
    source: DockerfileSource | None,
    console: Console,
) -> int:
    """Bisect the parent chain of an existing classic-built image (--image); `source` maps its
    layers to lines when a Dockerfile is given."""
    assert options.image is not None
    image = engine.image_id(options.image)
    if image is None:
        raise NoInputError(
            f"no image {options.image} in the Docker daemon",
            "Give an image id or name that 'docker images' lists",
        )
    chain = [bisect.HistoryEntry(short_id(i), created) for i, created in engine.image_chain(image)]
    if len(chain) < 2:
        raise BadInputError(
            f"image {options.image} has no parent images to bisect (it was pulled, squashed "
            "or built with BuildKit, which keep no image per step)",
            "Build it with dbugbuild: 'dbugbuild bisect PATH --check CMD'",
        )
    notes: list[str] = []
    dockerfile = source.model if source is not None else None
    if source is not None and source.text is not None and dockerfile is None:
        notes.append(f"{source.shown} does not parse: lines not mapped")
    try:
        stage = bisect.history_layers(
            chain,
            dockerfile,
            source.shown if source is not None else None,
            target=options.build.target,
            labels=label_options(options.build.labels),
            build_args=resolve_build_args(options.build.build_args, console.env),
            stage=options.stage,
        )
    except bisect.StageError as exc:
        raise stage_error(exc) from exc
    return bisect_layers(
        engine, stage, options, console, source=source, image=options.image, notes=notes
    )


def stage_error(exc: bisect.StageError) -> UsageError:
    if exc.known:
        return UsageError(exc.message, f"Give --stage one of: {', '.join(exc.known)}")
    return UsageError(exc.message, "Give --stage (or --target) a stage the Dockerfile names")


def bisect_layers(
    engine: Engine,
    stage: bisect.StageLayers,
    options: BisectOptions,
    console: Console,
    *,
    source: DockerfileSource | None,
    image: str | None = None,
    build: Report | None = None,
    notes: list[str],
    prepare: Prepare | None = None,
    session: str | None = None,
) -> int:
    """Search the stage's layers; `prepare` makes a layer's image before its probe (BuildKit
    keeps none: a prefix build), its images removed with the session afterwards."""
    layers = stage.layers
    points = bisect.positions(layers)
    session = session or uuid.uuid4().hex[:12]
    probes: dict[int, bisect.Probe] = {}
    most = 1 + min(bisect.probe_budget(len(points)), len(points) - 1)
    console.write(
        f"dbugbuild bisect: {len(layers)} layers"
        + (f" of stage {stage.label}" if stage.label else "")
        + f", at most {most} probes of `{options.check}`\n",
        err=True,
    )

    def shows(position: int) -> bool:
        layer = layers[points[position]]
        if prepare is not None:
            layer = prepare(layer)
        probe = probe_layer(
            engine,
            layer,
            options.check,
            session_id=session,
            timeout=options.probe_timeout,
            network=options.build.network,
        )
        probes[position] = probe
        said = {"pass": "passes", "fail": "fails", "timeout": "timed out"}[probe.outcome]
        console.write(
            f"dbugbuild bisect: probe {len(probes)}: step {layer.index} ({short_id(layer.image)}) "
            f"{said} (exit {probe.exit_code}, {probe.seconds:.1f}s)\n",
            err=True,
        )
        return probe.passed == options.until_pass

    with ending_signals():  # SIGTERM/SIGHUP unwind through the probe's clean-up too
        try:
            found = bisect.search(len(points), shows)
        finally:
            # Once for the whole search: what a prepared layer made, and anything a probe
            # cut short left (each probe removes its own container).
            engine.sweep(f"{LABEL}={session}")
    if prepare is not None:
        stage = _with_images(stage, points, probes)
    result = bisect.conclude(
        found,
        stage,
        probes,
        check=options.check,
        until_pass=options.until_pass,
        probe_timeout=options.probe_timeout,
        source=source.text if source is not None else None,
        dockerfile=source.shown if source is not None else None,
        location=source.location if source is not None else None,
        image=image,
        build=build,
        notes=notes,
    )
    console.emit(
        options.format,
        options.color,
        text=lambda color: bisect.render_text(result, color=color),
        json=lambda: bisect.render_json(result),
        gcc=lambda: bisect.render_gcc(result),
        notes=result.notes,
    )
    return result.exit_code


Prepare = Callable[[bisect.Layer], bisect.Layer]


def _with_images(
    stage: bisect.StageLayers, points: tuple[int, ...], probes: dict[int, bisect.Probe]
) -> bisect.StageLayers:
    """The stage's layers with the images their probes were made in."""
    layers = list(stage.layers)
    for position, probe in probes.items():
        layers[points[position]] = probe.layer
    return replace(stage, layers=tuple(layers))


def probe_layer(
    engine: Engine,
    layer: bisect.Layer,
    check: str,
    *,
    session_id: str,
    timeout: float | None,
    network: str | None,
) -> bisect.Probe:
    """Run the check in one layer as a session command would, committing nothing; Ctrl-C
    stops it (its container is killed and removed) and ends the bisection. Its container is
    removed when it ends; the caller sweeps `session_id` once when all probes are done (a
    sweep per probe, its label lists, was a third of a probe's time)."""
    config = engine.image_config(layer.image)
    if config is None:
        raise EngineError(
            f"the layer of step {layer.index} ({layer.image}) is no longer in the Docker daemon",
            "Rebuild to recreate it: 'dbugbuild bisect PATH --check CMD'",
        )
    env = stepenv.reconstruct(layer.image, config, None, layer.args_env, network)
    workspace = Workspace(engine, env, session_id)
    try:
        ran = workspace.run(env.argv_for(check), timeout=timeout, keep=False)
    except NoShellError as exc:
        # A layer without the step's shell (FROM scratch) cannot pass a shell check.
        return bisect.Probe(layer, "fail", 127, f"{exc}\n", 0.0)
    if ran.interrupted:
        raise KeyboardInterrupt
    outcome: bisect.Outcome = (
        "timeout" if ran.timed_out else "pass" if ran.exit_code == 0 else "fail"
    )
    return bisect.Probe(layer, outcome, ran.exit_code, bisect.clip(ran.output), ran.seconds)

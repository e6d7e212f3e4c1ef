"""Orchestration of `dbugbuild compose` and `bisect --service`: a Compose project's services,
each built through app's one build path (report, session, --exec, --apply, :continue) as
`docker compose build` builds them, one after another; the first failure stops the rest.

The model is compose's (engine/compose.py asks the CLI); each service's build section becomes
dbugbuild's options in the pure compose/plan.py. Nothing here builds, parses or renders.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

from dbugbuild import app, compose, inputs, report
from dbugbuild.command_options import (
    ComposeBisectOptions,
    ComposeOptions,
    ComposeProject,
    ComposeService,
)
from dbugbuild.compose.output import messages
from dbugbuild.console import Console
from dbugbuild.engine import compose as compose_engine
from dbugbuild.options import BuildOptions, Options


def plans(
    project: ComposeProject, names: Sequence[str], base: BuildOptions, console: Console
) -> tuple[compose.ServicePlan, ...]:
    """The builds of the services `names` (none: all with a build section), in compose's
    order, from the project compose resolves; compose's warnings are passed on."""
    cli = compose_engine.find_cli(console.env)
    data, said = compose_engine.resolved(cli, project, names, console.env, console.cwd)
    for message in messages(said):
        console.warn(f"compose: {message.text}")
    proj = compose.project(data)
    return tuple(
        compose.plan(service, proj, console.cwd, base)
        for service in compose.build_order(proj, names)
    )


@contextlib.contextmanager
def _dockerfile(
    plan: compose.ServicePlan, console: Console
) -> Iterator[tuple[BuildOptions, tuple[str, ...]]]:
    """The service's build options with its Dockerfile in a file (a `dockerfile_inline` in a
    temporary one outside the context, removed afterwards), and the notes that says."""
    if plan.inline is None:
        yield plan.build, ()
        return
    with inputs.inline_dockerfile(plan.inline, plan.service, plan.build.context, console) as path:
        note = (
            f"service {plan.service}'s Dockerfile is its dockerfile_inline, written to {path} "
            "for this build and removed afterwards; a fix is printed, not written"
        )
        yield replace(plan.build, file=path), (note,)


def run(options: ComposeOptions, console: Console) -> int:
    """Build the services one after another; the exit status is the first failing one's
    (after its session, --exec or report), 0 when every one built."""
    todo = plans(options.project, options.services, options.run.build, console)
    status = 0
    for index, plan in enumerate(todo):
        console.write(
            f"dbugbuild: building service {plan.service} ({index + 1}/{len(todo)})\n", err=True
        )
        rest = [p.service for p in todo[index + 1 :]]
        status, built = _build(plan, options.run, rest, console)
        if not built:
            return status
    return status


def _build(
    plan: compose.ServicePlan, template: Options, rest: Sequence[str], console: Console
) -> tuple[int, bool]:
    """One service through app.run: (its exit status, whether its last build succeeded, which
    a :continue can make so)."""
    last: list[report.Report] = []
    inputs.check_service(plan.build, plan.service, console)
    with _dockerfile(plan, console) as (build, notes):
        service = ComposeService(plan.service, (*plan.notes, *notes), plan.inline is not None)
        options = replace(template, build=build, compose=service)

        def emit(result: report.Report) -> None:
            if result.failed_step is not None and rest:
                result = replace(result, notes=(*result.notes, _not_built(rest)))
            last.append(result)
            _show(result, options, console)

        status = app.run(options, console, emit)
    return status, bool(last) and last[-1].failed_step is None


def _not_built(rest: Sequence[str]) -> str:
    return (
        f"not built after this failure: {', '.join(rest)} (docker compose build stops too; "
        "they are built once this service builds, e.g. after :continue)"
    )


def _show(result: report.Report, options: Options, console: Console) -> None:
    """A service's report: as dbugbuild shows any, but JSON on one line (one per service)."""
    console.emit(
        options.format,
        options.color,
        text=lambda color: report.render_text(result, color=color),
        json=lambda: report.render_json(result, one_line=True),
        gcc=lambda: report.render_gcc(result),
        notes=result.notes,
    )


def run_bisect(options: ComposeBisectOptions, console: Console) -> int:
    """`dbugbuild bisect --service NAME`: bisect that service's build as app bisects a folder."""
    bisect = options.bisect
    (plan,) = plans(options.project, (options.service,), bisect.build, console)
    inputs.check_service(plan.build, plan.service, console)
    with _dockerfile(plan, console) as (build, notes):
        for note in (*plan.notes, *notes):
            console.warn(note)
        return app.run_bisect(replace(bisect, build=build, dockerfile_given=True), console)

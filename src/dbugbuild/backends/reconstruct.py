"""The failing step's environment rebuilt from the last good image, for any backend: the image's
config (its Env, User, WorkingDir and Shell reflect every earlier ENV/USER/WORKDIR/SHELL),
the build ARGs in scope at the failing line, and --network.

Classic falls back on it when the failed container is gone; Podman, which removes the
failed container, always uses it (with the Dockerfile's SHELL: Podman's image config has
none); BuildKit, from the image of a Dockerfile prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbugbuild.backends.base import FailureSite
from dbugbuild.debug import stepenv
from dbugbuild.engine import Engine
from dbugbuild.errors import BadInputError, EngineError


def reconstructed(
    engine: Engine, site: FailureSite, written: str | None, shell: Sequence[str] | None = None
) -> stepenv.StepEnv:
    """The environment of `site`'s failing step in its last good image; `written` is the
    failing instruction as written (pre-typed for a RUN); `shell` the step's SHELL when the
    image's config cannot say (Podman reports none)."""
    rep = site.report
    if not rep.last_good_image:
        raise EngineError(
            "there is no layer to debug in: the failing step has no last good image",
            "The base image itself failed, or the stage is FROM scratch",
        )
    base = engine.image_id(rep.last_good_image)
    if base is None:
        raise BadInputError(
            f"the build's last good layer {rep.last_good_image} is not in the "
            + ("Podman store" if engine.is_podman else "Docker daemon"),
            "Rebuild with dbugbuild (the log's images were removed, or it came from elsewhere)",
        )
    image_config = engine.image_config(base) or {}
    if shell is not None:
        image_config = {**image_config, "Shell": list(shell)}
    ins = site.instruction
    is_run = ins is not None and ins.keyword == "RUN"
    failure = site.log.failure
    quoted = failure.command if failure is not None and failure.in_trigger else None
    args_env: tuple[str, ...] = ()
    command = written if is_run else None
    if ins is not None and site.dockerfile is not None:
        args_env = stepenv.args_in_effect(
            site.stage, site.dockerfile.meta_args, ins.line, site.build_args
        )
        if ins.keyword in ("COPY", "ADD"):
            # Nothing to retry in a shell; show where the files should have gone.
            dest = (
                (ins.json_args[-1] if ins.json_args else ins.args.split()[-1]) if ins.args else "."
            )
            command = f"ls -la {dest}"
    return stepenv.reconstruct(
        base,
        image_config,
        ins if is_run else None,
        args_env,
        site.network,
        command=command,
        # The builder ran a parent's ONBUILD trigger, found among the parent's triggers.
        trigger=stepenv.failed_trigger(quoted, image_config) if quoted else None,
    )

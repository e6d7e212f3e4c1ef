"""I/O: the Compose CLI, asked for the project as it resolves it (`docker compose config
--format json`), so that interpolation, `.env`, `--env-file`, `extends`, `include`, profiles
and several `-f` files are compose's own, never a second reading of YAML.

The v2 plugin (`docker compose`) first, as `docker compose build` runs; else a standalone
`docker-compose` of v2. Compose v1 (bookworm's docker-compose 1.29) prints no JSON: it is
refused with what to install. The daemon is not needed for this.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbugbuild.command_options import ComposeProject
from dbugbuild.compose.output import error_line, major_version
from dbugbuild.errors import BadInputError, EngineUnavailableError, NoInputError, UsageError

INSTALL_COMPOSE = (
    "Install Docker Compose v2: the compose plugin (Debian trixie: 'apt-get install "
    "docker-compose'; Docker's packages: docker-compose-plugin; "
    "https://docs.docker.com/compose/install/)"
)
_TIMEOUT = 60  # seconds: `config` reads files; it never waits for a daemon


@dataclass(frozen=True)
class ComposeCLI:
    """The compose CLI found (the docker plugin or the standalone one), and its version."""

    argv: tuple[str, ...]  # ("/usr/bin/docker", "compose") or ("/usr/bin/docker-compose",)
    version: str  # as `version --short` prints it

    @property
    def described(self) -> str:
        return f"{' '.join(a.rsplit('/', 1)[-1] for a in self.argv)} {self.version}"


def _version(argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run(
            [*argv, "version", "--short"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def find_cli(env: Mapping[str, str]) -> ComposeCLI:
    """The Compose CLI to ask: `docker compose` (v2 plugin), else `docker-compose` v2."""
    old: str | None = None
    for name, argv in (("docker", ("compose",)), ("docker-compose", ())):
        path = shutil.which(name, path=env.get("PATH"))
        if path is None:
            continue
        version = _version((path, *argv), env)
        if version is None:
            continue
        major = major_version(version)
        if major is not None and major >= 2:
            return ComposeCLI((path, *argv), version)
        old = old or " ".join([name, *argv, version])
    if old is not None:
        raise EngineUnavailableError(
            f"{old} is Compose v1, whose `config` cannot print the resolved project as JSON",
            INSTALL_COMPOSE,
        )
    raise EngineUnavailableError(
        "no Docker Compose CLI was found (neither `docker compose`, the v2 plugin, nor "
        "`docker-compose` on PATH)",
        INSTALL_COMPOSE,
    )


def resolved(
    cli: ComposeCLI,
    project: ComposeProject,
    services: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
) -> tuple[Any, str]:
    """(the decoded JSON of `config --format json [SERVICES]`, compose's stderr: its
    warnings). Naming services lets compose add what they need (their dependencies, their
    profiles); an error of compose's is one line: exit 65, 66 for a missing file, 2 for an
    unknown service."""
    argv = [*cli.argv, *project.argv(), "config", "--format", "json", *services]
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailableError(
            f"could not run {cli.described} config: {exc}", "Check the Compose installation"
        ) from exc
    if done.returncode != 0:
        raise _config_error(error_line(done.stderr, done.returncode))
    try:
        return json.loads(done.stdout), done.stderr
    except ValueError as exc:
        raise BadInputError(
            f"{cli.described} config --format json printed no JSON ({exc})",
            "Check 'docker compose config --format json' by hand",
        ) from exc


def _config_error(said: str) -> Exception:
    """Compose's refusal as dbugbuild's error, its words kept."""
    if said.startswith("no such service:"):
        return UsageError(f"compose: {said}", "Name a service of the project, or none")
    if said.startswith(("no configuration file provided", "Couldn't find env file")) or (
        said.startswith("open ") and said.endswith("no such file or directory")
    ):
        return NoInputError(
            f"compose: {said}",
            "Run it in the project's folder, or give the compose file with -f",
        )
    hint = "Fix the compose file ('docker compose config' shows what compose reads)"
    if "MarshalJSON for type types.SSHKey" in said:
        # compose 2.26 cannot print `ssh: [ID=PATH]` as JSON (tests/fixtures/compose/).
        hint = (
            "This compose cannot print a build's `ssh: ID=PATH` as JSON: use ssh: [default] "
            "(the ssh agent), or a newer Docker Compose"
        )
    return BadInputError(f"compose cannot read the project: {said}", hint)

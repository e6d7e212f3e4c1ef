"""PURE: where a BuildKit RUN's mounts come from on the client: `--secret`, `--ssh` and
`--build-context` read as buildx reads them (buildx util/buildflags secrets.go and ssh.go,
BuildKit session/secrets/secretsprovider: an id alone is the variable of that name if it is
set, else the file of that name). Never does I/O, prints, or reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dbugbuild.dockerfile.runflags import RunFlagError, split_csv


@dataclass(frozen=True)
class SecretSource:
    """One `--secret`: its id and a file or an environment variable that holds it."""

    id: str
    file: str | None
    env: str | None


@dataclass(frozen=True)
class SSHSource:
    """One `--ssh ID[=SOCKET|KEY[,KEY]]`: no paths means the caller's SSH_AUTH_SOCK."""

    id: str
    paths: tuple[str, ...]


class SourceError(ValueError):
    """An option value buildx would refuse (the build would not have run)."""


def parse_secret(value: str, env: Mapping[str, str]) -> SecretSource:
    """One `--secret` value; `env` is the caller's environment (an id alone picks from it)."""
    try:
        fields = split_csv(value)
    except RunFlagError as exc:
        raise SourceError(str(exc)) from exc
    kind = secret_id = file = variable = None
    for field in fields:
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            raise SourceError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            if val not in ("file", "env"):
                raise SourceError(f"unsupported secret type {val!r}")
            kind = val
        elif key == "id":
            secret_id = val
        elif key in ("source", "src"):
            file = val
        elif key == "env":
            variable = val
        else:
            raise SourceError(f"unexpected key '{key}' in '{field}'")
    if kind == "env" and variable is None:
        variable, file = file, None
    if not secret_id:
        raise SourceError("secret missing ID")
    if variable is None and file is None:
        if secret_id in env:
            variable = secret_id
        else:
            file = secret_id
    return SecretSource(secret_id, file, variable)


def parse_ssh(value: str) -> SSHSource:
    """One `--ssh` value."""
    name, eq, paths = value.partition("=")
    if not name:
        raise SourceError(f"invalid ssh value {value!r}")
    return SSHSource(name, tuple(p for p in paths.split(",") if p) if eq else ())


def parse_contexts(values: Sequence[str]) -> dict[str, str]:
    """`--build-context NAME=VALUE` values by name (a local folder, `docker-image://REF`, ...)."""
    out: dict[str, str] = {}
    for value in values:
        name, eq, where = value.partition("=")
        if not eq or not name or not where:
            raise SourceError(f"invalid build context {value!r}, expected NAME=VALUE")
        out[name] = where
    return out


def secrets_by_id(values: Sequence[str], env: Mapping[str, str]) -> dict[str, SecretSource]:
    """The `--secret` values by id (a later one replaces an earlier one, as in BuildKit)."""
    return {s.id: s for s in (parse_secret(v, env) for v in values)}


def ssh_by_id(values: Sequence[str]) -> dict[str, SSHSource]:
    """The `--ssh` values by id."""
    return {s.id: s for s in (parse_ssh(v) for v in values)}

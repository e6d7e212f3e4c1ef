"""(Re)record what the Compose CLI prints for the projects under tests/fixtures/compose/projects/.

Usage (from the repository root, with the docker CLI and its compose plugin; no daemon needed):

    .venv/bin/python tests/record_compose.py          # every case in CASES
    .venv/bin/python tests/record_compose.py depends  # only the cases whose name starts so

Each case copies its project folder to ROOT/<project> (a fixed path, so that the absolute
paths compose prints are the same on every machine that reads the recordings) and runs

    docker compose [ARGS] config --format json [SERVICES]

there, with an environment of PATH, HOME and the case's variables only (the machine's own
variables must not leak into the interpolation). It writes, under tests/fixtures/compose/config/:

    <case>.out        stdout, byte for byte (compose's JSON, or nothing on an error)
    <case>.stderr     stderr, byte for byte (warnings; the error)
    <case>.meta.json  argv, cwd, the environment given, exit code, date, compose's version

and `version.*` for `docker compose version --short` / `docker-compose version --short`.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
PROJECTS = TESTS / "fixtures" / "compose" / "projects"
OUT = TESTS / "fixtures" / "compose" / "config"
ROOT = Path("/tmp/dbugbuild-compose-fixtures")

# name, project folder, compose options, services, environment
CASES: list[tuple[str, str, list[str], list[str], dict[str, str]]] = [
    ("all-keys", "all-keys", [], [], {"FROM_ENV": "from-the-environment", "TWO": "2"}),
    ("all-keys.unset-env", "all-keys", [], [], {}),
    ("interpolation", "interpolation", [], [], {}),
    ("interpolation.env-file", "interpolation", ["--env-file", "other.env"], [], {}),
    ("interpolation.environment-wins", "interpolation", [], [], {"FROM_DOTENV": "from-shell"}),
    ("override", "override", [], [], {}),
    ("override.files", "override", ["-f", "compose.yaml", "-f", "ci.yaml"], [], {}),
    ("override.project-name", "override", ["-p", "other-name"], [], {}),
    ("extends-include", "extends-include", [], [], {}),
    ("depends", "depends", [], [], {}),
    ("depends.named", "depends", [], ["c"], {}),
    ("depends.profile", "depends", ["--profile", "tools"], [], {}),
    ("depends.named-in-profile", "depends", [], ["tools"], {}),
    ("depends.unknown-service", "depends", [], ["nosuch"], {}),
    ("git-context", "git-context", [], [], {}),
    ("errors.missing-var", "errors", ["-f", "missing-var.yaml"], [], {}),
    ("errors.bad-yaml", "errors", ["-f", "bad-yaml.yaml"], [], {}),
    ("errors.unset-var", "errors", ["-f", "unset-var.yaml"], [], {}),
    ("errors.external-secret", "errors", ["-f", "external-secret.yaml"], [], {}),
    ("errors.no-file", "errors", [], [], {}),
    ("errors.missing-file", "errors", ["-f", "nope.yaml"], [], {}),
    ("errors.missing-env-file", "interpolation", ["--env-file", "nope.env"], [], {}),
    ("errors.bad-project-name", "override", ["-p", "Other_Name"], [], {}),
    ("errors.ssh-key", "errors", ["-f", "ssh-key.yaml"], [], {}),
]


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **extra}


def _version(argv: list[str]) -> str:
    done = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True)
    return done.stdout.strip()


def record(name: str, project: str, options: list[str], services: list[str], env: dict[str, str]):
    where = ROOT / project
    if where.exists():
        shutil.rmtree(where)
    shutil.copytree(PROJECTS / project, where)
    argv = ["docker", "compose", *options, "config", "--format", "json", *services]
    done = subprocess.run(argv, cwd=where, env=_env(env), capture_output=True)
    (OUT / f"{name}.out").write_bytes(done.stdout)
    (OUT / f"{name}.stderr").write_bytes(done.stderr)
    meta = {
        "argv": argv,
        "cwd": str(where),
        "env": env,
        "exit_code": done.returncode,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "compose_version": _version(["docker", "compose"]),
    }
    (OUT / f"{name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: exit {done.returncode}")


def main(prefixes: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        if not prefixes or any(case[0].startswith(p) for p in prefixes):
            record(*case)
    versions = {}
    clis = (("docker compose", ["docker", "compose"]), ("docker-compose", ["docker-compose"]))
    for key, argv in clis:
        versions[key] = _version(argv) if shutil.which(argv[0]) else None
    (OUT / "version.json").write_text(json.dumps(versions, indent=2) + "\n")
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])

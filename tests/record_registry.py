"""Record what the classic builder prints when a FROM cannot be pulled from a private registry.

Usage (root, from the repository root, with the main daemon and busybox:latest):

    .venv/bin/python tests/record_registry.py

Starts the private registry of tests/daemons.py (Distribution 2.8, TLS, htpasswd) on
loopback, builds each case below with `DOCKER_BUILDKIT=0 docker build` on the main
daemon, its stdout and stderr merged in arrival order, and writes
tests/fixtures/logs/registry/<case>.txt with a .meta.json (versions, the Dockerfile,
the registry's address and which credentials the client had; never the password).
Nothing is built past the failing FROM, so nothing is left to clean up.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from pathlib import Path

import daemons
import record_fixtures

OUT = Path(__file__).parent / "fixtures" / "logs" / "registry"

# case -> (Dockerfile, which DOCKER_CONFIG: "anonymous" | "wrong-password" | "logged-in")
CASES = {
    "anonymous-pull": ("FROM {registry}/busybox\nRUN echo pulled\n", "anonymous"),
    "wrong-password": ("FROM {registry}/busybox\nRUN echo pulled\n", "wrong-password"),
    "tag-not-found": ("FROM {registry}/busybox:no-such-tag\nRUN echo pulled\n", "logged-in"),
}


def main() -> int:
    registry = daemons.start_registry()
    try:
        address = registry.facts["address"]
        configs = {
            "anonymous": registry.facts["anonymous_config"],
            "logged-in": registry.facts["config"],
            "wrong-password": str(registry.folder / "wrong-config"),
        }
        wrong = base64.b64encode(f"{registry.facts['user']}:not-the-password".encode()).decode()
        Path(configs["wrong-password"]).mkdir()
        Path(configs["wrong-password"], "config.json").write_text(
            json.dumps({"auths": {address: {"auth": wrong}}})
        )
        OUT.mkdir(parents=True, exist_ok=True)
        for case, (template, credentials) in CASES.items():
            dockerfile = template.format(registry=address)
            with tempfile.TemporaryDirectory() as context:
                Path(context, "Dockerfile").write_text(dockerfile)
                done = subprocess.run(
                    ["docker", "build", "--no-cache", "."],
                    cwd=context,
                    env={
                        **daemons.base_env(),
                        "DOCKER_BUILDKIT": "0",
                        "DOCKER_CONFIG": configs[credentials],
                    },
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            text = done.stdout.decode("utf-8")
            assert registry.facts["password"] not in text
            if "---> Running in" in text:
                raise SystemExit(f"{case}: the FROM was pulled; nothing to record")
            (OUT / f"{case}.txt").write_bytes(done.stdout)
            meta = {
                "case": case,
                "argv": ["docker", "build", "--no-cache", "."],
                "dockerfile": dockerfile,
                "exit_code": done.returncode,
                "registry": {"address": address, "software": "Debian docker-registry 2.8"},
                "credentials": credentials,
                "versions": record_fixtures.versions(),
                "daemon": record_fixtures.daemon_facts(),
            }
            (OUT / f"{case}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            record_fixtures.say(f"registry/{case}: recorded (exit {done.returncode})")
    finally:
        registry.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

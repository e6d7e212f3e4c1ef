"""PURE: what the daemon's machine lacked: disk space, or a network the step could use."""

from __future__ import annotations

import re

from dbugbuild.diagnosis.case import Case, Found, code, said

_NO_SPACE = re.compile(
    r"No space left on device|ENOSPC|not enough free space|You don't have enough free space"
)
_WRITING = re.compile(r"(?:writing|write|create|creating|open) '?(/[^':\s]+)'?")


def disk_full(case: Case) -> Found | None:
    hit = case.last(_NO_SPACE)
    if hit is None:
        return None
    _, line = hit
    target = _WRITING.search(line)
    where = f" while writing {code(target.group(1))}" if target else ""
    return Found(
        f"The disk the Docker daemon builds on is full: the step ran out of space{where}.",
        (
            "See what uses the space: `docker system df`; free it with `docker builder prune` "
            "and `docker image prune` (and `df -h` on the daemon's data root, "
            "`docker info -f '{{.DockerRootDir}}'`).",
            "Make the step write less: delete downloads and caches in the same RUN that made "
            "them (e.g. `&& rm -rf /var/lib/apt/lists/*`), or fetch only what the image needs.",
        ),
        (said(line),),
    )


_NETWORK = re.compile(
    r"Temporary failure resolving '(?P<apt>[^']+)'|"
    r"Could not resolve (?:host: )?'?(?P<resolve>[^'\s]+)'?|"
    r"bad address '(?P<bad>[^']+)'|"
    r"can't connect to remote host \((?P<wget>[^)]+)\): (?P<wget_why>.+)|"
    r"Failed to connect to (?P<curl>\S+)|"
    r"Could not connect to (?P<apt_connect>\S+)|"
    r"unable to resolve host address '(?P<gnu>[^']+)'|"
    r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<npm>\S+)|"
    r"Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|No route to host|Connection refused|Connection timed out|"
    r"ECONNREFUSED|ETIMEDOUT|TLS handshake timeout|download timed out|"
    r"Failed to establish a new connection"
)


def network(case: Case) -> Found | None:
    if not case.runs_command:
        return None
    hit = case.first(_NETWORK)
    if hit is None:
        return None
    found, line = hit
    host = next(
        (
            v
            for k in ("apt", "resolve", "bad", "wget", "curl", "apt_connect", "gnu", "npm")
            if (v := found.group(k))
        ),
        None,
    )
    host = host.rstrip(":.,") if host else None
    evidence = (said(line),)
    if host and (host.startswith("127.") or host in ("localhost", "::1", "[::1]")):
        return Found(
            f"Nothing answered at {code(host)}: inside a build step, localhost is the step's own "
            "container, not your machine.",
            (
                "A server on your machine is not reachable as localhost from a build: serve the "
                "file from a host the build can reach, or put it in the build context and COPY "
                "it instead of downloading it.",
                "With `--network host` the step shares the daemon machine's network (and its "
                "localhost).",
            ),
            evidence,
        )
    resolving = re.search(r"resolv|bad address|ENOTFOUND|EAI_AGAIN|Name or service", line)
    what = f"{code(host)} " if host else ""
    if resolving:
        summary = f"The build step could not resolve the name {what}(DNS failed)."
        hints = (
            f"Check the spelling of {what}in the URL; try it from the daemon's machine.",
            "The build uses the daemon's DNS: set `dns` in /etc/docker/daemon.json, or try "
            "`--network host`; behind a proxy pass `--build-arg HTTP_PROXY=... "
            "--build-arg HTTPS_PROXY=...`.",
        )
    else:
        summary = f"The build step could not connect to {what or 'a server '}over the network."
        hints = (
            "Check that the server is up and reachable from the daemon's machine (the build "
            "runs there, in a container).",
            "Behind a proxy pass `--build-arg HTTP_PROXY=... --build-arg HTTPS_PROXY=...`; a "
            "firewall may block containers.",
        )
    return Found(summary, hints, evidence)

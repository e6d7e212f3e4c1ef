"""I/O: the few Engine API calls a report makes (and /version, asked before a build starts),
as plain requests on a local socket.

docker-py with requests and urllib3 is about 200 ms of CPU to import on these machines. A
classic build's report asks the daemon two things once the build has failed (the failed
step's image, the removal of its container); importing docker-py for them, in a thread
while the build runs, takes that CPU from the daemon's build (benchmarks/: the build
overhead). So on a local unix socket without TLS those calls are one HTTP/1.0 request each,
as `docker` itself makes them, and docker-py loads only for anything else.

The answers are docker-py's exactly: the same paths, unversioned (the daemon's own API
version, which is the one docker-py's client negotiates), the same JSON. Whatever is not a
plain success (an error status, a refused or broken connection, a chunked answer, a name
that would need quoting) is asked again through docker-py's client, so that its errors, and
what the engine's modules catch of them, are unchanged.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# What an id or a reference may hold unquoted in a path (docker-py quotes with safe="/:").
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@")
_TIMEOUT = 120  # docker-py's client's (connect.py)


class PlainAPI:
    """inspect_image, inspect_container and remove_container of docker-py's APIClient by plain
    requests on the unix socket at `url` (plain_request); every other attribute is
    `full()`'s (the docker-py APIClient, made when first needed)."""

    def __init__(self, url: str, full: Callable[[], Any]) -> None:
        self._url = url
        self._full = full

    def __getattr__(self, name: str) -> Any:
        return getattr(self._full(), name)

    def inspect_image(self, image: str) -> Any:
        return self._get(f"/images/{image}/json", image, lambda api: api.inspect_image(image))

    def inspect_container(self, container: str) -> Any:
        target = f"/containers/{container}/json"
        return self._get(target, container, lambda api: api.inspect_container(container))

    def remove_container(
        self, container: str, v: bool = False, link: bool = False, force: bool = False
    ) -> None:
        target = f"/containers/{container}?v={int(v)}&link={int(link)}&force={int(force)}"
        if self._request("DELETE", target, container) is None:
            self._full().remove_container(container, v=v, link=link, force=force)

    def _get(self, target: str, name: str, again: Callable[[Any], Any]) -> Any:
        """The JSON a GET answers, or `again` through docker-py's client."""
        body = self._request("GET", target, name)
        try:
            if body is not None:
                return json.loads(body)
        except ValueError:
            pass
        return again(self._full())

    def _request(self, method: str, target: str, name: str) -> bytes | None:
        """A 2xx answer's body; None for anything else, or a `name` that needs quoting."""
        if not name or not _PLAIN.issuperset(name):
            return None
        return plain_request(self._url, method, target, _TIMEOUT)


def local_version(url: str) -> dict[str, Any] | None:
    """The /version answer of the daemon on a unix socket, by one plain request (no
    docker-py: this is asked before a build starts); None when it cannot be had."""
    body = plain_request(url, "GET", "/version", timeout=5)
    try:
        answer = json.loads(body) if body is not None else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def plain_request(url: str, method: str, target: str, timeout: float) -> bytes | None:
    """The body of a 2xx answer to one HTTP/1.0 request on the unix socket at `url`, read to
    its end (whole: not chunked, as long as its Content-Length); None for anything else."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(url.split("://", 1)[1])
            sock.sendall(f"{method} {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            parts = []
            while chunk := sock.recv(65536):
                parts.append(chunk)
    except OSError:
        return None
    head, sep, body = b"".join(parts).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/1."):
        return None
    if not (status[1].isdigit() and 200 <= int(status[1]) < 300):
        return None
    for header in lines[1:]:
        key, _, value = (part.strip().lower() for part in header.partition(b":"))
        if key == b"transfer-encoding" and value != b"identity":
            return None
        if key == b"content-length" and (not value.isdigit() or int(value) != len(body)):
            return None  # cut short
    return body

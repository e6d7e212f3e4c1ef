"""I/O: the few Engine API calls a report makes, as plain requests on a local socket.

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


class _NotPlain(Exception):
    """The request got no plain answer: docker-py's client asks it again."""


class PlainAPI:
    """inspect_image, inspect_container and remove_container of docker-py's APIClient by plain
    requests on the unix socket at `url`; every other attribute is `full()`'s (the docker-py
    APIClient, made when first needed)."""

    def __init__(self, url: str, full: Callable[[], Any]) -> None:
        self._path = url.split("://", 1)[1]
        self._full = full

    def __getattr__(self, name: str) -> Any:
        return getattr(self._full(), name)

    def inspect_image(self, image: str) -> Any:
        return self._get("/images/{}/json", image, lambda api: api.inspect_image(image))

    def inspect_container(self, container: str) -> Any:
        return self._get(
            "/containers/{}/json", container, lambda api: api.inspect_container(container)
        )

    def remove_container(
        self, container: str, v: bool = False, link: bool = False, force: bool = False
    ) -> None:
        try:
            query = f"?v={int(v)}&link={int(link)}&force={int(force)}"
            self._request("DELETE", "/containers/{}", container, query)
        except _NotPlain:
            self._full().remove_container(container, v=v, link=link, force=force)

    def _get(self, path: str, name: str, again: Callable[[Any], Any]) -> Any:
        """The JSON a GET answers, or `again` through docker-py's client."""
        try:
            return json.loads(self._request("GET", path, name, ""))
        except (_NotPlain, ValueError):
            return again(self._full())

    def _request(self, method: str, path: str, name: str, query: str) -> bytes:
        """The body of a 2xx answer to one request; _NotPlain for anything else."""
        if not name or not _PLAIN.issuperset(name):
            raise _NotPlain
        import socket

        line = f"{method} {path.format(name)}{query} HTTP/1.0\r\nHost: docker\r\n\r\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_TIMEOUT)
                sock.connect(self._path)
                sock.sendall(line.encode("ascii"))
                parts = []
                while chunk := sock.recv(65536):
                    parts.append(chunk)
        except OSError as exc:
            raise _NotPlain from exc
        return _body(b"".join(parts))


def _body(answer: bytes) -> bytes:
    """The body of an HTTP/1.x answer read to its end, when its status is 2xx and its body is
    whole (not chunked, as long as its Content-Length); _NotPlain otherwise."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/1."):
        raise _NotPlain
    if not (status[1].isdigit() and 200 <= int(status[1]) < 300):
        raise _NotPlain
    for header in head.split(b"\r\n")[1:]:
        key, _, value = header.partition(b":")
        key, value = key.strip().lower(), value.strip()
        if key == b"transfer-encoding" and value.lower() != b"identity":
            raise _NotPlain
        if key == b"content-length" and (not value.isdigit() or int(value) != len(body)):
            raise _NotPlain  # cut short
    return body

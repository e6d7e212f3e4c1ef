"""PURE: the Engine API's /build JSON stream -> the text the docker CLI prints for it.

For logs saved from tools that drive the API; what comes out parses as the CLI's text
does. Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator

from dbugbuild.logs.model import LogFormatError


def _api_object_text(obj: object) -> str:
    """The text the docker CLI prints, without a terminal, for one /build JSON message."""
    # As moby pkg/jsonmessage JSONMessage.Display does without a terminal; an error is
    # printed by the CLI as its message alone (docker/cli build.go: StatusError).
    if not isinstance(obj, dict):
        raise LogFormatError(
            f"the Engine API build stream holds {type(obj).__name__} {obj!r:.60}; "
            "expected JSON objects such as {'stream': 'Step 1/3 : FROM ...'}"
        )
    detail = obj.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return f"{detail['message']}\n"
    if obj.get("error"):
        return f"{obj['error']}\n"
    aux = obj.get("aux")
    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
        # The CLI keeps the aux ID for --iidfile and prints nothing; we print the id alone
        # on a line, as the daemon itself does for `docker build -q`.
        return f"{aux['ID']}\n"
    if isinstance(obj.get("stream"), str):
        return str(obj["stream"])
    status = obj.get("status")
    if not isinstance(status, str):
        return ""
    progress = obj.get("progressDetail")
    if isinstance(progress, dict) and (
        _positive(progress.get("current")) or _positive(progress.get("total"))
    ):
        return ""  # a progress bar: not printed without a terminal
    prefix = f"{obj['id']}: " if obj.get("id") else ""
    if obj.get("from"):
        prefix += f"(from {obj['from']}) "
    if isinstance(obj.get("progress"), str) and obj["progress"]:
        return f"{prefix}{status} {obj['progress']}"
    return f"{prefix}{status}\n"


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and value > 0


def api_stream_text(chunks: Iterable[str | bytes]) -> Iterator[str]:
    """Yield the text the docker CLI prints for an Engine API /build JSON stream.

    Accepts the raw chunks as they arrive (bytes or text; objects split across chunks or
    several per chunk). `stream` text comes out as is; `status` lines as `id: status`
    (progress bars dropped, as without a terminal); an error as its message line; an
    `aux` ID as the bare `sha256:...` line that `docker build -q` prints. Raises
    LogFormatError on input that is not such a stream.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    for chunk in chunks:
        text = utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            continue
        buffer += text
        while True:
            start = len(buffer) - len(buffer.lstrip())
            if start == len(buffer):
                buffer = ""
                break
            if buffer[start] != "{":
                raise LogFormatError(
                    f"the Engine API build stream is not JSON: found {buffer[start:][:60]!r}; "
                    "expected objects such as {'stream': 'Step 1/3 : FROM ...'}"
                )
            try:
                obj, end = decoder.raw_decode(buffer, start)
            except ValueError:
                buffer = buffer[start:]
                break  # an object cut by the chunking: wait for the rest
            buffer = buffer[end:]
            out = _api_object_text(obj)
            if out:
                yield out
    buffer += utf8.decode(b"", final=True)
    if buffer.strip():
        raise LogFormatError(
            f"the Engine API build stream ends inside a JSON object: {buffer.strip()[:60]!r}"
        )

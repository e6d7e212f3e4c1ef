"""`--log FILE` and `--log -` as saved: encodings (Windows PowerShell's UTF-16, BOMs), read
piece by piece in memory that stays flat in the log's size, garbage still one clear line."""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from dbugbuild import inputs, logs
from dbugbuild.console import Console
from dbugbuild.logs.text import decode_bytes, encoding

RECORDED = FIXTURES / "logs" / "run-exit-100.txt"  # Engine 20.10, a RUN exiting 100
BUILDKIT = FIXTURES / "buildkit" / "logs" / "multiline-run-fail.log"
PODMAN = FIXTURES / "podman" / "logs" / "run-exit-100.log"

ENCODINGS = {
    # Windows PowerShell 5.1: `docker build . > build.log` and Out-File write UTF-16 LE + BOM.
    "utf-16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be-bom": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),  # Notepad, Set-Content
    "utf-16-le": lambda text: text.encode("utf-16-le"),  # no BOM: told by its NUL bytes
    "utf-16-be": lambda text: text.encode("utf-16-be"),
    "utf-8": lambda text: text.encode("utf-8"),
}


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("log", [RECORDED, BUILDKIT, PODMAN], ids=lambda p: p.parent.parent.name)
def test_log_file_in_any_encoding_reads_as_utf8(name: str, log: Path, tmp_path: Path) -> None:
    text = log.read_text(encoding="utf-8")
    (tmp_path / "build.log").write_bytes(ENCODINGS[name](text))
    saved = run_cli(["--log", "build.log", "--format", "json"], tmp_path)
    (tmp_path / "plain.log").write_text(text, encoding="utf-8")
    plain = run_cli(["--log", "plain.log", "--format", "json"], tmp_path)
    assert plain.code != 65, plain.stderr
    assert (saved.code, saved.stderr) == (
        plain.code,
        plain.stderr.replace("plain.log", "build.log"),
    )
    assert saved.json()["failed_step"] == plain.json()["failed_step"]


def test_log_stdin_utf16_from_powershell(tmp_path: Path) -> None:
    """`docker build . 2>&1 > build.log` in PowerShell, then `Get-Content -Raw build.log |
    dbugbuild --log -` on a machine that pipes the bytes: read like the file."""
    data = codecs.BOM_UTF16_LE + RECORDED.read_text().encode("utf-16-le")
    done = subprocess.run(
        [sys.executable, "-m", "dbugbuild", "--log", "-", "--format", "json"],
        input=data,
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"},
        check=False,
    )
    assert done.returncode == 100, done.stderr
    assert b"exit status 100" in done.stdout or b'"exit_code": 100' in done.stdout


def test_log_garbage_is_still_one_line(tmp_path: Path) -> None:
    """Bytes that are no text in any encoding: the one-line error of a log that is none."""
    (tmp_path / "build.log").write_bytes(bytes(range(256)) * 64 + os.urandom(4096))
    run = run_cli(["--log", "build.log"], tmp_path)
    assert run.code == 65
    assert run.stderr.startswith("dbugbuild: error: build.log is not a docker build log: ")
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize("size", [1, 2, 3, 5, 4096, 1 << 16])
@pytest.mark.parametrize("name", ENCODINGS)
def test_decode_bytes_in_any_chunking(name: str, size: int) -> None:
    text = "Step 1/2 : FROM busybox\n ---> 634a12f5cd7e\nélan ✓ 𝄞\r\n" * 50
    data = ENCODINGS[name](text)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    assert "".join(decode_bytes(chunks)) == text
    assert encoding(data)[0] == name.removesuffix("-bom")


def test_encoding_of_random_bytes_is_utf8() -> None:
    assert encoding(os.urandom(4096))[0] == "utf-8"
    assert encoding(b"")[0] == "utf-8"


MB = int(os.environ.get("DBUGBUILD_BIG_LOG_MB", "32"))


def _big_classic_log(path: Path, size: int) -> None:
    """The recorded log with its failing RUN's output repeated to `size` bytes."""
    head, sep, tail = RECORDED.read_text().partition("The command '/bin/sh -c")
    output = "Get:1 http://deb.debian.org/debian bookworm/main amd64 libfoo1 amd64 1.2-3 [123 kB]\n"
    block = output * ((1 << 20) // len(output) + 1)
    with path.open("w") as fh:
        fh.write(head)
        for _ in range(max(size // len(block), 1)):
            fh.write(block)
        fh.write(sep + tail)


def test_log_file_is_read_in_flat_memory(tmp_path: Path) -> None:
    """`--log FILE` read the whole file first (432 MB peak for a 200 MB log): now the peak
    stays the same however big the log is."""
    console = Console(
        io.StringIO(), io.StringIO(), io.StringIO(), False, False, False, {}, str(tmp_path)
    )
    peaks = []
    for size in ((MB << 20) // 10, MB << 20):
        path = tmp_path / f"build-{size}.log"
        _big_classic_log(path, size)
        tracemalloc.start()
        try:
            log = inputs.saved_log(path.name, console)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        path.unlink()
        assert log.failure is not None and log.failure.exit_code == 100
    assert peaks[1] < 8 << 20, peaks  # the whole log would be MB MiB, twice
    assert peaks[1] < 1.5 * peaks[0] + (256 << 10), peaks


def test_read_stream_is_read_in_any_chunking() -> None:
    text = RECORDED.read_text()
    whole = logs.read_family(text)
    for size in (1, 7, 4096):
        assert logs.read_stream(text[i : i + size] for i in range(0, len(text), size)) == whole

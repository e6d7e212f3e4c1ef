"""Write `hello`: the smallest Linux arm64 (aarch64) program, which just exits 0.

It stands in for a tool downloaded for the wrong architecture (an arm64 release asset
on an amd64 machine). Run `python3 make_hello.py` to make it again.
"""

import os
import struct

BASE = 0x400000
EHSIZE, PHSIZE = 64, 56
# mov x0, #0; mov x8, #93 (exit); svc #0
CODE = struct.pack("<III", 0xD2800000, 0xD2800BA8, 0xD4000001)
TOTAL = EHSIZE + PHSIZE + len(CODE)
ENTRY = BASE + EHSIZE + PHSIZE
EM_AARCH64 = 183

ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
header = ident + struct.pack(
    "<HHIQQQIHHHHHH", 2, EM_AARCH64, 1, ENTRY, EHSIZE, 0, 0, EHSIZE, PHSIZE, 1, 0, 0, 0
)
program = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, TOTAL, TOTAL, 0x1000)  # PT_LOAD, R+X

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hello")
with open(path, "wb") as fh:
    fh.write(header + program + CODE)
os.chmod(path, 0o755)

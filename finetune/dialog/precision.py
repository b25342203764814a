"""Which float type this CPU should run the dialog model in.

bf16 halves the bytes each decode step reads, but only CPUs with bf16 instructions compute in it:
on an AVX-512-BF16 / AMX server it made training 1.7x and decoding 1.4x faster than fp32, while on
an AVX2-only CPU (most laptops, and 2026-12-07's 2-core AMD EPYC) torch emulates it and a bf16
matrix product took 7.8x as long as fp32 (BENCHMARKS.md). ``auto`` picks bf16 only where it is
native.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

Precision = Literal["auto", "fp32", "bf16", "int8"]
# /proc/cpuinfo flags of native bf16 arithmetic (x86: AVX-512 BF16 or AMX; Arm: the BF16 extension)
BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


@lru_cache(maxsize=1)
def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when /proc/cpuinfo lists bf16 instructions. Unknown (no such file, e.g. macOS) ->
    False: fp32 is never the slow choice."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.split(":")[0].strip() in {"flags", "Features"}:
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & BF16_FLAGS)


def resolve(precision: str) -> str:
    """``auto`` -> bf16 on a CPU that computes it natively, fp32 elsewhere; others unchanged."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision

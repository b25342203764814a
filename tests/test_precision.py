"""`auto` precision: bf16 only on a CPU with bf16 instructions (emulated bf16 is ~8x slower)."""

from __future__ import annotations

from finetune.dialog.precision import native_bf16, resolve

AVX2 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


def test_bf16_is_native_only_where_the_cpu_lists_bf16_instructions(tmp_path):
    for name, text, native in [("avx2", AVX2, False), ("avx512", AVX512_BF16, True),
                               ("arm", ARM_BF16, True)]:
        cpuinfo = tmp_path / name
        cpuinfo.write_text(text)
        assert native_bf16(cpuinfo) is native, name
    assert native_bf16(tmp_path / "no-such-file") is False


def test_auto_resolves_to_a_real_precision_and_the_rest_stay():
    assert resolve("auto") in {"bf16", "fp32"}
    assert resolve("auto") == ("bf16" if native_bf16() else "fp32")
    assert [resolve(p) for p in ("fp32", "bf16", "int8")] == ["fp32", "bf16", "int8"]

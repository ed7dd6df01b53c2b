"""tryon.hardware reads the machine facts every benchmark records (from a faked /proc/cpuinfo)."""

import pytest

from tryon import hardware

CPUINFO = """processor\t: 0
model name\t: Example Xeon 8480
physical id\t: 0
core id\t: 0
flags\t\t: fpu sse avx2 fma avx512f avx512_vnni amx_tile amx_bf16

processor\t: 1
model name\t: Example Xeon 8480
physical id\t: 0
core id\t: 0
flags\t\t: fpu sse avx2 fma avx512f avx512_vnni amx_tile amx_bf16

processor\t: 2
model name\t: Example Xeon 8480
physical id\t: 0
core id\t: 1
flags\t\t: fpu sse avx2 fma avx512f avx512_vnni amx_tile amx_bf16
"""


@pytest.fixture
def fake_cpuinfo(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: CPUINFO)


def test_model_flags_and_cores_from_cpuinfo(fake_cpuinfo):
    assert hardware.cpu_model() == "Example Xeon 8480"
    assert {"avx512_vnni", "amx_bf16", "sse"} <= hardware.cpu_flags()
    assert hardware.isa_flags() == ["avx2", "fma", "avx512f", "avx512_vnni", "amx_tile", "amx_bf16"]
    assert hardware.physical_cores() == 2  # three logical CPUs, two (physical id, core id) pairs
    m = hardware.machine()
    assert m["cpu"] == "Example Xeon 8480" and m["physical_cores"] == 2 and m["isa"][-1] == "amx_bf16"


def test_without_cpuinfo_falls_back(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "")
    assert hardware.cpu_flags() == set() and hardware.isa_flags() == []
    assert hardware.physical_cores() >= 1
    assert isinstance(hardware.cpu_model(), str)


@pytest.fixture
def no_cap(monkeypatch):
    monkeypatch.delenv("TRYON_MAX_ISA", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)


def test_features_of_an_amx_cpu(fake_cpuinfo, no_cap):
    assert all(hardware.has(f) for f in ("avx2", "avx512", "vnni", "bf16", "amx"))
    assert hardware.missing("fp16") == "fp16 not supported by this CPU (Example Xeon 8480: no avx512_fp16)"


def test_avx2_only_cpu_lacks_the_rest(monkeypatch, no_cap):
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "model name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n")
    assert hardware.has("avx2") and not any(hardware.has(f) for f in ("avx512", "vnni", "bf16", "amx"))
    assert "no avx512_bf16 / amx_bf16" in hardware.missing("bf16")


@pytest.mark.parametrize("var", ["TRYON_MAX_ISA", "ONEDNN_MAX_CPU_ISA"])
def test_a_cap_holds_an_amx_cpu_to_avx2(fake_cpuinfo, no_cap, monkeypatch, var):
    monkeypatch.setenv(var, "AVX2")
    assert hardware.isa_cap() == ("avx2", var)
    assert hardware.has("avx2") and not hardware.has("bf16") and not hardware.has("vnni") and not hardware.has("avx512")
    assert hardware.missing("bf16") == f"bf16 not used: the run is held to AVX2 by {var}"
    assert hardware.isa_flags()[-1] == "amx_bf16"  # the CPU's own flags stay recorded ...
    assert hardware.machine()["isa_cap"] == f"AVX2 ({var})"  # ... next to the cap the run was held to


def test_cap_levels_and_errors(fake_cpuinfo, no_cap, monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")
    assert hardware.has("vnni") and not hardware.has("bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "ALL")  # oneDNN's default: no cap
    assert hardware.isa_cap() == (None, None) and hardware.has("amx")
    monkeypatch.setenv("TRYON_MAX_ISA", "avx3")
    with pytest.raises(ValueError, match="TRYON_MAX_ISA='avx3'"):
        hardware.has("avx2")
    with pytest.raises(KeyError, match="unknown CPU feature"):
        hardware.missing("neon")


def test_cpu_class_follows_the_flags_and_the_cap(fake_cpuinfo, no_cap, monkeypatch):
    assert hardware.cpu_class() == "AMX" and hardware.machine()["cpu_class"] == "AMX"
    monkeypatch.setenv("TRYON_MAX_ISA", "avx512_core")
    assert hardware.cpu_class() == "AVX-512"
    monkeypatch.setenv("TRYON_MAX_ISA", "avx2")
    assert hardware.cpu_class() == "AVX2"
    monkeypatch.setenv("TRYON_MAX_ISA", "sse41")
    assert hardware.cpu_class() == "below AVX2"
    from tryon.study import machine_summary

    assert machine_summary({"machine": hardware.machine()}).startswith("below AVX2-class Example Xeon 8480 (")
    assert machine_summary({"machine": {"cpu": "Old CPU", "isa": ["avx2"]}}) == "Old CPU (avx2)"  # older records read

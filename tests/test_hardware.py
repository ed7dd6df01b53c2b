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

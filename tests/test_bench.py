"""tryon.bench: harness, bench.json schema, CLI (tiny iteration counts; no speed target is asserted)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

import tryon
import tryon.plugins
from tryon.bench import run_bench, summarise, time_fn, validate_bench_json
from tryon.cli import main
from tryon.errors import TryonError


import tiny_tasks as tiny  # noqa: E402 - tests/ is on sys.path (conftest.py)


@pytest.fixture(scope="module")
def tasks():
    tiny.register_tiny_tasks()
    yield
    tryon.plugins.reset_manager()


@pytest.fixture(scope="module")
def bench(tasks, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = run_bench("tiny-tryon", sizes=[(32, 24), (48, 32)], batches=(1, 2),
                       backends=("torch", "torch-pipeline", "ort-cpu", "ort-cuda", "ort-int8"),
                       iters=3, warmup=1, threads=1, compare="tiny-wide", out_dir=out, device="cpu")
    return out, result


def test_bench_json_schema_and_numbers(bench):
    import onnxruntime as ort

    out, result = bench
    on_disk = json.loads((out / "bench.json").read_text())
    assert validate_bench_json(on_disk) is True
    assert on_disk["schema_version"] == 1
    rows = on_disk["results"]
    main_rows = [r for r in rows if r["role"] == "main"]
    # 2 sizes x 2 batches x {torch, torch-pipeline, ort-cpu}; the compare task: 2 x 2 whole-pipeline rows
    assert len(main_rows) == 12 and len(rows) == 16
    assert {(r["backend"], r["batch"], tuple(r["size"])) for r in main_rows} == {
        (b, n, s) for b in ("torch", "torch-pipeline", "ort-cpu") for n in (1, 2) for s in ((32, 24), (48, 32))}
    for r in rows:
        assert r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        # fps is derived from the rounded mean_ms stored in the row: equal up to that rounding (< 1e-3 relative)
        assert r["fps"] == pytest.approx(r["batch"] * 1000.0 / r["mean_ms"], rel=1e-3)
        assert r["iters"] == 3 and r["peak_mem_mb"] > 0
    assert all(r["providers"] == ["CPUExecutionProvider"] for r in rows if r["backend"] == "ort-cpu")
    assert all(r["ort_intra_op_threads"] == 1 for r in rows if r["backend"] == "ort-cpu")
    skipped = {s["backend"]: s["reason"] for s in on_disk["skipped"]}
    assert "int8" in skipped["ort-int8"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "CUDAExecutionProvider" in skipped["ort-cuda"]
    env = on_disk["environment"]
    assert env["machine"]["logical_cores"] >= 1 and env["machine"]["cpu"]
    assert env["threads"] == {"torch": 1, "ort_intra_op": 1}
    assert {"torch", "onnxruntime", "tryon"} <= set(env["versions"])
    # ratios: ORT vs eager torch per size/batch, and the whole-pipeline comparison with the other task
    assert len(on_disk["ratios"]["vs_torch"]) == 4
    cmp = on_disk["ratios"]["compare"]
    assert len(cmp) == 4 and all(c["other"] == "tiny-wide" and c["speedup"] > 0 for c in cmp)
    mine = {(r["batch"], tuple(r["size"])): r for r in main_rows if r["backend"] == "torch-pipeline"}
    theirs = {(r["batch"], tuple(r["size"])): r for r in rows if r["role"] == "compare"}
    c0 = cmp[0]
    key = (c0["batch"], tuple(c0["size"]))
    # the recorded ratio of two rounded means: equal up to that rounding
    assert c0["speedup"] == pytest.approx(theirs[key]["mean_ms"] / mine[key]["mean_ms"], rel=1e-3)
    md = (out / "bench.md").read_text()
    assert "| task | backend | batch |" in md and "tiny-wide" in md and "Skipped" in md


def test_validate_rejects_broken_json(bench):
    _, good = bench
    validate_bench_json(good)
    cases = []
    bad = copy.deepcopy(good)
    bad["results"][0]["p50_ms"] = bad["results"][0]["p99_ms"] + 1
    cases.append((bad, "p50"))
    bad = copy.deepcopy(good)
    bad["results"][0]["fps"] *= 2
    cases.append((bad, "fps"))
    bad = copy.deepcopy(good)
    del bad["schema_version"]
    cases.append((bad, "schema_version"))
    bad = copy.deepcopy(good)
    del bad["results"][1]["providers"]
    cases.append((bad, "providers"))
    bad = copy.deepcopy(good)
    bad["results"][0]["backend"] = "tensorflow"
    cases.append((bad, "backend"))
    bad = copy.deepcopy(good)
    del bad["environment"]["machine"]["cpu"]
    cases.append((bad, "cpu"))
    bad = copy.deepcopy(good)
    bad["ratios"] = []
    cases.append((bad, "ratios"))
    for obj, word in cases:
        with pytest.raises(TryonError, match=word):
            validate_bench_json(obj)


def test_time_fn_and_summarise():
    calls = []
    times = time_fn(lambda: calls.append(1), warmup=2, iters=5, sync=lambda: calls.append(0))
    assert len(times) == 5 and calls.count(1) == 7 and all(t >= 0 for t in times)
    s = summarise([1.0, 2.0, 3.0, 4.0, 100.0], batch=4)
    # exact arithmetic on given times (no clock): 100.0 is the largest input, 1e-6 float rounding only
    assert s["p50_ms"] == 3.0 and s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"] <= 100.0
    assert s["mean_ms"] == 22.0 and s["fps"] == pytest.approx(4 * 1000 / 22.0, rel=1e-6)
    assert s["p95_ms"] == pytest.approx(80.8) and s["p99_ms"] == pytest.approx(96.16)


def test_bench_cli_with_int8_export(tasks, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert main(["export", "tiny-tryon", "--size", "32x24", "--out", str(exp), "--int8"]) == 0
    out = tmp_path / "b"
    assert main(["bench", "tiny-tryon", "--sizes", "32x24", "--batches", "1,2", "--iters", "2", "--warmup", "0",
                 "--backends", "ort-cpu,ort-int8", "--export", str(exp), "--threads", "1", "--out", str(out), "--emulated"]) == 0
    text = capsys.readouterr().out
    assert "ort-int8" in text and "bench.json" in text
    data = json.loads((out / "bench.json").read_text())
    validate_bench_json(data)
    assert {(r["backend"], r["model"], r["batch"]) for r in data["results"]} == {
        ("ort-cpu", "fp32", 1), ("ort-cpu", "fp32", 2), ("ort-int8", "int8", 1), ("ort-int8", "int8", 2)}
    # --emulated times int8 on any CPU and says so where the CPU has no VNNI
    from tryon import hardware

    assert all(r.get("emulated", False) == (not hardware.has("vnni")) for r in data["results"] if r["backend"] == "ort-int8")
    with pytest.raises(SystemExit) as info:  # argparse rejects an unknown backend before anything runs
        main(["bench", "tiny-tryon", "--backends", "torch,tensorflow"])
    assert info.value.code == 2
    assert "unknown backend(s) ['tensorflow']" in capsys.readouterr().err


def test_efficiency_isa_and_reference(bench):
    """Every torch / ORT row carries GMAC, achieved GMAC/s and efficiency vs the reference graph of the same run."""
    from tryon.macs import REFERENCE_CONV, reference_conv_macs

    out, result = bench
    env = result["environment"]
    assert isinstance(env["machine"]["isa"], list)
    with open("/proc/cpuinfo") as fh:
        flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    assert ("avx512_vnni" in env["machine"]["isa"]) == ("avx512_vnni" in flags)
    refs = {(r["backend"], r["precision"]): r for r in result["reference_conv"]}
    assert {("torch", "fp32"), ("ort-cpu", "fp32")} <= set(refs)
    for r in refs.values():
        assert r["macs"] == reference_conv_macs(depth=REFERENCE_CONV["depth"]) and r["threads"] == 1
        # derived from stored fields rounded to 4 significant digits (< 5e-4 relative on any CPU speed)
        assert r["gmac_per_s"] == pytest.approx(r["macs"] / (r["p50_ms"] * 1e6), rel=1e-3)
    rows = [r for r in result["results"] if r["role"] == "main" and r["backend"] in ("torch", "ort-cpu")]
    assert rows
    for r in rows:
        ref = refs[(r["backend"], "fp32")]
        # derived from rounded stored fields (two roundings: 2e-3 relative)
        assert r["gmac_per_s"] == pytest.approx(r["macs"] / (r["p50_ms"] * 1e6), rel=2e-3)
        assert r["efficiency"] == pytest.approx(r["gmac_per_s"] / ref["gmac_per_s"], rel=2e-3)
    by = {(r["batch"], tuple(r["size"])): r["macs"] for r in rows if r["backend"] == "ort-cpu"}
    assert by[(2, (32, 24))] == 2 * by[(1, (32, 24))]
    assert by[(1, (48, 32))] > by[(1, (32, 24))]  # MACs grow with the resolution
    assert all(r["max_abs_vs_fp32"] == 0.0 for r in rows if r["backend"] == "ort-cpu")
    md = (out / "bench.md").read_text()
    assert "GMAC/s" in md and "Reference graph" in md and "ISA:" in md
    # the MAC count of the tiny net, by hand: 3 convs at 32x24 (6->8, 8->8, 8->2) + the head (11->3)
    assert by[(1, (32, 24))] == 32 * 24 * 9 * (6 * 8 + 8 * 8 + 8 * 2 + 11 * 3)


def test_gpu_rows_dry_run_on_cpu(tasks, tmp_path):
    """benchmarks/gpu_rows.py (called by benchmarks/gpu.sh): on a CPU machine every CUDA row is skipped with a reason."""
    import subprocess

    import torch

    spec = importlib.util.spec_from_file_location("_gpu_rows", Path(__file__).parents[1] / "benchmarks" / "gpu_rows.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--task", "tiny-tryon", "--sizes", "32x24", "--batches", "1,2", "--dry-run", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["machine"]["cpu"] and data["config"]["batches"] == [1, 2]
    reasons = {s["backend"]: s["reason"] for s in data["skipped"]}
    if not torch.cuda.is_available():
        assert "torch.cuda.is_available() is False" in reasons["torch-cuda"]
        assert not [r for r in data["results"] if r["backend"] == "torch-cuda"]
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert {"ort-cuda-fp32", "ort-cuda-fp16", "ort-trt-fp32"} <= set(reasons)
        assert "CUDAExecutionProvider" in reasons["ort-cuda-fp32"]
    assert "Skipped" in (tmp_path / "table.md").read_text()
    subprocess.run(["bash", "-n", str(Path(__file__).parents[1] / "benchmarks" / "gpu.sh")], check=True)


def test_int8_rows_skipped_without_vnni(tasks, tmp_path, monkeypatch):
    """On a CPU without VNNI (real, or faked here) an int8 row would time emulated kernels: skipped, with why."""
    import tryon.bench.harness as tb

    exp = tmp_path / "exp"
    assert main(["export", "tiny-tryon", "--size", "32x24", "--out", str(exp), "--int8"]) == 0
    monkeypatch.setattr(tb, "missing_isa", lambda feature: f"{feature} not supported by this CPU (Example EPYC: no avx512_vnni)")
    res = run_bench("tiny-tryon", sizes=[(32, 24)], batches=(1,), backends=("ort-cpu", "ort-int8"), iters=1, warmup=0,
                    threads=1, device="cpu", export_dir=exp)
    assert [r["backend"] for r in res["results"]] == ["ort-cpu"]
    (skip,) = res["skipped"]
    assert skip["backend"] == "ort-int8" and "vnni not supported by this CPU" in skip["reason"] and "--emulated" in skip["reason"]


def test_interleaved_times_every_case_in_alternating_rounds():
    from tryon.bench.timing import interleaved

    order: list[str] = []
    cases = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = interleaved(cases, rounds=2, calls=3, warmup=2)
    assert {k: len(v) for k, v in times.items()} == {"a": 6, "b": 6} and all(t >= 0 for v in times.values() for t in v)
    # the warm-up calls of each case first, then per round: 3 calls of a, then 3 of b
    assert "".join(order) == "aabb" + "aaabbb" * 2

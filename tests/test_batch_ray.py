"""``tryon batch --engine ray`` (tryon.batch_ray) on a local Ray started by the test (2 CPUs, no service).

Byte-identical outputs and the same results table as ``--engine local``, pair errors as rows, and the same
resume (finished pairs skipped). Skipped when Ray is not installed (``pip install 'tryon[ray]'``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pytest.importorskip("onnxruntime")

from tryon.batch import read_results  # noqa: E402
from tryon.batch_ray import pool_args, pool_size  # noqa: E402
from tryon.cli import main  # noqa: E402

import catalogue_toy as toy  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    toy.export_toy(root / "toy", exporter="torchscript")
    toy.write_images(root / "persons", 2, 1, "p", sizes=((64, 48), (50, 40)))
    toy.write_images(root / "garments", 2, 2, "g", sizes=((64, 48), (48, 48)))
    (root / "garments" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return root


def _cmd(root: Path, out: Path, *extra: str) -> list[str]:
    return ["batch", "--model", str(root / "toy"), "--persons", str(root / "persons"), "--garments", str(root / "garments"),
            "--grid", "--out", str(out), "--threads", "1", "--no-progress", *extra]


def _images(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())}


def _table(out: Path) -> list[tuple]:
    return [(r["person"], r["garment"], r["output"], r["status"], r["error"]) for r in read_results(out / "results.jsonl")]


def test_the_pool_never_takes_every_cpu(local_ray) -> None:
    assert pool_size(local_ray, 4, 1.0) == 1  # 2 CPUs: one actor, one CPU left for Ray Data's other tasks
    assert pool_size(local_ray, 4, 0.5) == 2
    args = pool_args(local_ray, 3)
    assert ("compute" in args) != ("concurrency" in args)


def test_ray_engine_equals_local_and_resumes_the_same_way(local_ray, setup, tmp_path) -> None:
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(_cmd(setup, local)) == 1  # the broken garment fails its 2 pairs on both engines
    assert main(_cmd(setup, remote, "--engine", "ray", "--workers", "2")) == 1
    assert _images(remote) == _images(local) and len(_images(local)) == 4  # byte-identical
    assert _table(remote) == _table(local)
    rows = read_results(remote / "results.jsonl")
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all(r["garment"] == "broken" and "broken.png" in r["error"] for r in failed)
    assert all(r["worker"] and r["seconds"] > 0 for r in rows)
    summary = json.loads((remote / "summary.json").read_text())
    assert (summary["engine"], summary["done"], summary["failed"]) == ("ray", 4, 2)

    ref = _images(local)
    for name in sorted(ref)[:2]:  # as if a run had been killed before these two
        (remote / "images" / name).unlink()
    assert main(_cmd(setup, remote, "--engine", "ray")) == 1
    summary = json.loads((remote / "summary.json").read_text())
    assert (summary["skipped"], summary["done"], summary["failed"]) == (2, 2, 2)
    assert _images(remote) == ref

"""Split export + catalogue runtime (tryon.export ``split=True``, tryon.catalogue.CatalogueSession).

A tiny two-branch model (``catalogue_toy.py``) stands for a try-on student: the core reaches it only through
an ExportSpec with ``split``. The S-WUTON split itself is tested in plugins/wuton/tests/test_split_export.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tryon.catalogue import CatalogueSession, FeatureStore, content_key, feature_bytes  # noqa: E402
from tryon.errors import InputError, TryonError  # noqa: E402
from tryon.runtime import ImageModelSession  # noqa: E402


import catalogue_toy as toy  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("cat") / "toy"
    manifest = toy.export_toy(out, exporter="torchscript")
    return out, manifest


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("img")
    return toy.write_images(root / "p", 3, 1, "p"), toy.write_images(root / "g", 4, 2, "g")


def test_split_export_lists_three_graphs_with_parity(exported) -> None:
    out, manifest = exported
    on_disk = json.loads((out / "manifest.json").read_text())
    assert [g["name"] for g in on_disk["graphs"]] == ["garment", "person", "pair"]
    roles = {g["name"]: (g["role"], g["branch_of"]) for g in on_disk["graphs"]}
    assert roles == {"garment": ("branch", "garment"), "person": ("branch", "person"), "pair": ("head", None)}
    for g in on_disk["graphs"]:
        assert (out / g["file"]).is_file() and g["inputs"][0]["shape"][0] == "batch"
    pair = next(g for g in on_disk["graphs"] if g["name"] == "pair")
    assert [o["name"] for o in pair["outputs"]] == ["image", "warped_garment"]
    assert "pruned" not in pair  # the toy's image reads its warped garment: pruning would drop nothing
    sp = on_disk["split"]
    assert sp["parity"]["criterion"] == "float64"  # the chain meets model.onnx's criterion (tryon.export.parity)
    assert set(sp["parity"]["by_batch"]) == {"1", "3"}
    # the chain equals model.onnx up to rounding: both within the bound of one float64 run (triangle inequality);
    # measured 0.0 (same kernels, same order)
    assert 0.0 <= sp["vs_model"]["max_abs_error"] <= 2 * max(sp["parity"]["bound"].values())
    # fp16-stored features: a real, recorded (non-zero, small) error — 11-bit rounding (any ISA) through the
    # pair head; measured 3e-3
    assert 1e-5 < sp["fp16_features"]["max_abs_error"] < 2e-2
    assert "Split graphs" in (out / "MODEL_CARD.md").read_text()


def test_split_export_refuses_what_cannot_work(tmp_path) -> None:
    from dataclasses import replace

    from tryon.export import export_onnx
    from tryon.registry import GraphSpec

    pipe = toy.toy_pipeline()
    with pytest.raises(TryonError, match="declares no split graphs"):
        export_onnx(pipe, replace(toy.SPEC, split=None), tmp_path / "a", split=True, task="toy", exporter="torchscript")

    def broken(p):  # the head reads a value no graph produces
        return (GraphSpec("garment", lambda q: q.net.garment_branch, ("garment",), ("g0", "g1")),
                GraphSpec("pair", lambda q: q.net.head, ("garment", "g0", "g1", "p0", "p1"), ("image", "warped_garment")))

    with pytest.raises(TryonError, match=r"split graph 'pair' takes \['p0', 'p1'\]"):
        export_onnx(pipe, replace(toy.SPEC, split=broken), tmp_path / "b", split=True, task="toy", exporter="torchscript")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing half-written


def test_prune_to_outputs_keeps_what_the_output_needs(tmp_path) -> None:
    """A graph pruned to one output keeps that output's nodes and inputs only, with the same values; when the
    output needs every node, nothing is written (the toy's image needs its warp: no pruned head in its export)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from tryon.export.split import prune_to_outputs

    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4])  # noqa: E731
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["main"]),
             helper.make_node("Add", ["a", "side_in"], ["b"]), helper.make_node("Neg", ["b"], ["side"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [vi("x"), vi("side_in")], [vi("main"), vi("side")]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "full.onnx"))
    info = prune_to_outputs(tmp_path / "full.onnx", tmp_path / "main.onnx", ["main"])
    assert info == {"inputs": ["x"], "nodes": 2, "nodes_dropped": 2}
    x = np.array([[-1.0, 0.0, 0.5, 2.0]], np.float32)
    full = ort.InferenceSession(str(tmp_path / "full.onnx"), providers=["CPUExecutionProvider"])
    pruned = ort.InferenceSession(str(tmp_path / "main.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in pruned.get_inputs()] == ["x"] and [o.name for o in pruned.get_outputs()] == ["main"]
    assert np.array_equal(pruned.run(None, {"x": x})[0], full.run(["main"], {"x": x, "side_in": x})[0])
    assert prune_to_outputs(tmp_path / "full.onnx", tmp_path / "both.onnx", ["main", "side"]) is None
    assert not (tmp_path / "both.onnx").exists()


def test_grid_equals_the_monolithic_graph_pair_by_pair(exported, images) -> None:
    out, _ = exported
    persons, garments = images
    cat = CatalogueSession(out, intra_op_threads=1)
    mono = ImageModelSession(out, intra_op_threads=1)
    grid = cat.grid([str(p) for p in persons], [str(g) for g in garments], return_all=True)
    assert len(grid) == 3 and all(len(row) == 4 for row in grid)
    for i, p in enumerate(persons):
        for j, g in enumerate(garments):
            ref = mono(person=str(p), garment=str(g), return_all=True)
            for name in ("image", "warped_garment"):
                got, want = np.asarray(grid[i][j][name]), np.asarray(ref[name])
                assert got.shape == want.shape == (*Image.open(p).size[::-1], 3)  # the person's size
                assert np.array_equal(got, want), (i, j, name)
    pf = cat.encode_persons([persons[0].read_bytes()])
    assert pf[0].key == content_key(persons[0]) and pf[0].source == "memory"  # bytes share the file's key
    # numpy in → numpy out, same pixels as the monolithic session on the same arrays
    arr_p = np.asarray(Image.open(persons[1]).convert("RGB"))
    arr_g = np.asarray(Image.open(garments[2]).convert("RGB"))
    assert np.array_equal(cat.pair(arr_p, arr_g), mono(arr_p, arr_g))


def test_cache_hits_do_not_recompute(exported, images) -> None:
    out, _ = exported
    persons, garments = images
    cat = CatalogueSession(out, intra_op_threads=1)
    g = [str(x) for x in garments]
    cat.encode_garments(g)
    assert cat.stats()["computed"] == {"garment": 4}
    cat.encode_garments(g + g[:1])  # all cached (a repeated item too)
    s = cat.stats()
    assert s["computed"] == {"garment": 4} and s["memory_hits"] == {"garment": 5}
    cat.grid([str(p) for p in persons], g)
    s = cat.stats()
    assert s["computed"] == {"garment": 4, "person": 3}  # the grid reused the garments, encoded each person once
    assert s["head_items"] == 12
    # a bounded LRU: room for ~1 item → the older ones are evicted and recomputed (counted)
    per_item = feature_bytes(cat, "garment")
    small = CatalogueSession(out, intra_op_threads=1, cache_mb=1.5 * per_item / (1 << 20))
    small.encode_garments(g[:2])
    small.encode_garments(g[:1])
    assert small.stats()["computed"] == {"garment": 3} and small.stats()["memory_items"] == 1


def _entry(store_root: Path) -> list[Path]:
    return sorted(store_root.rglob("*.safetensors"))


def test_store_hits_and_corrupted_or_foreign_entries_are_recomputed(exported, images, tmp_path, caplog) -> None:
    out, _ = exported
    persons, garments = images
    store = tmp_path / "store"
    g = [str(x) for x in garments]
    first = CatalogueSession(out, intra_op_threads=1, store=store)
    ref = first.grid([str(persons[0])], g)
    assert first.stats()["store_writes"] == {"garment": 4, "person": 1}
    assert len(_entry(store)) == 5

    second = CatalogueSession(out, intra_op_threads=1, store=store)  # fresh memory: everything from disk
    again = second.grid([str(persons[0])], g)
    assert second.stats()["store_hits"] == {"garment": 4, "person": 1} and second.stats()["computed"] == {}
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(again[0], ref[0]))

    sess = CatalogueSession(out, intra_op_threads=1, store=store)
    path = [sess.store.path(sess.model_keys["garment"], "garment", content_key(x)) for x in garments]
    blob = bytearray(path[0].read_bytes())
    blob[-7] ^= 0xFF  # 1. corrupted tensor data (the header still parses: only the checksum can tell)
    path[0].write_bytes(bytes(blob))
    path[1].write_bytes(path[1].read_bytes()[:50])  # 2. truncated file
    shutil.copy(path[3], path[2])  # 3. another input's entry under this input's key
    other = FeatureStore(tmp_path / "other")  # 4. another model's entry copied into this model's folder
    other.put("0" * 64, sess.encode_garments([str(garments[3])])[0])
    shutil.copy(other.path("0" * 64, "garment", content_key(garments[3])), path[3])

    third = CatalogueSession(out, intra_op_threads=1, store=store)
    with caplog.at_level("WARNING", logger="tryon.deploy.catalogue"):
        fixed = third.grid([str(persons[0])], g)
    s = third.stats()
    assert s["store_rejected"] == {"garment": 4} and s["computed"] == {"garment": 4}
    assert s["store_hits"] == {"person": 1}
    reasons = caplog.text
    for why in ("checksum mismatch", "unreadable", "another input", "another model"):
        assert why in reasons
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(fixed[0], ref[0]))  # never used bad data
    fourth = CatalogueSession(out, intra_op_threads=1, store=store)  # rewritten entries are valid again
    fourth.encode_garments(g)
    assert fourth.stats()["store_hits"] == {"garment": 4} and fourth.stats()["store_rejected"] == {}


def test_fp16_store_halves_the_size_within_the_recorded_parity(exported, images, tmp_path) -> None:
    out, manifest = exported
    persons, garments = images
    s32 = CatalogueSession(out, intra_op_threads=1, store=tmp_path / "s32")
    s16 = CatalogueSession(out, intra_op_threads=1, store=tmp_path / "s16", store_dtype="float16")
    g = [str(x) for x in garments]
    s32.encode_garments(g)
    s16.encode_garments(g)
    b32, b16 = s32.store.size_on_disk(), s16.store.size_on_disk()
    assert 0.45 < b16 / b32 < 0.6  # half the bytes per value, plus a fixed header per file
    fresh = CatalogueSession(out, intra_op_threads=1, store=tmp_path / "s16", store_dtype="float16")
    pf = fresh.encode_persons([str(persons[0])] * 4)
    from_disk = fresh.encode_garments(g)
    assert fresh.stats()["store_hits"]["garment"] == 4
    got = fresh.run_features({"person": pf, "garment": from_disk})
    want = s32.run_features({"person": s32.encode_persons([str(persons[0])] * 4), "garment": s32.encode_garments(g)})
    err = max(float(np.abs(got[k] - want[k]).max()) for k in got)
    # relative to the export's own recorded fp16-feature error (twice it: stored and reloaded features are
    # rounded on both sides of the comparison), plus 1e-3 for the pair head's fp32 rounding on other inputs
    assert 0 < err <= 2 * manifest["split"]["fp16_features"]["max_abs_error"] + 1e-3
    # an fp32 session never silently uses fp16 entries
    mixed = CatalogueSession(out, intra_op_threads=1, store=tmp_path / "s16")
    mixed.encode_garments(g[:1])
    assert mixed.stats()["store_rejected"] == {"garment": 1}


def test_bad_images_fail_alone(exported, images, tmp_path) -> None:
    out, _ = exported
    _, garments = images
    truncated = tmp_path / "bad.png"
    truncated.write_bytes(garments[0].read_bytes()[:60])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    cat = CatalogueSession(out, intra_op_threads=1)
    res = cat.encode_garments([str(garments[0]), str(truncated), str(text), str(tmp_path / "missing.png")], errors="return")
    assert not isinstance(res[0], Exception)
    assert all(isinstance(r, InputError) for r in res[1:])
    assert "truncated" in str(res[1]) and str(truncated) in str(res[1])
    assert "missing.png" in str(res[3])
    with pytest.raises(InputError):
        cat.encode_garments([str(text)])
    assert cat.stats()["computed"] == {"garment": 1}


def test_pair_binds_inputs_like_the_monolithic_session(exported, images) -> None:
    """``pair`` takes inputs as ImageModelSession does (one binder): each misuse gets its one clear error."""
    out, _ = exported
    persons, garments = images
    cat = CatalogueSession(out, intra_op_threads=1)
    p, g = str(persons[0]), str(garments[0])
    cases = [
        ((p, g, g), {}, "at most 2"),
        ((p,), {"person": p}, "both positionally and by name"),
        ((), {"person": p, "shoe": g}, "unknown input"),
        ((), {"person": p}, "missing"),
        ((), {"person": [p, p], "garment": [g]}, "equal length"),
        ((), {"person": [], "garment": []}, "at least one image"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(InputError, match=message):
            cat.pair(*args, **kwargs)
    assert len(cat.pair(person=[p, p], garment=g)) == 2  # a single item next to a list is used for every item


def test_not_a_split_export_and_a_tampered_graph(exported, tmp_path) -> None:
    out, _ = exported
    mono = tmp_path / "mono"
    toy.export_toy(mono, split=False, exporter="torchscript")
    with pytest.raises(TryonError, match="no split graphs"):
        CatalogueSession(mono)
    bad = tmp_path / "tampered"
    shutil.copytree(out, bad)
    with open(bad / "pair.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(TryonError, match="does not match the sha256"):
        CatalogueSession(bad)


def test_catalogue_imports_no_torch(exported, images) -> None:
    out, _ = exported
    persons, garments = images
    code = (
        "import sys\n"
        "from tryon.runtime import CatalogueSession\n"
        f"c = CatalogueSession({str(out)!r}, intra_op_threads=1)\n"
        f"img = c.pair({str(persons[0])!r}, {str(garments[0])!r})\n"
        "assert img.size == (30, 40), img.size\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"

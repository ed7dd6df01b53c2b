"""``tryon batch`` (tryon.batch): deterministic names, results table, per-pair errors, resume after a kill.

Runs on the tiny split model of ``catalogue_toy.py`` (exported once per module with the TorchScript exporter:
the split export itself is tested in test_catalogue.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tryon.batch import complete_png, output_name, read_results  # noqa: E402
from tryon.cli import main  # noqa: E402
from tryon.runtime import CatalogueSession  # noqa: E402


import catalogue_toy as toy  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    model = root / "toy"
    manifest = toy.export_toy(model, exporter="torchscript")
    persons = toy.write_images(root / "persons", 3, 1, "p")
    garments = toy.write_images(root / "garments", 4, 2, "g")
    return {"root": root, "model": model, "tag": manifest["sha256"][:12], "persons": persons, "garments": garments}


def _cmd(s, out, *extra, persons=None, garments=None) -> list[str]:
    return ["batch", "--model", str(s["model"]), "--persons", str(persons or s["root"] / "persons"),
            "--garments", str(garments or s["root"] / "garments"), "--out", str(out), "--no-progress", "--threads", "1", *extra]


def _images(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())}


@pytest.fixture(scope="module")
def reference(setup, tmp_path_factory):
    """A clean full-grid run: the bytes every other run must reproduce."""
    out = tmp_path_factory.mktemp("ref") / "out"
    assert main(_cmd(setup, out, "--grid")) == 0
    return out, _images(out)


def test_grid_job_names_table_and_summary(setup, reference, capsys) -> None:
    out, imgs = reference
    expected = sorted(output_name(p.stem, g.stem, setup["tag"]) for p in setup["persons"] for g in setup["garments"])
    assert sorted(imgs) == expected and expected[0] == f"p0__g0__{setup['tag']}.png"
    rows = read_results(out / "results.jsonl")
    assert len(rows) == 12 and all(r["status"] == "ok" and r["error"] == "" and r["seconds"] > 0 for r in rows)
    assert [(r["person"], r["garment"]) for r in rows] == [(f"p{i}", f"g{j}") for i in range(3) for j in range(4)]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["skipped"], summary["failed"], summary["pairs"]) == (12, 0, 0, 12)
    assert summary["pairs_per_second"] > 0
    # each image is the pair's try-on, the person's size (same pixels as the runtime session)
    cat = CatalogueSession(setup["model"], intra_op_threads=1)
    p, g = setup["persons"][1], setup["garments"][2]
    img = np.asarray(Image.open(out / "images" / output_name("p1", "g2", setup["tag"])))
    assert img.shape == (*Image.open(p).size[::-1], 3)
    assert np.array_equal(img, np.asarray(cat.pair(str(p), str(g))))
    # a second run with the same command skips everything and rewrites nothing
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    assert main(_cmd(setup, out, "--grid")) == 0
    assert "0 done, 12 skipped, 0 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()} == mtimes
    assert {r["status"] for r in read_results(out / "results.jsonl")} == {"skipped"}


def test_pairs_file_list_inputs_workers_and_monolithic_session(setup, reference, tmp_path) -> None:
    _, ref = reference
    plist = tmp_path / "persons.txt"
    plist.write_text("# persons\n" + "\n".join(str(p) for p in setup["persons"][:2]) + "\n")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("p0 g1.png\np1.png g3\n# comment\np0 g1\n")  # names or stems; a repeated pair runs once
    out = tmp_path / "out"
    assert main(_cmd(setup, out, "--pairs", str(pairs), "--workers", "2", persons=plist)) == 0
    got = _images(out)
    assert sorted(got) == sorted([output_name("p0", "g1", setup["tag"]), output_name("p1", "g3", setup["tag"])])
    assert all(got[k] == ref[k] for k in got)  # 2 worker threads: the same bytes
    mono = tmp_path / "mono"
    assert main(_cmd(setup, mono, "--session", "monolithic")) == 0
    assert _images(mono) == ref  # whole graph per pair == cached branches + head (split parity 0)
    bad_pairs = tmp_path / "bad_pairs.txt"
    bad_pairs.write_text("p0 g1\np9 g1\n")
    assert main(_cmd(setup, tmp_path / "x", "--pairs", str(bad_pairs))) == 1  # a wrong pair list is a usage error


def test_bad_images_fail_their_pairs_and_the_job_goes_on(setup, reference, tmp_path, capsys) -> None:
    _, ref = reference
    garments = tmp_path / "garments"
    garments.mkdir()
    for g in setup["garments"][:2]:
        (garments / g.name).write_bytes(g.read_bytes())
    (garments / "trunc.png").write_bytes(setup["garments"][0].read_bytes()[:70])
    (garments / "text.png").write_text("this is not an image")
    Image.fromarray(np.zeros((120, 100, 3), np.uint8)).save(garments / "huge.png")  # 12000 px > --max-pixels
    out = tmp_path / "out"
    code = main(_cmd(setup, out, "--max-pixels", "5000", "--contact-sheet", "3", garments=garments))
    err = capsys.readouterr().err
    assert code == 1 and "9 of 15 pairs failed" in err
    assert os.environ.get("TRYON_MAX_PIXELS") is None  # the job's limit does not leak into the process
    rows = {(r["person"], r["garment"]): r for r in read_results(out / "results.jsonl")}
    assert len(rows) == 15
    for p in ("p0", "p1", "p2"):
        assert rows[p, "g0"]["status"] == rows[p, "g1"]["status"] == "ok"
        assert "truncated" in rows[p, "trunc"]["error"] and rows[p, "trunc"]["error_type"] == "UnreadableImageError"
        assert "text.png" in rows[p, "text"]["error"] and rows[p, "text"]["status"] == "failed"
        assert "at most 5000 pixels" in rows[p, "huge"]["error"] and rows[p, "huge"]["error_type"] == "ImageSizeError"
        assert all("\n" not in r["error"] for r in rows.values())
    got = _images(out)
    assert len(got) == 6 and all(got[k] == ref[k] for k in got)
    sheet = (out / "contact_sheet.html").read_text()
    assert sheet.count("<figure>") == 3 and sheet.count("data:image/jpeg;base64,") == 9


def test_incomplete_outputs_are_redone_and_a_second_job_is_locked_out(setup, reference, tmp_path, capsys) -> None:
    import fcntl

    ref_out, ref = reference
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    name = output_name("p2", "g3", setup["tag"])
    (out / "images" / name).write_bytes(ref[name][: len(ref[name]) // 2])  # cut short (power loss without --fsync)
    (out / "images" / f".{name}.999.tmp").write_bytes(b"partial")
    assert not complete_png(out / "images" / name) and complete_png(ref_out / "images" / name)
    with open(out / ".tryon-batch.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(_cmd(setup, out)) == 1
        assert "another tryon batch is running" in capsys.readouterr().err
    assert main(_cmd(setup, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["incomplete_outputs_redone"] == 1 and summary["stale_temp_files_removed"] == 1
    assert _images(out) == ref


_SLOW_RUNNER = textwrap.dedent("""
    import os, sys, time
    import tryon.deploy.render as render
    from tryon.cli import main

    marker, real_replace, count = sys.argv[1], os.replace, [0]

    def slow_replace(src, dst, *a, **k):
        # the 4th image stalls between its temp file and the rename: the test kills the job right there
        if os.path.basename(str(src)).endswith(".tmp") and os.path.dirname(str(dst)).endswith("images"):
            count[0] += 1
            if count[0] == 4:
                open(marker, "w").close()
                time.sleep(60)
        return real_replace(src, dst, *a, **k)

    render.os.replace = slow_replace
    sys.exit(main(sys.argv[2:]))
""")


def test_a_killed_job_resumes_with_nothing_lost_and_no_partial_file(setup, reference, tmp_path) -> None:
    _, ref = reference
    out, marker = tmp_path / "out", tmp_path / "stalled"
    cmd = [sys.executable, "-c", _SLOW_RUNNER, str(marker), *_cmd(setup, out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the job never reached its 4th image"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    finals = sorted(p for p in (out / "images").iterdir() if not p.name.startswith("."))
    temps = [p for p in (out / "images").iterdir() if p.name.startswith(".")]
    assert len(finals) == 3 and len(temps) == 1  # 3 finished, the 4th only as a temp file
    assert all(p.read_bytes() == ref[p.name] for p in finals)  # complete, never partial, under final names
    assert len(read_results(out / "results.jsonl")) == 3  # the progress log survived the kill

    assert main(_cmd(setup, out)) == 0  # the same command again
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["skipped"], summary["done"], summary["failed"]) == (3, 9, 0)
    assert summary["stale_temp_files_removed"] == 1
    assert _images(out) == ref and not [p for p in (out / "images").iterdir() if p.name.startswith(".")]
    rows = read_results(out / "results.jsonl")
    assert len(rows) == 12 and sorted(r["status"] for r in rows) == ["ok"] * 9 + ["skipped"] * 3


def test_png_level_changes_the_bytes_not_the_pixels(setup, reference, tmp_path) -> None:
    """``--png-level`` is only the zlib level: level 9 writes the same pixels as the default (1) in files no larger,
    and a level outside 0-9 is one error naming it."""
    from tryon.batch import encode_png
    from tryon.errors import InputError

    out = tmp_path / "level9"
    assert main(_cmd(setup, out, "--grid", "--png-level", "9")) == 0
    ref_out, ref_bytes = reference
    level9 = _images(out)
    assert set(level9) == set(ref_bytes)
    for name in ref_bytes:
        a = np.asarray(Image.open(ref_out / "images" / name))
        b = np.asarray(Image.open(out / "images" / name))
        assert np.array_equal(a, b)
        assert len(level9[name]) <= len(ref_bytes[name])
    with pytest.raises(InputError, match="png level"):
        encode_png(np.zeros((4, 4, 3), np.uint8), 10)


def test_thread_and_process_workers_write_the_same_bytes(setup, reference, tmp_path) -> None:
    """The local engine's two worker kinds render the whole grid to the reference bytes; thread workers name
    themselves apart in the results table, and the job's pixel limit holds in every thread."""
    _, ref = reference
    for kind in ("thread", "process"):
        out = tmp_path / kind
        assert main(_cmd(setup, out, "--grid", "--workers", "2", "--worker-kind", kind, "--max-pixels", "100000")) == 0
        assert _images(out) == ref
        rows = read_results(out / "results.jsonl")
        assert json.loads((out / "summary.json").read_text())["worker_kind"] == kind
        if kind == "thread":
            assert {r["worker"].rsplit("/", 1)[1] for r in rows} <= {"t0", "t1"}
    assert "TRYON_MAX_PIXELS" not in os.environ  # restored when the last thread was done
    tiny = tmp_path / "tiny-limit"
    assert main(_cmd(setup, tiny, "--grid", "--workers", "2", "--max-pixels", "100")) == 1  # every pair over the limit
    assert {r["status"] for r in read_results(tiny / "results.jsonl")} == {"failed"} and "TRYON_MAX_PIXELS" not in os.environ

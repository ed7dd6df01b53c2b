"""Video and webcam try-on (tryon.deploy.video, ``tryon video``): a few frames through the tiny split export of
``catalogue_toy.py`` — the garment branch runs once, the person branch and the head once per frame, the output
video has the input's frame count and size and is written atomically; bad inputs get one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

import catalogue_toy as toy  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)

from tryon.catalogue import CatalogueSession  # noqa: E402
from tryon.cli import main  # noqa: E402
from tryon.deploy.video import Smoothing, open_source, parse_smooth, run_video  # noqa: E402
from tryon.errors import ImageSizeError, InputError  # noqa: E402

FH, FW, N = 48, 36, 5  # frames: even sizes (MPEG-4 part 2 needs them), 5 frames


def _frames(n: int = N) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (120, 100, 3), dtype=np.uint8), (0, 0), 2)
    return [np.ascontiguousarray(tex[10 + t : 10 + t + FH, 10 + 2 * t : 10 + 2 * t + FW]) for t in range(n)]


def _read(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(bgr)
    cap.release()
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    export = root / "toy"
    toy.export_toy(export, exporter="torchscript")
    frames = _frames()
    writer = cv2.VideoWriter(str(root / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (FW, FH))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    (root / "frames").mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(root / "frames" / f"{i:03d}.png")
    garment = toy.write_images(root / "g", 1, 3, "g")[0]
    return {"export": export, "clip": root / "clip.mp4", "frames": root / "frames", "garment": garment, "rgb": frames}


def _counting(session: CatalogueSession, name: str) -> list[int]:
    calls = [0]
    real = session.sessions[name]

    class Counting:
        def run(self, *a, **k):
            calls[0] += 1
            return real.run(*a, **k)

    session.sessions[name] = Counting()
    return calls


def test_a_video_file_gives_one_output_frame_per_input_frame(setup, tmp_path) -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    out = tmp_path / "out.mp4"
    s = run_video(setup["export"], setup["garment"], setup["clip"], out, threads=1, on_frame=lambda a, b: seen.append((a, b)))
    frames = _read(out)
    assert len(frames) == s["frames"] == N and frames[0].shape == (FH, FW, 3) and s["size"] == [FH, FW]
    assert s["fps_out"] == 10.0 and s["smooth"] == "none" and s["garment_branch_runs"] == 1 and s["person_branch_runs"] == N
    assert set(s["stages_ms"]) == {"decode", "prepare", "person", "smooth", "head", "restore", "encode"} and s["fps"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temp file left
    # without smoothing every output frame is exactly the catalogue's pair(frame, garment) (same graphs, same inputs)
    cat = CatalogueSession(setup["export"], intra_op_threads=1)
    for rgb, image in seen:
        assert image.dtype == np.uint8 and image.shape == rgb.shape
        assert np.array_equal(image, cat.pair(person=rgb, garment=str(setup["garment"])))


def test_the_garment_branch_runs_once_the_person_branch_per_frame(setup, tmp_path) -> None:
    cat = CatalogueSession(setup["export"], intra_op_threads=1)
    garment_calls, person_calls, head_calls = (_counting(cat, n) for n in ("garment", "person", "pair"))
    s = run_video(None, setup["garment"], setup["frames"], tmp_path / "out.avi", session=cat, max_frames=3, fps=5)
    assert garment_calls == [1] and person_calls == [3] and head_calls == [3]
    assert s["frames"] == 3 and len(_read(tmp_path / "out.avi")) == 3 and s["input_kind"] == "folder" and s["fps_out"] == 5


@pytest.mark.parametrize("smooth", ["ema:0.5", "flow:0.5"])
def test_remedies_write_the_same_frames_count_and_start_from_the_plain_frame(setup, tmp_path, smooth) -> None:
    plain: list[np.ndarray] = []
    run_video(setup["export"], setup["garment"], setup["frames"], tmp_path / "a.mkv", threads=1,
              on_frame=lambda a, b: plain.append(b))
    got: list[np.ndarray] = []
    s = run_video(setup["export"], setup["garment"], setup["frames"], tmp_path / "b.mkv", threads=1, smooth=smooth,
                  on_frame=lambda a, b: got.append(b))
    assert s["smooth"] == smooth and len(_read(tmp_path / "b.mkv")) == N
    assert np.array_equal(got[0], plain[0])  # exact: the first frame has no history to average with
    assert any(not np.array_equal(g, p) for g, p in zip(got[1:], plain[1:]))  # later frames are smoothed


def test_bad_inputs_and_outputs_get_one_clear_error_and_no_file(setup, tmp_path) -> None:
    with pytest.raises(InputError, match=r"--out: expected a video file ending in .mp4.*got '.gif'"):
        run_video(setup["export"], setup["garment"], setup["clip"], tmp_path / "out.gif")
    with pytest.raises(InputError, match="no such file or folder"):
        run_video(setup["export"], setup["garment"], tmp_path / "missing.mp4", tmp_path / "out.mp4")
    bad = tmp_path / "not-a-video.mp4"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not-a-video.mp4"):
        run_video(setup["export"], setup["garment"], bad, tmp_path / "out.mp4")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, f in enumerate(setup["rgb"][:3]):
        Image.fromarray(f if i != 2 else f[:-4]).save(mixed / f"{i}.png")
    with pytest.raises(ImageSizeError, match=r"2.png: expected a frame of 36x48"):
        run_video(setup["export"], setup["garment"], mixed, tmp_path / "out.mp4", threads=1)
    with pytest.raises(InputError, match="--max-frames"):
        run_video(setup["export"], setup["garment"], setup["clip"], tmp_path / "out.mp4", max_frames=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed", "not-a-video.mp4"]  # nothing half-written


def test_smooth_option_parsing() -> None:
    assert parse_smooth(None) == Smoothing() and str(parse_smooth("none")) == "none"
    assert parse_smooth("ema") == Smoothing("ema", 0.5) and parse_smooth("flow:0.3") == Smoothing("flow", 0.3)
    for bad in ("ema:1.5", "ema:0", "blur", "none:0.2", "flow:x"):
        with pytest.raises(InputError, match="--smooth"):
            parse_smooth(bad)


def test_webcam_unavailable_is_one_clear_error() -> None:
    index = 63
    cap = cv2.VideoCapture(index)
    opened = cap.isOpened()
    cap.release()
    if opened:
        pytest.skip(f"a camera answers at index {index} on this machine")
    with pytest.raises(InputError, match=f"camera {index} could not be opened"):
        open_source(f"webcam:{index}")
    with pytest.raises(InputError, match="webcam:N with a camera index"):
        open_source("webcam:front")


def test_webcam_when_one_exists(setup, tmp_path) -> None:
    cap = cv2.VideoCapture(0)
    opened = cap.isOpened()
    cap.release()
    if not opened:
        pytest.skip("no camera: cv2.VideoCapture(0) could not open device 0 on this machine")
    s = run_video(setup["export"], setup["garment"], "webcam", tmp_path / "cam.mp4", max_frames=3, threads=1)
    assert s["input_kind"] == "webcam" and s["frames"] == 3 and len(_read(tmp_path / "cam.mp4")) == 3


def test_the_cli_verb(setup, tmp_path, capsys) -> None:
    out = tmp_path / "cli.mp4"
    assert main(["video", "--model", str(setup["export"]), "--garment", str(setup["garment"]), "--input", str(setup["clip"]),
                 "--out", str(out), "--max-frames", "2", "--threads", "1", "--smooth", "ema:0.6", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["frames"] == 2 and s["smooth"] == "ema:0.6" and len(_read(out)) == 2
    assert main(["video", "--model", str(setup["export"]), "--garment", str(setup["garment"]), "--input", str(setup["clip"]),
                 "--out", str(tmp_path / "x.webm")]) != 0
    assert "--out: expected a video file ending in" in capsys.readouterr().err
    assert not (tmp_path / "x.webm").exists()

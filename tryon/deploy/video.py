"""Video and webcam try-on over a split export — **no torch**.

The garment never changes during a video, so its branch runs **once** (:class:`tryon.deploy.catalogue.CatalogueSession`
holds the export's graphs); every frame then costs the person branch and the pair head only::

    from tryon.deploy.video import run_video
    summary = run_video("exports/wuton-student", "shirt.jpg", "clip.mp4", "out.mp4")          # or "webcam", "webcam:1", a folder of frames
    summary["fps"], summary["stages_ms"]                                                       # end to end, and where the time goes

Frames are read and written with OpenCV's VideoIO (``cv2.VideoCapture`` / ``cv2.VideoWriter``, FFmpeg backend): a
video file, a folder of frame images (sorted by name) or a camera index. The output is written to a temporary file
next to ``out`` and renamed into place once the last frame is encoded (a failed or interrupted run leaves no partial
video; a webcam stream ends with ``max_frames`` or Ctrl-C, which finishes the video). Output containers by extension:
:data:`WRITERS` (anything else is refused before any work). Each output frame is the try-on restored to the input
frame's size, exactly what ``CatalogueSession.pair(frame, garment)`` returns when no smoothing is asked for.

**Stages timed per frame** (``stages_ms``: mean, p50, p95): ``decode`` (read + BGR→RGB), ``prepare`` (letterbox +
normalise), ``person`` (the person branch graph), ``smooth`` (the remedy below, 0 without one), ``head`` (the pair
head at the model resolution, the main output only), ``restore`` (crop + resize back + uint8), ``encode`` (RGB→BGR +
write). ``fps`` = frames / wall time of the frame loop (the session set-up and the garment branch are reported apart).

**Flicker remedies** (``smooth``; flicker measured by :func:`tryon.metrics.flicker`, numbers in
``docs/results/video-fps/``):

* ``none`` — plain per-frame inference, the default (:data:`DEFAULT_SMOOTH`);
* ``ema[:A]`` — exponential moving average of the person branch's outputs, ``f̄_t = A·f_t + (1−A)·f̄_{t−1}`` (A = 0.5
  by default): the head sees features that change less from frame to frame, but lag behind a moving person;
* ``flow[:B]`` — blend each output with the previous *blended* output carried along the input frames' optical flow
  (DIS ``ultrafast``, :class:`tryon.metrics.flicker.FlowEstimator`): ``o_t = (1−B)·y_t + B·warp(o_{t−1})`` (B = 0.5 by
  default) on the pixels where the forward–backward check trusts the flow, ``o_t = y_t`` elsewhere.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import ImageSizeError, InputError, TryonError, UnreadableImageError
from .arrays import prepare_input, restore_output
from .catalogue import CatalogueSession
from .features import Features


#: output container by extension → FourCC of the codec OpenCV's FFmpeg backend writes into it
WRITERS = {".mp4": "mp4v", ".m4v": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
SMOOTH_KINDS = ("none", "ema", "flow")
#: The remedy used when none is asked for. Measured (docs/results/video-fps/, 256×192): on the random-weight S-WUTON
#: export flow:0.5 lowers flicker 0.053 → 0.031 for 4.8 ms per frame (ema:0.5: 0.043, 0.5 ms); on ground truth with
#: per-frame jitter it lowers flicker 0.022 → 0.012 and the error 0.0142 → 0.0118, but on clean ground truth it only
#: smears (error 0 → 0.0031). Whether a trained student flickers enough to gain is not measured yet (no trained
#: weights), so plain inference stays the default and ``--smooth flow:0.5`` is the remedy to try.
DEFAULT_SMOOTH = "none"
STAGES = ("decode", "prepare", "person", "smooth", "head", "restore", "encode")
DEFAULT_FPS = 25.0


def _cv2() -> Any:
    import cv2

    return cv2


# ------------------------------------------------------------------------------------------------ smoothing
@dataclass(frozen=True)
class Smoothing:
    """A flicker remedy: ``kind`` none / ema / flow and its weight (``ema``: the new frame's share A; ``flow``: the
    warped previous output's share B)."""

    kind: str = "none"
    weight: float = 0.5

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.weight:g}"


def parse_smooth(text: str | Smoothing | None) -> Smoothing:
    """``"none"``, ``"ema"``, ``"ema:0.6"``, ``"flow"``, ``"flow:0.4"`` → :class:`Smoothing` (one InputError otherwise)."""
    if isinstance(text, Smoothing):
        return text
    raw = DEFAULT_SMOOTH if text is None else str(text).strip().lower()
    kind, _, value = raw.partition(":")
    expected = "none, ema[:A] or flow[:B] with a weight in (0, 1) (e.g. ema:0.5)"
    if kind not in SMOOTH_KINDS or (kind == "none" and value):
        raise InputError("--smooth", expected, repr(text))
    if kind == "none":
        return Smoothing()
    try:
        weight = float(value) if value else 0.5
    except ValueError:
        raise InputError("--smooth", expected, repr(text)) from None
    if not (0.0 < weight < 1.0):
        raise InputError("--smooth", expected, repr(text))
    return Smoothing(kind, weight)


# ------------------------------------------------------------------------------------------------ frames in
@dataclass
class FrameSource:
    """Frames of a video file, a folder of images or a camera, as ``H×W×3`` uint8 RGB arrays (:meth:`frames`)."""

    spec: str
    kind: str  # file | folder | webcam
    fps: float
    frame_count: int | None
    capture: Any = None
    files: list[Path] = field(default_factory=list)

    def frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(label, rgb)`` per frame; ``label`` names the frame in errors (``file#12``, a frame's path)."""
        cv2 = _cv2()
        if self.kind == "folder":
            for path in self.files:
                bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise UnreadableImageError(str(path), "a frame image OpenCV can decode", "an unreadable file")
                yield str(path), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        i = 0
        while True:
            ok, bgr = self.capture.read()
            if not ok or bgr is None:
                return
            yield f"{self.spec}#{i}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


def parse_webcam(spec: str | int) -> int | None:
    """The camera index of ``webcam`` (0), ``webcam:N`` or an int; ``None`` for anything else."""
    if isinstance(spec, int):
        return spec
    s = str(spec).strip().lower()
    if s == "webcam":
        return 0
    if s.startswith("webcam:"):
        try:
            n = int(s.split(":", 1)[1])
        except ValueError:
            raise InputError("--input", "webcam or webcam:N with a camera index N ≥ 0", repr(spec)) from None
        if n < 0:
            raise InputError("--input", "webcam or webcam:N with a camera index N ≥ 0", repr(spec))
        return n
    return None


def open_source(spec: str | int | os.PathLike, fps: float | None = None) -> FrameSource:
    """Open ``spec``: a video file OpenCV's FFmpeg backend reads (mp4, avi, mkv, …), a folder of frame images or a
    camera (``webcam``, ``webcam:N``). One :class:`InputError` naming the input when it cannot be opened."""
    cv2 = _cv2()
    cam = parse_webcam(spec) if not isinstance(spec, os.PathLike) else None
    if cam is not None:
        cap = cv2.VideoCapture(cam)
        if not cap.isOpened():
            cap.release()
            raise InputError(f"--input webcam:{cam}", "a camera OpenCV can open", f"camera {cam} could not be opened",
                             "is a camera connected and readable (e.g. /dev/video*)?")
        rate = cap.get(cv2.CAP_PROP_FPS)
        return FrameSource(f"webcam:{cam}", "webcam", fps or (rate if rate and rate > 0 else 30.0), None, capture=cap)
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS)
        if not files:
            raise InputError(f"--input {path}", f"a folder with frame images ({', '.join(FRAME_EXTENSIONS)})", "none")
        return FrameSource(str(path), "folder", fps or DEFAULT_FPS, len(files), files=files)
    if not path.is_file():
        raise InputError("--input", "a video file, a folder of frames, webcam or webcam:N", f"{str(path)!r}: no such file or folder")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise UnreadableImageError(f"--input {path}", "a video OpenCV can decode (mp4, avi, mkv, …)", "a file it cannot open")
    rate = cap.get(cv2.CAP_PROP_FPS)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return FrameSource(str(path), "file", fps or (rate if rate and rate > 0 else DEFAULT_FPS), count or None, capture=cap)


# ------------------------------------------------------------------------------------------------ frames out
def check_output(out: str | os.PathLike) -> Path:
    """``out`` as a path whose extension is a container of :data:`WRITERS`; one InputError otherwise."""
    path = Path(out)
    if path.suffix.lower() not in WRITERS:
        raise InputError("--out", f"a video file ending in {', '.join(WRITERS)}", repr(path.suffix or str(path)))
    if path.is_dir():
        raise InputError("--out", "a video file path", f"the folder {path}")
    return path


class VideoSink:
    """``cv2.VideoWriter`` into a temporary file next to ``out`` (same extension, so the container matches), renamed
    onto ``out`` by :meth:`commit`; :meth:`abort` removes it. Opened on the first frame (its size fixes the video's)."""

    def __init__(self, out: str | os.PathLike, fps: float):
        self.out = check_output(out)
        self.fps = float(fps)
        self.tmp = self.out.with_name(f".{self.out.stem}.{os.getpid()}.tmp{self.out.suffix}")
        self.writer: Any = None
        self.size: tuple[int, int] | None = None  # (h, w)
        self.frames = 0

    def write(self, rgb: np.ndarray, label: str) -> None:
        cv2 = _cv2()
        h, w = rgb.shape[:2]
        if self.writer is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            fourcc = WRITERS[self.out.suffix.lower()]
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc), self.fps, (w, h))
            if not self.writer.isOpened():
                self.abort()
                raise TryonError(f"{self.out}: OpenCV could not open a {fourcc} writer for {w}x{h} at {self.fps:g} fps")
            self.size = (h, w)
        elif (h, w) != self.size:
            raise ImageSizeError(label, f"a frame of {self.size[1]}x{self.size[0]} (W×H) like the first one", f"{w}x{h}")
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def commit(self) -> Path:
        if self.writer is None:
            raise InputError("--input", "at least one frame", "no frames")
        self.writer.release()
        self.writer = None
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        with contextlib.suppress(OSError):
            self.tmp.unlink()


# ------------------------------------------------------------------------------------------------ the flow remedy
class FlowBlend:
    """The ``flow`` remedy on its own: ``o_t = (1−B)·y_t + B·warp(o_{t−1})`` where the flow of the *input* frames
    (DIS ``ultrafast``, from frame t to t−1) passes the forward–backward check, ``o_t = y_t`` elsewhere and on the
    first frame. ``__call__(input_rgb, output_rgb)`` → the blended output (uint8, the output's size = the input's)."""

    def __init__(self, weight: float = 0.5, preset: str = "ultrafast"):
        from ..metrics.flicker import FlowEstimator

        self.weight = float(weight)
        self._flow = FlowEstimator("dis", preset)
        self.reset()

    def reset(self) -> None:
        self._prev_in: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray, image: np.ndarray) -> np.ndarray:
        from ..metrics.flicker import grey, reliable_mask, warp

        g = grey(rgb)
        if self._prev_in is None or self._prev_in.shape != g.shape or self._prev_out is None \
                or self._prev_out.shape != image.shape:
            blended = image
        else:
            back = self._flow(g, self._prev_in)  # prev(x + back(x)) ≈ current(x)
            fwd = self._flow(self._prev_in, g)
            mask = reliable_mask(back, fwd)
            prev, _ = warp(self._prev_out, back)
            b = self.weight * mask[..., None].astype(np.float32)
            blended = np.clip(image.astype(np.float32) * (1.0 - b) + prev.astype(np.float32) * b + 0.5, 0, 255).astype(np.uint8)
        self._prev_in, self._prev_out = g, blended
        return blended


# ------------------------------------------------------------------------------------------------ sessions
def video_session(model: str | os.PathLike, *, threads: int | None = None, providers: Any = None, spinning: bool = False,
                  cache_mb: float = 64) -> Any:
    """The :class:`CatalogueSession` a video runs on, with onnxruntime's intra-op spinning off by default: between two
    graph runs of a frame the process decodes, restores and encodes, and spinning worker threads would compete with that
    work (and with other processes) for the cores. Measured on a shared 2-core EPYC (load 4–5) at 256×192, 2 threads:
    7.1 → 19.5 FPS, person branch + head (p50) 128 → 49 ms per frame with spinning off (``docs/results/video-fps/``).
    A small memory cache: frames are never looked up again, only the garment is, and :class:`VideoTryOn` holds it."""
    return CatalogueSession(model, providers=providers, intra_op_threads=threads, cache_mb=cache_mb, spinning=spinning)


# ------------------------------------------------------------------------------------------------ try-on per frame
class VideoTryOn:
    """One garment on a stream of person frames: the garment branch once (here), then per :meth:`__call__` the
    person branch, the optional remedy and the pair head. ``session``: a :class:`CatalogueSession`, or the export
    folder ``model`` opens one with :func:`video_session` (``threads``/``providers`` as there, ``spinning``: let
    onnxruntime's threads spin between runs). Not thread-safe."""

    def __init__(self, model: str | os.PathLike | None, garment: Any, *, smooth: str | Smoothing | None = None,
                 threads: int | None = None, providers: Any = None, session: Any = None, spinning: bool = False):
        self.smoothing = parse_smooth(smooth)
        t0 = time.perf_counter()
        if session is None and model is None:
            raise InputError("model", "an export folder or an open session", "neither")
        self.session = session or video_session(model, threads=threads, providers=providers, spinning=spinning)
        self.setup_ms = (time.perf_counter() - t0) * 1000
        names = self.session.input_names
        if len(names) != 2 or "garment" not in names:
            raise TryonError(f"export {self.session.export_dir}: video try-on needs a two-input split export with a "
                             f"'garment' input (a person and a garment), this one takes {names}")
        self.garment_name = "garment"
        self.person_name = next(n for n in names if n != "garment")
        if self.person_name != names[0]:
            raise TryonError(f"export {self.session.export_dir}: outputs take the size of the first input, "
                             f"{names[0]!r}, not the person's; video try-on needs the person first")
        self.main_output = self.session.output_names[0]
        t0 = time.perf_counter()
        self.garment = self.session.encode(self.garment_name, [garment])[0]  # the garment branch, once
        self.garment_ms = (time.perf_counter() - t0) * 1000
        self.spec = self.session.input_specs[self.person_name]
        self.person_graphs = self.session.branches[self.person_name]
        self.person_keys = tuple(self.session.feature_shapes[self.person_name])
        self._ema: dict[str, np.ndarray] | None = None
        self._blend = FlowBlend(self.smoothing.weight) if self.smoothing.kind == "flow" else None
        self.frames = 0

    def reset(self) -> None:
        """Forget the previous frames (a new clip with the same garment)."""
        self._ema = None
        if self._blend is not None:
            self._blend.reset()

    def _person(self, rgb: np.ndarray) -> tuple[dict[str, np.ndarray], tuple[int, int], tuple[int, int, int, int], float]:
        t0 = time.perf_counter()
        arr, sizes, boxes, _ = prepare_input([rgb], self.spec, self.session.manifest)
        t1 = time.perf_counter()
        values = {self.person_name: arr}
        for g in self.person_graphs:
            outs = self.session.sessions[g["name"]].run(None, {i["name"]: values[i["name"]] for i in g["inputs"]})
            values.update(zip([o["name"] for o in g["outputs"]], outs))
        return {k: values[k][0] for k in self.person_keys}, tuple(sizes[0]), tuple(boxes[0]), (t1 - t0) * 1000

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """The try-on of one ``H×W×3`` uint8 RGB frame (same size back) and its stage times in ms."""
        t0 = time.perf_counter()
        arrays, size, box, prep_ms = self._person(rgb)
        t1 = time.perf_counter()
        if self.smoothing.kind == "ema":
            a = self.smoothing.weight
            if self._ema is None:
                self._ema = {k: v.copy() for k, v in arrays.items()}
            else:
                for k, v in arrays.items():
                    if k == self.person_name:  # the raw input, when a head reads it, is not averaged
                        self._ema[k] = v
                    else:
                        e = self._ema[k]
                        e *= 1.0 - a
                        e += a * v
            arrays = self._ema
        t2 = time.perf_counter()
        person = Features(self.person_name, f"frame-{self.frames}", arrays, size, box, kind="numpy")
        out = self.session.run_features({self.person_name: [person], self.garment_name: [self.garment]},
                                        outputs=[self.main_output])[self.main_output]
        t3 = time.perf_counter()
        image = restore_output(out, [size], [box], "numpy", self.session.manifest, self.main_output)[0]
        t4 = time.perf_counter()
        if self._blend is not None:
            image = self._blend(rgb, image)
        t5 = time.perf_counter()
        self.frames += 1
        return image, {"prepare": prep_ms, "person": (t1 - t0) * 1000 - prep_ms, "smooth": (t2 - t1 + t5 - t4) * 1000,
                       "head": (t3 - t2) * 1000, "restore": (t4 - t3) * 1000}


# ------------------------------------------------------------------------------------------------ the whole video
def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0}
    a = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(a.mean()), 3), "p50": round(float(np.percentile(a, 50)), 3),
            "p95": round(float(np.percentile(a, 95)), 3)}


def run_video(model: str | os.PathLike | None, garment: Any, source: str | int | os.PathLike, out: str | os.PathLike, *,
              smooth: str | Smoothing | None = None, max_frames: int | None = None, fps: float | None = None,
              threads: int | None = None, providers: Any = None, session: Any = None, spinning: bool = False,
              on_frame: Callable[[np.ndarray, np.ndarray], None] | None = None) -> dict[str, Any]:
    """Try ``garment`` on every frame of ``source`` (:func:`open_source`) and write the video ``out``
    (:data:`WRITERS`); returns the summary (frames, size, fps, per-stage ms, garment branch runs).

    ``max_frames``: stop after that many frames (a webcam runs until then, or until Ctrl-C). ``fps``: the output's
    frame rate (default: the source's). ``on_frame(input_rgb, output_rgb)`` is called for every frame (e.g. to
    score flicker). ``session``: an open :class:`CatalogueSession` instead of ``model``; ``spinning``: see
    :func:`video_session` (off by default).
    """
    check_output(out)
    if max_frames is not None and int(max_frames) < 1:
        raise InputError("--max-frames", "a number of frames ≥ 1", str(max_frames))
    if fps is not None and (not math.isfinite(float(fps)) or float(fps) <= 0):
        raise InputError("--fps", "a positive frame rate", str(fps))
    smoothing = parse_smooth(smooth)
    src = open_source(source, fps)
    sink = VideoSink(out, src.fps)
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    try:
        tryon = VideoTryOn(model, garment, smooth=smoothing, threads=threads, providers=providers, session=session,
                           spinning=spinning)
        frames = src.frames()
        loop0 = time.perf_counter()
        interrupted = False
        while max_frames is None or sink.frames < int(max_frames):
            t0 = time.perf_counter()
            try:
                label, rgb = next(frames)
            except StopIteration:
                break
            except KeyboardInterrupt:
                if src.kind != "webcam":
                    raise
                interrupted = True
                break
            t1 = time.perf_counter()
            try:
                image, stage = tryon(rgb)
                t2 = time.perf_counter()
                sink.write(image, label)
            except KeyboardInterrupt:
                if src.kind != "webcam":
                    raise
                interrupted = True
                break
            t3 = time.perf_counter()
            times["decode"].append((t1 - t0) * 1000)
            times["encode"].append((t3 - t2) * 1000)
            for k, v in stage.items():
                times[k].append(v)
            if on_frame is not None:
                on_frame(rgb, image)
        seconds = time.perf_counter() - loop0
        if sink.frames == 0:
            raise InputError(f"--input {src.spec}", "a video with at least one decodable frame", "no frames")
        size = sink.size
        path = sink.commit()
    except BaseException:
        sink.abort()
        raise
    finally:
        src.close()
    n = len(times["decode"])
    stages = {s: _stats(v) for s, v in times.items()}
    total = sum(stages[s]["mean"] for s in STAGES)
    return {
        "out": str(path), "input": src.spec, "input_kind": src.kind, "frames": n, "size": list(size or ()),
        "fps_out": src.fps, "smooth": str(smoothing), "interrupted": interrupted,
        "seconds": round(seconds, 3), "fps": round(n / seconds, 3) if seconds > 0 else None,
        "stages_ms": stages, "sum_of_stage_means_ms": round(total, 3),
        "setup_ms": round(tryon.setup_ms, 1), "garment_ms": round(tryon.garment_ms, 2),
        "garment_branch_runs": tryon.session.stats()["computed"].get("garment", 0), "person_branch_runs": n,
        "export": str(tryon.session.export_dir), "intra_op_threads": tryon.session.intra_op_threads,
        "spinning": getattr(tryon.session, "spinning", True),
    }


__all__ = ["DEFAULT_SMOOTH", "FlowBlend", "FrameSource", "SMOOTH_KINDS", "STAGES", "Smoothing", "VideoSink", "VideoTryOn", "WRITERS",
           "check_output", "open_source", "parse_smooth", "parse_webcam", "run_video", "video_session"]

#!/usr/bin/env bash
# GPU rows (torch CUDA, ORT CUDA/TensorRT) on a device machine (no internet there: give a wheelhouse).
#
#   benchmarks/gpu.sh [OUT_DIR]            # default runs/bench-gpu
#   WHEELHOUSE=/path/to/wheels benchmarks/gpu.sh   # onnxruntime-gpu wheel(s) copied to the machine
#   DRY_RUN=1 SKIP_INSTALL=1 benchmarks/gpu.sh     # CPU check: every CUDA row skipped with its reason
#
# 1. installs the `onnx-gpu` extra (onnxruntime-gpu replaces onnxruntime: they share the package name);
#    a failed install is recorded in OUT_DIR/install.log and the ORT CUDA rows are then skipped, not faked;
# 2. runs benchmarks/gpu_rows.py: torch CUDA eager, ORT CUDA EP fp32/fp16, ORT TensorRT EP (if it loads),
#    batch 1/8/32 at 256x192 and 512x384 (override with SIZES / BATCHES), writing results.json and table.md;
# 3. the video row (benchmarks/video_fps.py on the CUDA EP) in OUT_DIR/video.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/bench-gpu}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p "$OUT"
if [ -z "${SKIP_INSTALL:-}" ]; then
  if [ -n "${WHEELHOUSE:-}" ]; then src=(--no-index --find-links "$WHEELHOUSE"); else src=(); fi
  { "$PY" -m pip uninstall -y onnxruntime && "$PY" -m pip install "${src[@]}" -c constraints.txt "onnxruntime-gpu>=1.18"; } \
    > "$OUT/install.log" 2>&1 || echo "onnx-gpu install failed (see $OUT/install.log); CUDA EP rows will be skipped" >&2
fi
args=(--out "$OUT" --sizes "${SIZES:-256x192,512x384}" --batches "${BATCHES:-1,8,32}")
[ -n "${TASK:-}" ] && args+=(--task "$TASK")
[ -n "${DRY_RUN:-}" ] && args+=(--dry-run)
"$PY" benchmarks/gpu_rows.py "${args[@]}"
rc=$?
# 3. the video row: decode -> split S-WUTON export on the CUDA EP (garment branch once, person branch + pair head per
#    frame) -> encode, at 256x192 (video_fps.py; its table names the providers the sessions really used)
if [ -z "${DRY_RUN:-}" ]; then
  "$PY" benchmarks/video_fps.py --out "$OUT/video" --providers "${VIDEO_PROVIDERS:-cuda,cpu}" --smooth none,flow:0.5 \
    > "$OUT/video.log" 2>&1 || echo "video row failed (see $OUT/video.log)" >&2
fi
exit $rc

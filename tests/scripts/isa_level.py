"""Print the environment that holds a test run to a lower ISA than this CPU's (for `make test-isa`).

The suite must pass on every CPU class users have: AVX2-only, AVX-512, AMX. `make test` proves the CPU of
the day; this picks the level below it — AVX2 on a CPU with AVX-512 (the AVX2-only EPYC that users have),
torch's scalar ``default`` kernels with oneDNN at SSE4.1 on an AVX2-only CPU (another accumulation order
again) — or the level named by ``ISA=avx2|sse41``. torch (``ATEN_CPU_CAPABILITY``) and oneDNN
(``ONEDNN_MAX_CPU_ISA``) honour it; OpenVINO does for its oneDNN kernels; onnxruntime cannot be held
(docs/portability.md). ``TRYON_MAX_ISA`` makes :mod:`tryon.hardware` report the held features, so tests that
need bf16/VNNI/AMX skip as they would on such a CPU.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tryon import hardware  # noqa: E402

LEVELS = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "TRYON_MAX_ISA": "avx2"},
    "sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "TRYON_MAX_ISA": "sse41"},
}


def main() -> int:
    level = (sys.argv[1] if len(sys.argv) > 1 else "").strip().lower()
    if not level:
        level = "avx2" if hardware.has("avx512") else "sse41"
    if level not in LEVELS:
        print(f"ISA={level!r}: expected one of {', '.join(LEVELS)}", file=sys.stderr)
        return 2
    print(" ".join(f"{k}={v}" for k, v in LEVELS[level].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The files of an export folder (``exports/README.md``): their names, and the batch the graph is traced at."""

from __future__ import annotations

MODEL_NAME = "model.onnx"
FP16_NAME = "model_fp16.onnx"
INT8_NAME = "model_int8.onnx"
CARD_NAME = "MODEL_CARD.md"
EXPORT_BATCH = 2  # torch.export specialises dimensions of size 0/1, so the traced batch must be >= 2

__all__ = ["CARD_NAME", "EXPORT_BATCH", "FP16_NAME", "INT8_NAME", "MODEL_NAME"]

"""EdiBERT (000 §4.2): a VQGAN tokenizer and a bidirectional transformer trained once with one generic
objective, serving image denoising, inpainting, compositing, crossovers and scribble edits."""

__version__ = "0.1.0"

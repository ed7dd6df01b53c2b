"""Running a model on image files: ``tryon run TASK`` (any task's pipeline) and the file plumbing it shares with
``tryon infer`` (an ONNX export).

* :mod:`.files` — named inputs, pairing files and folders into items, output names, staged (all-or-nothing) writes;
* :mod:`.outputs` — a pipeline's return value as one PIL image per output name and item;
* :mod:`.cli` — the ``tryon run`` verb.
"""

"""Demos and evaluations of the EdiBERT plugin: the top floor (nothing of the plugin imports them but
:mod:`tryon_edibert.cli`).

* :mod:`.demo` — ``tryon demo edibert`` (also run at a larger setting by ``benchmarks/edibert_quality.py``);
* :mod:`.evaluate` — ``tryon eval edibert``: the inpainting ablation (000 Table 4.2) and the sampler timing.
"""

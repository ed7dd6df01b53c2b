"""Demos and studies of the GAN plugin: the top floor (nothing of the plugin imports them but :mod:`tryon_gan.cli`).

* :mod:`.demo` — ``tryon demo gan``, a study (compute → ``results.json`` → report);
* :mod:`.toys` — the seeds' toy experiments, shared by the demo and ``benchmarks/gan_toys.py``;
* :mod:`.inversion` — the inversion part of the demo (reconstructions, directions, inpainting).
"""

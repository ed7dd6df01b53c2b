"""Studies of the control plugin: the top floor (only :mod:`..cli` and the benchmark scripts import them).

* :mod:`.toy` — 003 §3.4.1 (R2): VAE vs AVAE on the 2-D toy, with the nearest-data-point distance of reconstructions;
* :mod:`.table31` — 003 Table 3.1 at small scale (R3): VAE, AVAE (L_Z^a, L_Z^b) and GAN on scikit-learn digits.
"""

"""Demo, evaluation and speed studies of the WUTON plugin: the top floor (nothing of the plugin imports them but
:mod:`tryon_wuton.cli`).

* :mod:`.demo` — ``tryon demo wuton``: the whole try-on job end to end and its report;
* :mod:`.evaluate` — quality on unpaired ground truth, with injected parser errors;
* :mod:`.speed` — the teacher's stage timings, int8 calibration inputs and quality.
"""

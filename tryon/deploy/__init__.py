"""The torch-free deployment wing: everything that runs ``tryon export`` folders without torch.

Import from the modules (this package imports none of them, so ``import tryon.deploy`` stays light):

* :mod:`.manifest` — reading/writing an export folder's ``manifest.json`` (the one manifest reader);
* :mod:`.providers` — onnxruntime execution providers, threads, the refusal of a silent CPU fallback;
* :mod:`.arrays` — numpy/PIL pre/post-processing (letterbox, normalisation, restore) and input binding;
* :mod:`.sessions` — :func:`~.sessions.open_ort_session` (the one ``InferenceSession`` constructor),
  :class:`~.sessions.ImageModelSession`, :class:`~.sessions.TryOnSession`;
* :mod:`.profiling` — per-node execution providers from an onnxruntime profiling trace;
* :mod:`.openvino` — the OpenVINO CPU backend (optional extra);
* :mod:`.cache` — :class:`~.cache.ByteLRUCache`, the byte-bounded LRU of the catalogue runtime and ``tryon serve``;
* :mod:`.features` — branch features, content keys and the on-disk :class:`~.features.FeatureStore`;
* :mod:`.catalogue` — :class:`~.catalogue.CatalogueSession` over a split export;
* :mod:`.plan`, :mod:`.render`, :mod:`.local_engine`, :mod:`.ray_engine`, :mod:`.contact_sheet`, :mod:`.batch` —
  the ``tryon batch`` job (planning, the pair renderer, the two engines, the contact sheet, the job);
* :mod:`.cli` — the ``tryon batch`` verb (``register_cli``); library code never imports it.

:mod:`tryon.runtime` is the documented public face of the sessions; ``tryon.catalogue``, ``tryon.batch``,
``tryon.runtime_base``, ``tryon.runtime_openvino``, ``tryon.batch_render`` and ``tryon.batch_ray`` keep older
imports working.
"""

"""Chapter 5 of 003: a multi-object generative model with explicit geometric control (SPACE-based, K boxes per cell,
a learned recurrent geometric prior), at toy scale on procedural sprite scenes.

One idea per module: :mod:`.data` (scenes), :mod:`.glimpse` (crop / projector), :mod:`.prior` (the recurrent Normal
of the box encoder and of the learned prior), :mod:`.networks`, :mod:`.model`, :mod:`.losses`, :mod:`.detect` (tight
boxes around glimpse masks), :mod:`.metrics` (AP, count error), :mod:`.capacity` (003 Fig. 5.2), :mod:`.config`
(torch-free settings), :mod:`.pipelines` (``scene-decompose``, ``scene-generate``, ``scene-edit``).
This package imports nothing heavy itself: import the modules.
"""

"""tryon-gan: GANs, their losses and better samplers (000 ch. 3, 001, 002, 004) as a tryon plugin.

Tasks ``gan-generate`` and ``gan-latent-weights``; samplers of family "gan" (``tryon samplers --family gan``);
verbs ``tryon train gan``, ``tryon train gan-weights`` and ``tryon demo gan``. Importing this package is cheap;
the modules (``data``, ``models``, ``training``, ``samplers``, ``jacobian``, ``theory``, ``metrics``) import torch.
"""

__version__ = "0.1.0"

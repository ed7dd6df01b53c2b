"""Demos, evaluations and studies: the top floor of the plugin (only :mod:`..cli` imports them)."""

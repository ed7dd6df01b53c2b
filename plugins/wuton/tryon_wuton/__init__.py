"""WUTON virtual try-on plugin for ``tryon`` (000 §4.3, App. E)."""

__version__ = "0.1.0"

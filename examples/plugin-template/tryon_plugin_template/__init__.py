"""Template tryon plugin (copy and rename). See README.md beside this package."""

__version__ = "0.1.0"

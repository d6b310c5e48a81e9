"""The package version (one place: setup.py reads it, and so do saved files)."""
__version__ = "0.2.0.dev0"

"""Shared core of the FlatZero reproduction: result files, CLI helpers and one plot style."""

__version__ = "0.1.0"

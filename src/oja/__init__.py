"""Oja: one backend for the platform described in the seed documents."""

__version__ = "0.1.0"

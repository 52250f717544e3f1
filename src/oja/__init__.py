"""Oja: one backend for accounts, payments, files, documents and their retrieval, and chat."""

__version__ = "0.1.0"

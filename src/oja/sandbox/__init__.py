"""Local fakes of Oja's third parties, written from their public API documentation.

Each fake is an ASGI app (FastAPI) with in-memory state and knobs for negative tests, served over
real HTTP by :class:`oja.sandbox.server.SandboxServer`; the SMTP fake is a real SMTP server. Tests
use them, and so does ``oja sandbox`` for local runs. This package may import :mod:`oja.core` only.
"""

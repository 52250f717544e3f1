"""Retrieval's error codes.

None of its own yet: ``POST /query`` answers the AI port's errors (``ai_provider_error``,
``not_configured``) and the kernel's. A retrieval-specific failure gets its code here, never a
``code=`` at the raise site.
"""

from __future__ import annotations

from oja.core.errors import ErrorCode


class RagErrorCode(ErrorCode):
    """Empty: every code ``/query`` answers belongs to core (see the module docstring)."""

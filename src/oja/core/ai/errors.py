"""Errors of the AI port. Every provider failure reaches callers as one of these."""

from __future__ import annotations

from typing import Any

from oja.core.errors import CoreErrorCode, NotConfigured, UpstreamError


class AIProviderError(UpstreamError):
    """The provider answered with an error (after retries) or could not be reached; the message is
    the provider's own."""

    code = CoreErrorCode.AI_PROVIDER_ERROR

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(
            message, details=details or {"provider": provider, "provider_status": status}
        )
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """429, 5xx and transport failures (status None) may succeed when tried again."""
        return self.status is None or self.status == 429 or self.status >= 500


class AINotConfigured(NotConfigured):
    """A provider was asked for by name but its API key is not configured (503 ``not_configured``,
    like every module)."""


class StructuredOutputInvalid(UpstreamError):
    """The model's reply is not JSON matching the requested schema."""

    code = CoreErrorCode.AI_INVALID_OUTPUT

    def __init__(self, message: str, *, raw: str, problems: list[str]) -> None:
        super().__init__(message, details={"problems": problems[:10]})
        self.raw = raw
        self.problems = problems

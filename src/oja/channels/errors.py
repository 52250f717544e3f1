"""Errors raised by the delivery adapters."""

from __future__ import annotations

from oja.core.errors import ErrorCode, UpstreamError


class ChannelsErrorCode(ErrorCode):
    DELIVERY_FAILED = "delivery_failed"


class DeliveryFailed(UpstreamError):
    """A provider did not accept a message.

    ``provider_message`` is the provider's own words (safe to show operators, never contains our
    credentials); ``retryable`` says whether sending the same message again may succeed (network
    errors, timeouts, 429 and 5xx), so a job can decide between retrying and giving up.
    ``maybe_sent`` says the provider may have accepted it all the same (the request went out and
    no answer came back): sending again risks a duplicate.
    """

    code = ChannelsErrorCode.DELIVERY_FAILED

    def __init__(
        self,
        provider: str,
        provider_message: str,
        *,
        provider_status: int | None = None,
        retryable: bool = False,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(
            f"{provider} did not accept the message: {provider_message}",
            details={"provider": provider, "provider_status": provider_status},
        )
        self.provider = provider
        self.provider_message = provider_message
        self.provider_status = provider_status
        self.retryable = retryable
        self.maybe_sent = maybe_sent

"""Imported by the worker subprocess of ``test_payout_worker_kill`` (OJA_WORKER_IMPORTS).

The first transfer request any worker sends (a run's bulk transfer, or a single one) reaches the
provider, then leaves a marker file and stalls, so the test can SIGKILL the worker after the
provider accepted the transfers and before Oja recorded them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from oja.billing.providers.paystack import PaystackClient


def _stalling(call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def stalled(self: PaystackClient, *args: Any, **kwargs: Any) -> Any:
        result = await call(self, *args, **kwargs)
        marker = Path(os.environ["OJA_TEST_PAYOUT_STALL_MARKER"])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            await asyncio.sleep(60)
        return result

    return stalled


PaystackClient.transfer = _stalling(PaystackClient.transfer)  # type: ignore[method-assign]
PaystackClient.bulk_transfer = _stalling(PaystackClient.bulk_transfer)  # type: ignore[method-assign]

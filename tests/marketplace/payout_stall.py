"""Imported by the worker subprocess of ``test_payout_worker_kill`` (OJA_WORKER_IMPORTS).

The first transfer any worker sends reaches the provider, then leaves a marker file and stalls, so
the test can SIGKILL the worker after the provider accepted the transfer and before Oja recorded it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from oja.billing.providers.paystack import PaystackClient
from oja.billing.providers.port import TransferResult

_transfer = PaystackClient.transfer


async def _stalling_transfer(self: PaystackClient, **kwargs: Any) -> TransferResult:
    result = await _transfer(self, **kwargs)
    marker = Path(os.environ["OJA_TEST_PAYOUT_STALL_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        await asyncio.sleep(60)
    return result


PaystackClient.transfer = _stalling_transfer  # type: ignore[method-assign]

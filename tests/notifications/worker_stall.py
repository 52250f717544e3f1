"""Imported by the worker subprocess of ``test_worker_kill`` (OJA_WORKER_IMPORTS).

The first send any worker makes goes to the provider, then leaves a marker file and stalls, so the
test can SIGKILL the worker after the provider took the message and before Oja recorded it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from oja.channels.ports import DeliveryReceipt
from oja.notifications import delivery

_call_provider = delivery._call_provider


async def _stalling_call_provider(*args: Any, **kwargs: Any) -> DeliveryReceipt:
    receipt = await _call_provider(*args, **kwargs)
    marker = Path(os.environ["OJA_TEST_NOTIFY_STALL_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        await asyncio.sleep(60)
    return receipt


delivery._call_provider = _stalling_call_provider

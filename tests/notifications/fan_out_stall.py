"""Imported by the worker subprocess of ``test_fan_out_worker_kill`` (OJA_WORKER_IMPORTS).

The first fan-out any worker runs stores its in-app notifications and pending deliveries, then,
before the job's transaction commits (and so before any send job is published), leaves a marker
file and stalls, so the test can SIGKILL the worker mid-fan-out.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.notifications import service

_fan_out = service.fan_out


async def _stalling_fan_out(
    db: AsyncSession, event: str, event_id: uuid.UUID, payload: dict[str, Any]
) -> service.FanOut:
    fanned = await _fan_out(db, event, event_id, payload)
    marker = Path(os.environ["OJA_TEST_FAN_OUT_STALL_MARKER"])
    if not marker.exists():
        await db.flush()  # every row reached PostgreSQL, inside the open transaction
        marker.write_text(f"{fanned.notifications} {len(fanned.deliveries)}")
        await asyncio.sleep(60)
    return fanned


service.fan_out = _stalling_fan_out  # type: ignore[assignment]

"""Imported by the worker subprocess of ``test_confirmation_worker_kill`` (OJA_WORKER_IMPORTS).

The first webhook any worker processes is applied in full — the payment verified at the provider,
the group paid, its store orders confirmed, the sale booked in the ledger — then, before the job's
transaction commits, the worker leaves a marker file and stalls, so the test can SIGKILL it with
all of that written and none of it committed.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import events

# The webhook job imports `process_event` from `oja.billing.events` when it runs (a worker that runs
# no billing job does not load billing's services), so the stall replaces it there.
_process_event = events.process_event


async def _stalling_process_event(session: AsyncSession, event_id: uuid.UUID, ports: Any) -> str:
    outcome = await _process_event(session, event_id, ports)
    marker = Path(os.environ["OJA_TEST_CONFIRM_STALL_MARKER"])
    if not marker.exists():
        await session.flush()  # every write reached PostgreSQL, inside the open transaction
        marker.write_text(outcome)
        await asyncio.sleep(60)
    return outcome


events.process_event = _stalling_process_event

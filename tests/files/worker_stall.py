"""Imported by the worker subprocess of ``test_worker_kill`` (OJA_WORKER_IMPORTS).

The first time any worker stores a file's variants, it writes them, leaves a marker file and then
stalls, so the test can SIGKILL it mid-job: variants written, nothing committed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from oja.files.processing import pipeline

_store_variants = pipeline._store_variants


async def _stalling_store_variants(*args: Any, **kwargs: Any) -> dict[str, Any]:
    stored = await _store_variants(*args, **kwargs)
    marker = Path(os.environ["OJA_TEST_FILES_STALL_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        await asyncio.sleep(60)
    return stored


pipeline._store_variants = _stalling_store_variants

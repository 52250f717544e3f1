"""One BLAS thread while a question is answered.

NumPy's OpenBLAS starts a thread per core for every product. A query's products are small (one
question through MiniLM, one matrix-vector product per owner), so the second thread only waits for
a core: on this 2-core machine under a load average of 3-4, ``retrieve`` at 10k chunks took p50
188 / p95 750 ms with the default two threads and 88 / 194 ms with one, interleaved in one process
(README, Benchmarks). Ingestion's large batches keep every thread.

The limit is process-wide, so it is counted: the first query in sets it, the last one out
restores the original, and overlapping queries never restore it under each other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_inside = 0
_limiter: Any = None
_controller: ThreadpoolController | None = None


@contextmanager
def one_thread() -> Iterator[None]:
    global _inside, _limiter, _controller
    with _lock:
        if _inside == 0:
            if _controller is None:
                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                _limiter.restore_original_limits()
                _limiter = None

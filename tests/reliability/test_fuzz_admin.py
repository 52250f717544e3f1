"""The fuzzer (``tests/reliability/fuzzing.py``) as an admin on SQLite.

One principal and backend per file, so the test workers share the fuzzing (a file goes to one
worker whole).
"""

from __future__ import annotations

import pytest

from tests.reliability.fuzzing import TIMEOUT_S, Served, check_every_operation

pytestmark = [pytest.mark.usefixtures("local_ai"), pytest.mark.timeout(TIMEOUT_S)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fuzz_every_operation(served: Served) -> None:
    check_every_operation(served, "admin")

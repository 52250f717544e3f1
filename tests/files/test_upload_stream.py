"""``prefetched``: the first ``direct_bytes`` are read on demand, the rest by a read-ahead task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from oja.files.upload_stream import DIRECT_BYTES, prefetched


class Boom(Exception):
    pass


async def source(chunks: list[bytes], *, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for index, chunk in enumerate(chunks):
        if fail_after is not None and index == fail_after:
            raise Boom("the body broke")
        await asyncio.sleep(0)
        yield chunk


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


@pytest.mark.parametrize(
    "sizes", [[], [1], [1000, 24], [DIRECT_BYTES - 1], [DIRECT_BYTES // 2] * 2]
)
async def test_up_to_direct_bytes_no_task_is_started(sizes: list[int]) -> None:
    chunks = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    before = other_tasks()
    got: list[bytes] = []
    async for chunk in prefetched(source(chunks)):
        assert other_tasks() == before
        got.append(chunk)
    assert got == chunks


@pytest.mark.parametrize("direct_bytes", [0, 1, 10, 25, 1000])
async def test_every_chunk_in_order_across_the_switch(direct_bytes: int) -> None:
    chunks = [bytes([n]) * 10 for n in range(10)]
    got = [c async for c in prefetched(source(chunks), depth=2, direct_bytes=direct_bytes)]
    assert got == chunks


@pytest.mark.parametrize("fail_after", [1, 6])
async def test_an_error_of_the_body_reaches_the_consumer(fail_after: int) -> None:
    chunks = [b"x" * 10 for _ in range(10)]
    got: list[bytes] = []

    async def consume() -> None:
        async for chunk in prefetched(source(chunks, fail_after=fail_after), direct_bytes=30):
            got.append(chunk)

    with pytest.raises(Boom):
        await consume()
    assert got == chunks[:fail_after]


async def test_a_consumer_that_stops_early_cancels_the_reader() -> None:
    before = other_tasks()
    stream = prefetched(source([b"x" * 10 for _ in range(100)]), depth=2, direct_bytes=20)
    async for _ in stream:
        if len(other_tasks()) > len(before):
            break
    await stream.aclose()
    await asyncio.sleep(0)
    assert other_tasks() == before


@pytest.mark.parametrize(
    ("sizes", "tasks"),
    [
        ([DIRECT_BYTES], 0),
        ([DIRECT_BYTES // 2] * 2, 0),
        ([DIRECT_BYTES, 1], 1),
        ([DIRECT_BYTES, 1, 1], 1),
    ],
)
async def test_a_body_that_ends_at_the_switch_starts_no_reader(
    sizes: list[int], tasks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 MiB upload ends exactly at ``direct_bytes``: no read-ahead task is started for
    nothing; a body with more starts one."""
    started: list[object] = []
    real = asyncio.create_task

    def counting(coro: object, **kwargs: object) -> asyncio.Task[object]:
        started.append(coro)
        return real(coro, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("oja.files.upload_stream.asyncio.create_task", counting)
    chunks = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    assert [c async for c in prefetched(source(chunks))] == chunks
    assert len(started) == tasks

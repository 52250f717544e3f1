"""Reconciliation: the books of every module agree with each other and with storage.

``oja reconcile`` (and :func:`run`) checks, read-only:

* **jobs** — every accepted job finished: no job ``queued`` or ``running`` for longer than the
  threshold (a dropped message the sweeper did not recover, a worker that died for good);
* **webhooks** — every provider event stored in the inbox was processed once: none left
  ``received`` past the threshold, no ``(provider, event_id)`` stored twice;
* **storage** — stored objects equal the object keys the rows name (``file.storage_key``, the
  variants' keys, ``document.storage_key``): no row without its object, no object without a row
  (temporary files of a put in progress are ignored until they are older than the threshold);
* **quotas** — no reservation left ``reserved`` (neither committed nor refunded) past the threshold;
* **stuck_rows** — no feature row is in an in-progress state whose job has ended (``succeeded`` or
  ``failed``): a file ``uploaded``/``processing``, a document ``PROCESSING`` or ``UPLOADED`` without
  text, a document's text waiting to be indexed, a chat prompt ``pending``. Clients poll those until
  they move, and nothing will move them once their job is over. No threshold: the job that moves a
  row commits the row's new state with (or before) its own end, so there is no legitimate window;
* **marketplace** — stock equals its movements, paid groups are booked and confirmed, unpaid ones
  released, the ledger balanced, every payout booked, settled or moving, failed ones returned once
  with a reason and none above its store's balance, rating summaries equal to their reviews
  (``oja.marketplace.invariants``: five lines, ``stock``, ``orders``, ``ledger``, ``payouts``,
  ``ratings``).

It reads every module's tables, so it sits above them all (just under the CLI).

The storage port has no listing; the local adapter's folder is walked and the S3 adapter's client
lists the bucket prefix. Another adapter is reported as "not listable" (a mismatch).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.models import QuotaReservation, WebhookEvent
from oja.chat.models import ChatMessage, MessageStatus
from oja.core.clock import utcnow
from oja.core.db import read_only
from oja.core.jobs.definition import JobDefinition
from oja.core.jobs.models import Job, JobStatus
from oja.core.runtime import Runtime
from oja.core.storage.local import LocalStorage
from oja.core.storage.s3 import S3Storage
from oja.documents.jobs import extract_document
from oja.documents.models import Document, DocumentStatus
from oja.files.jobs import process_file
from oja.files.models import File, FileStatus
from oja.marketplace import invariants
from oja.rag.jobs import index_document

SAMPLE = 10
"""Ids or keys shown per mismatch."""


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    summary: str
    samples: tuple[str, ...] = ()


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def add(self, check: str, problems: list[str], ok_summary: str, bad_summary: str) -> None:
        if problems:
            self.findings.append(
                Finding(check, False, bad_summary.format(n=len(problems)), tuple(problems[:SAMPLE]))
            )
        else:
            self.findings.append(Finding(check, True, ok_summary))

    def table(self) -> str:
        width = max([len(f.check) for f in self.findings] + [5])
        lines = [f"{'check':<{width}}  result    detail", f"{'-' * width}  --------  ------"]
        for f in self.findings:
            lines.append(f"{f.check:<{width}}  {'ok' if f.ok else 'MISMATCH':<8}  {f.summary}")
            lines.extend(f"{'':<{width}}            {sample}" for sample in f.samples)
        lines.append("")
        lines.append("all consistent" if self.ok else "MISMATCHES FOUND")
        return "\n".join(lines) + "\n"


async def run(
    runtime: Runtime,
    *,
    stale_after: float = 600.0,
    now: datetime | None = None,
) -> Report:
    """Check every invariant; ``stale_after`` seconds is how old unfinished work may be."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_after)
    report = Report()
    await _jobs(runtime, report, cutoff)
    await _webhooks(runtime, report, cutoff)
    await _storage(runtime, report, cutoff)
    await _quotas(runtime, report, cutoff)
    await _stuck_rows(runtime, report)
    await _marketplace(runtime, report, cutoff)
    return report


async def _jobs(runtime: Runtime, report: Report, cutoff: datetime) -> None:
    async with read_only(runtime.database) as session:
        counts = dict(
            (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
        )
        stuck = (
            await session.execute(
                select(Job.id, Job.kind, Job.status, Job.attempts)
                .where(
                    Job.status.in_([JobStatus.queued, JobStatus.running]),
                    Job.created_at < cutoff,
                )
                .order_by(Job.created_at)
            )
        ).all()
    total = sum(counts.values())
    finished = counts.get(JobStatus.succeeded, 0) + counts.get(JobStatus.failed, 0)
    report.add(
        "jobs",
        [f"{r.id} {r.kind} {r.status} attempts={r.attempts}" for r in stuck],
        f"{total} accepted, {finished} finished "
        f"({counts.get(JobStatus.failed, 0)} failed), none stuck",
        "{n} accepted jobs unfinished past the threshold",
    )


async def _webhooks(runtime: Runtime, report: Report, cutoff: datetime) -> None:
    async with read_only(runtime.database) as session:
        total = (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar()
        pending = (
            await session.execute(
                select(WebhookEvent.provider, WebhookEvent.event_id, WebhookEvent.event_type)
                .where(WebhookEvent.status == "received", WebhookEvent.received_at < cutoff)
                .order_by(WebhookEvent.received_at)
            )
        ).all()
        twice = (
            await session.execute(
                select(WebhookEvent.provider, WebhookEvent.event_id, func.count())
                .group_by(WebhookEvent.provider, WebhookEvent.event_id)
                .having(func.count() > 1)
            )
        ).all()
    problems = [f"unprocessed {p.provider} {p.event_id} ({p.event_type})" for p in pending]
    problems += [f"stored {n} times: {p} {e}" for p, e, n in twice]
    report.add(
        "webhooks",
        problems,
        f"{total} events, each stored once and processed",
        "{n} webhook events unprocessed or duplicated",
    )


def _variant_keys(variants: Any) -> Iterable[str]:
    if isinstance(variants, dict):
        for info in variants.values():
            if isinstance(info, dict) and isinstance(info.get("key"), str):
                yield info["key"]


async def _referenced_keys(runtime: Runtime) -> set[str]:
    keys: set[str] = set()
    async with read_only(runtime.database) as session:
        for storage_key, variants in (
            await session.execute(select(File.storage_key, File.variants))
        ).all():
            keys.add(storage_key)
            keys.update(_variant_keys(variants))
        keys.update((await session.execute(select(Document.storage_key))).scalars())
    return keys


def _walk_local(root: Path, cutoff: datetime) -> tuple[set[str], list[str]]:
    """Object keys under ``root``, and temporary files of puts older than ``cutoff``."""
    keys: set[str] = set()
    stale_temporaries: list[str] = []
    if not root.exists():
        return keys, stale_temporaries
    limit = cutoff.timestamp()
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if name.startswith(".~") and name.endswith(".tmp"):
                if path.stat().st_mtime < limit:
                    stale_temporaries.append(relative)
                continue
            keys.add(relative)
    return keys, stale_temporaries


def _list_s3(storage: S3Storage) -> set[str]:
    prefix = storage.object_name("x")[:-1]
    client = storage._client  # the port has no listing; the adapter's own client lists
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket, Prefix=prefix
    ):
        keys.update(obj["Key"][len(prefix) :] for obj in page.get("Contents", []))
    return keys


async def _storage(runtime: Runtime, report: Report, cutoff: datetime) -> None:
    storage = runtime.storage
    stale: list[str] = []
    if isinstance(storage, LocalStorage):
        stored, stale = await asyncio.to_thread(_walk_local, storage.root, cutoff)
    elif isinstance(storage, S3Storage):
        stored = await asyncio.to_thread(_list_s3, storage)
    else:
        report.add("storage", [type(storage).__name__], "", "storage adapter {n} cannot be listed")
        return
    referenced = await _referenced_keys(runtime)
    # A row written just now may precede its object (or follow it) by a moment; the check is
    # meant for a quiet system, after traffic.
    missing = sorted(referenced - stored)
    orphans = sorted(stored - referenced)
    problems = [f"row without object: {k}" for k in missing]
    problems += [f"object without row: {k}" for k in orphans]
    problems += [f"stale temporary file: {k}" for k in stale]
    report.add(
        "storage",
        problems,
        f"{len(stored)} objects, {len(referenced)} referenced keys, all matched",
        "{n} storage mismatches",
    )


async def _quotas(runtime: Runtime, report: Report, cutoff: datetime) -> None:
    async with read_only(runtime.database) as session:
        total = (await session.execute(select(func.count()).select_from(QuotaReservation))).scalar()
        pending = (
            await session.execute(
                select(QuotaReservation.id, QuotaReservation.subject, QuotaReservation.metric)
                .where(QuotaReservation.status == "reserved", QuotaReservation.created_at < cutoff)
                .order_by(QuotaReservation.created_at)
            )
        ).all()
    report.add(
        "quotas",
        [f"{r.id} {r.subject} {r.metric} still reserved" for r in pending],
        f"{total} reservations, none left pending",
        "{n} quota reservations neither committed nor refunded",
    )


ENDED = (JobStatus.succeeded, JobStatus.failed)
IN_CHUNK = 500
"""Subject ids per ``IN (…)``, well under every driver's parameter limit."""


async def _latest_jobs(
    session: AsyncSession, kind: str, subject_type: str, subject_ids: list[str]
) -> dict[str, tuple[Any, str]]:
    """The newest job of ``kind`` per subject (id and status): a retry's job replaces the last.

    Matched in Python, since ``subject_id`` is text and the rows' ids are UUIDs, stored differently
    per backend."""
    latest: dict[str, tuple[Any, str]] = {}
    for start in range(0, len(subject_ids), IN_CHUNK):
        rows = await session.execute(
            select(Job.subject_id, Job.id, Job.status)
            .where(
                Job.kind == kind,
                Job.subject_type == subject_type,
                Job.subject_id.in_(subject_ids[start : start + IN_CHUNK]),
            )
            .order_by(Job.created_at, Job.id)
        )
        for subject_id, job_id, status in rows:
            if subject_id is not None:
                latest[subject_id] = (job_id, status)  # ascending: the newest wins
    return latest


async def _stuck_by_subject(
    session: AsyncSession, rows: list[tuple[Any, str]], definition: JobDefinition[Any]
) -> list[str]:
    """``rows`` (id, state) whose newest job of ``definition``'s kind has ended."""
    assert definition.subject is not None
    subject_type = definition.subject[0]
    latest = await _latest_jobs(
        session, definition.kind, subject_type, [str(row_id) for row_id, _ in rows]
    )
    problems = []
    for row_id, state in rows:
        found = latest.get(str(row_id))
        if found is not None and found[1] in ENDED:
            problems.append(
                f"{subject_type} {row_id} {state}: {definition.kind} job {found[0]} {found[1]}"
            )
    return problems


async def _stuck_rows(runtime: Runtime, report: Report) -> None:
    async with read_only(runtime.database) as session:
        files = [
            (r.id, r.status)
            for r in await session.execute(
                select(File.id, File.status).where(
                    File.status.in_([FileStatus.uploaded, FileStatus.processing])
                )
            )
        ]
        uploaded = [
            (r.id, "UPLOADED without text")
            for r in await session.execute(
                select(Document.id).where(
                    Document.status == DocumentStatus.UPLOADED, Document.text.is_(None)
                )
            )
        ]
        unindexed = [
            (r.id, "text not indexed")
            for r in await session.execute(
                select(Document.id).where(Document.text.is_not(None), Document.indexed_at.is_(None))
            )
        ]
        # Rows that name their job: a document's current run, a prompt's reply.
        named = [
            ("document", Document.id, Document.job_id, Document.status, DocumentStatus.PROCESSING),
            (
                "chat_message",
                ChatMessage.id,
                ChatMessage.job_id,
                ChatMessage.status,
                MessageStatus.pending,
            ),
        ]
        problems: list[str] = []
        in_progress = len(files) + len(uploaded) + len(unindexed)
        for label, row_id, job_id, row_status, state in named:
            rows = (
                await session.execute(
                    select(row_id, Job.kind, Job.id, Job.status)
                    .outerjoin(Job, Job.id == job_id)
                    .where(row_status == state)
                )
            ).all()
            in_progress += len(rows)
            problems += [
                f"{label} {r_id} {state}: {kind} job {j_id} {status}"
                for r_id, kind, j_id, status in rows
                if status in ENDED
            ]
        problems += await _stuck_by_subject(session, files, process_file)
        problems += await _stuck_by_subject(session, uploaded, extract_document)
        problems += await _stuck_by_subject(session, unindexed, index_document)
    report.add(
        "stuck_rows",
        problems,
        f"{in_progress} rows in progress, none whose job has ended",
        "{n} rows in progress whose job has ended (clients would wait for them for ever)",
    )


async def _marketplace(runtime: Runtime, report: Report, cutoff: datetime) -> None:
    async with read_only(runtime.database) as session:
        variants, stock = await invariants.stock(session)
        paid, orders = await invariants.orders(session, cutoff)
        transactions, ledger = await invariants.ledger(session)
        ratings = await invariants.ratings(session)
        checked, payouts = await invariants.payouts(session, cutoff)
    report.add(
        "stock",
        stock,
        f"{variants} variants, each at the sum of its movements",
        "{n} variants whose stock is not the sum of their movements",
    )
    report.add(
        "orders",
        orders,
        f"{paid} paid groups, each booked and applied; no expired reservation held",
        "{n} order groups paid but not booked or applied, or unpaid past their expiry",
    )
    report.add(
        "ledger",
        ledger,
        f"{transactions} transactions, all balanced; balances equal their postings",
        "{n} ledger invariants broken",
    )
    report.add(
        "payouts",
        payouts,
        f"{checked} payouts, each booked for its amount, settled or moving, failed ones returned "
        "once with a reason, none above its store's available balance",
        "{n} payout problems (unbooked, stuck, unreturned, or above the store's balance)",
    )
    report.add(
        "ratings",
        ratings,
        "every rating summary equals its reviews",
        "{n} rating summaries differ from their reviews",
    )

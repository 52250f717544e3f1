"""A payout run's transfers sent in bulk (Paystack ``POST /transfer/bulk``, Flutterwave
``POST /v3/bulk-transfers``), each under its payout's own deterministic reference.

* **Picked.** The oldest pending payouts, at most ``OJA_MARKETPLACE_PAYOUT_BULK_SIZE`` (Paystack
  takes 100 per request), locked; rows another sender holds are skipped, so two senders never
  send the same payout at once. A full batch that moved something asks for the next one
  ``OJA_MARKETPLACE_PAYOUT_BULK_INTERVAL`` seconds later (Paystack: one batch every 5 s).
* **Answered per transfer.** Paystack answers each queued transfer: the payout adopts it. A
  transfer the answer leaves out (its reference already exists, because a killed run sent it, or
  the provider refused it) and a batch queued whole (Flutterwave answers only a batch id) are read
  back with the provider's transfer verify: a transfer it has is adopted, one it does not stays
  ``pending`` for the verify sweep, which sends it alone. A re-run of a run killed after the bulk
  call therefore pays nothing twice: every reference is refused as a duplicate and adopted.
* **Refused whole.** Paystack refuses bulk while OTP approval is on ("You need to disable the OTP
  requirement"): the batch is then sent one transfer at a time, each of which may answer
  ``otp`` (the payout waits ``otp_required`` for an admin).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.providers.port import ProviderCallRefused, TransferOrder
from oja.marketplace.payouts import repository, transfers
from oja.marketplace.payouts.models import Payout

log = structlog.get_logger("oja.marketplace.payouts")

_STAYED = ("unchanged", "ignored", "unsent")
"""Outcomes of a payout the batch left as it was."""


@dataclass
class BatchOutcome:
    payouts: int = 0
    """How many pending payouts the batch picked."""
    moved: int = 0
    """How many of them left ``pending`` (accepted, awaiting an OTP, paid or failed)."""
    requests: int = 0
    """Bulk requests made (the single transfers of a batch refused whole are not counted)."""


async def send_batch(db: AsyncSession, settings: BillingSettings, size: int) -> BatchOutcome:
    """Send up to ``size`` pending payouts, grouped by provider; a provider outage raises (the
    job is retried and re-sends the same references)."""
    picked = await repository.unsent(db, size)
    outcome = BatchOutcome(payouts=len(picked))
    by_provider: dict[str, list[Payout]] = defaultdict(list)
    for payout in picked:
        by_provider[payout.provider].append(payout)
    for provider, group in by_provider.items():
        async with billing.provider_client(settings, provider) as client:
            results = await _send_group(db, client, group, outcome)
        outcome.moved += sum(1 for r in results if not r.startswith(_STAYED))
    return outcome


async def _send_group(
    db: AsyncSession, client: transfers.TransferClient, group: list[Payout], outcome: BatchOutcome
) -> list[str]:
    orders = [
        TransferOrder(
            amount=p.amount,
            currency=p.currency,
            reference=p.reference,
            recipient=await transfers.recipient_of(db, p),
            reason=f"Oja payout {p.reference}",
        )
        for p in group
    ]
    try:
        outcome.requests += 1
        answer = await client.bulk_transfer(orders)
    except ProviderCallRefused as refused:
        log.info(
            "marketplace.payout.bulk_refused",
            provider=client.name,
            payouts=len(group),
            provider_message=refused.message,
        )
        return [await transfers.send_one(db, client, p) for p in group]
    said = {t.reference: t for t in answer.transfers}
    results = []
    for payout in group:
        result = said.get(payout.reference)
        if result is None:
            try:
                result = await client.verify_transfer(payout.reference)
            except ProviderCallRefused:
                results.append("unsent")  # the verify sweep sends it alone later
                continue
        results.append(await transfers.apply(db, payout, result))
    log.info(
        "marketplace.payout.bulk_sent",
        provider=client.name,
        batch_id=answer.batch_id,
        payouts=len(group),
        answered=len(said),
    )
    return results

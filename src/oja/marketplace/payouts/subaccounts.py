"""Paystack subaccounts for the native split (``OJA_MARKETPLACE_SETTLEMENT=provider_split``).

* **Made with the payout account.** When a store's payout account becomes active (set with a
  matching name, or approved by an admin), :func:`ensure_subaccount` creates its Paystack
  subaccount (``POST /subaccount``) for that bank account and keeps the code (one per store and
  currency). It is used from ``active_from``: at once for a first account, after the
  account-change hold for a change — a new bank account gets no money before transfers to it
  would. If Paystack refuses or is down, the store simply stays ledger-settled (paid by the payout
  job) and the failure is logged; the payout account change itself stands.
* **Sent at checkout.** :func:`checkout_split` builds the dynamic flat ``split`` for a Paystack
  checkout: each store with a subaccount in effect gets its share — order total less the ledger's
  own commission (:func:`oja.marketplace.ledger.settlement.order_commissions`), in minor units —
  and the fee is borne as ``OJA_MARKETPLACE_FEE_BEARER`` says (``account`` for the platform,
  ``all-proportional`` for the stores). What was sent goes into the payment's metadata, which the
  ledger reads when the payment is verified (:mod:`oja.marketplace.ledger.split`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.providers.port import ProviderCallError
from oja.core.clock import utcnow
from oja.core.runtime import current_settings
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.split import METADATA_KEY
from oja.marketplace.orders.models import OrderLine, StoreOrder
from oja.marketplace.payouts import repository
from oja.marketplace.payouts.models import PayoutAccount, StoreSubaccount
from oja.marketplace.vendors import repository as vendors

log = structlog.get_logger("oja.marketplace.payouts")

PROVIDER = "paystack"


async def ensure_subaccount(
    db: AsyncSession,
    account: PayoutAccount,
    market: MarketplaceSettings,
    billing_settings: BillingSettings | None,
    *,
    active_from: datetime | None,
) -> StoreSubaccount | None:
    """The store's subaccount for its newly active ``account`` (made at Paystack if needed);
    None when the deployment does not split or Paystack would not make one. ``billing_settings``
    None: the running request's or job's."""
    if market.settlement != "provider_split" or account.provider != PROVIDER:
        return None
    billing_settings = billing_settings or current_settings().section(BillingSettings)
    current = await repository.subaccount(db, account.vendor_id, account.currency)
    if current is not None and current.account_id == account.id:
        return current
    store = await vendors.vendor(db, account.vendor_id)
    try:
        async with billing.paystack_client(billing_settings) as client:
            made = await client.create_subaccount(
                business_name=store.name if store else account.account_name,
                bank_code=account.bank_code,
                account_number=account.account_number,
                commission_percent=market.commission_percent,
            )
    except ProviderCallError as exc:
        # The old subaccount pays the old bank account: it goes, the store is ledger-settled.
        if current is not None:
            await db.delete(current)
            await db.flush()
        log.warning(
            "marketplace.payouts.subaccount_failed",
            vendor_id=str(account.vendor_id),
            error=exc.message,
        )
        return None
    if current is None:
        current = StoreSubaccount(vendor_id=account.vendor_id, currency=account.currency)
        db.add(current)
    current.provider = PROVIDER
    current.code = made.code[:64]
    current.account_id = account.id
    current.active_from = active_from or utcnow()
    await db.flush()
    log.info("marketplace.payouts.subaccount_set", vendor_id=str(account.vendor_id))
    return current


async def checkout_split(
    db: AsyncSession,
    orders: Sequence[StoreOrder],
    lines: Sequence[OrderLine],
    currency: str,
    market: MarketplaceSettings,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The dynamic ``split`` for a Paystack checkout of ``orders`` and the metadata recording it
    (store order id → [subaccount code, share]); None when no store of it is provider-settled."""
    if market.settlement != "provider_split" or not orders:
        return None
    codes = await repository.split_subaccounts(
        db, [order.vendor_id for order in orders], currency, utcnow()
    )
    if not codes:
        return None
    commissions = await settlement.order_commissions(db, market, orders, lines)
    sent: dict[uuid.UUID, tuple[str, int]] = {}
    for order in orders:
        share = order.total - min(sum(commissions[order.id].values()), order.total)
        if order.vendor_id in codes and share > 0:
            sent[order.id] = (codes[order.vendor_id], share)
    if not sent:
        return None
    split = {
        "type": "flat",
        "currency": currency,
        "subaccounts": [{"subaccount": code, "share": share} for code, share in sent.values()],
        "bearer_type": "all-proportional" if market.fee_bearer == "vendor" else "account",
    }
    metadata = {METADATA_KEY: {str(order_id): [c, s] for order_id, (c, s) in sent.items()}}
    return split, metadata

"""A partial reversal never takes more than the store's share (issue 20): the store's part is its
proportional share rounded down on the running total, the commission and fee given back take the
remainder kobo, every part of every reversal is ≥ 0 and a full reversal ends exact.

Pure: the ledger's one formula (:func:`.settlement.refund_parts`, :func:`.settlement.remaining_share`
over :mod:`.commission`) on settlements held in memory."""

from __future__ import annotations

import uuid
from fractions import Fraction

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from oja.marketplace.ledger import commission, disputes, settlement
from oja.marketplace.ledger.models import StoreSettlement


def order(lines: list[tuple[int, int]], fee: int) -> StoreSettlement:
    """A booked store order: ``lines`` of (line total, commission), ``fee`` borne by the store."""
    return StoreSettlement(
        vendor_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        group_id=uuid.uuid4(),
        currency="NGN",
        total=sum(total for total, _ in lines),
        commission=sum(c for _, c in lines),
        fee=fee,
        lines={f"line-{i}": [total, c] for i, (total, c) in enumerate(lines)},
        refunded=0,
        commission_refunded=0,
        line_refunds={},
    )


def reverse(s: StoreSettlement, wanted: list[tuple[str, int]], amount: int) -> tuple[int, int, int]:
    """Book one reversal of ``amount`` as a refund does; its (store, commission, fee) parts."""
    share_before = settlement.remaining_share(s)
    parts = settlement.refund_parts(s, wanted, amount)
    s.refunded += amount
    s.commission_refunded += parts.commission
    s.line_refunds = parts.line_refunds
    assert share_before - settlement.remaining_share(s) == parts.store_debit
    return parts.store_debit, parts.commission, parts.fee_back


def exact_store(s: StoreSettlement) -> Fraction:
    """The store's proportional part of what was reversed so far, each line at its own rate."""
    taken = Fraction(s.refunded) - Fraction(s.fee * s.refunded, s.total)
    for line_id, (total, c) in s.lines.items():
        taken -= Fraction(c * int(s.line_refunds.get(line_id, 0)), total)
    return taken


def test_the_reported_dispute_freezes_at_most_the_share() -> None:
    # Order 42,359, commission 5,295, fee 635 borne by the store: its share is 36,429. A dispute
    # of 42,358 froze 36,430 (commission and fee rounded down); the store's part is now its
    # proportional share rounded down, the platform parts take the remainder.
    s = order([(42_359, 5_295)], 635)
    share = s.total - s.commission - s.fee
    assert share == 36_429
    assert disputes.at_stake(s, 42_358) == (36_428, 5_295, 635)
    assert reverse(s, settlement.whole_order(s), 42_358) == (36_428, 5_295, 635)
    assert reverse(s, settlement.whole_order(s), 1) == (1, 0, 0)  # the last kobo: exact
    assert settlement.remaining_share(s) == 0
    assert s.commission_refunded == s.commission


def test_a_one_kobo_refund_gives_back_at_most_one_kobo() -> None:
    s = order([(42_359, 5_295)], 635)
    # The fee given back rounds up to 1: the commission part cannot, the store's part is 0.
    assert reverse(s, settlement.whole_order(s), 1) == (0, 0, 1)
    assert reverse(s, settlement.whole_order(s), 1) == (1, 0, 0)
    parts = [reverse(s, settlement.whole_order(s), 1) for _ in range(42_357)]
    assert all(sorted(p) == [0, 0, 1] for p in parts)
    assert s.commission_refunded == s.commission
    assert settlement.remaining_share(s) == 0


def test_many_small_refunds_add_up_to_the_whole() -> None:
    s = order([(2_999, 300), (1_001, 151)], 57)
    parts = [reverse(s, settlement.whole_order(s), 7) for _ in range(4_000 // 7)]
    parts.append(reverse(s, settlement.whole_order(s), 4_000 % 7))
    assert all(min(p) >= 0 and sum(p) in (7, 4_000 % 7) for p in parts)
    assert [sum(column) for column in zip(*parts, strict=True)] == [4_000 - 451 - 57, 451, 57]
    assert s.commission_refunded == 451


def test_per_line_rates_are_respected() -> None:
    # A 50 % line and a 0 % line: refunding the 0 % line gives back no commission.
    s = order([(1_000, 500), (1_000, 0)], 0)
    assert reverse(s, [("line-1", 1_000)], 1_000) == (1_000, 0, 0)
    assert reverse(s, [("line-0", 1_000)], 333) == (166, 167, 0)
    assert reverse(s, [("line-0", 1_000)], 667) == (334, 333, 0)


@st.composite
def orders_and_reversals(draw: st.DrawFn) -> tuple[StoreSettlement, list[tuple[int | None, int]]]:
    totals = draw(st.lists(st.integers(1, 50_000), min_size=1, max_size=4))
    # Up to 95 % commission per line (rounded up), up to 5 % fee: every line keeps something
    # for the store (the premise of the rule, see :mod:`.commission`).
    lines = [(t, min(t, draw(st.integers(0, t * 95 // 100 + 1)))) for t in totals]
    total = sum(totals)
    fee = draw(st.integers(0, total * 5 // 100))
    steps = draw(
        st.lists(
            st.tuples(st.one_of(st.none(), st.integers(0, len(lines) - 1)), st.integers(1, total)),
            max_size=12,
        )
    )
    return order(lines, fee), steps


@hypothesis_settings(max_examples=300, deadline=None)
@given(orders_and_reversals())
def test_every_reversal_is_bounded_and_the_whole_is_exact(
    drawn: tuple[StoreSettlement, list[tuple[int | None, int]]],
) -> None:
    s, steps = drawn
    share = s.total - s.commission - s.fee
    taken = 0
    for line, wish in [*steps, (None, s.total)]:  # the last reversal takes what is left
        wanted = (
            settlement.whole_order(s)
            if line is None
            else [(f"line-{line}", int(s.lines[f"line-{line}"][0]))]
        )
        left = sum(most - int(s.line_refunds.get(line_id, 0)) for line_id, most in wanted)
        amount = min(wish, left)
        if amount <= 0:
            continue
        store, given_back, fee_back = reverse(s, wanted, amount)
        taken += store
        assert min(store, given_back, fee_back) >= 0
        assert store + given_back + fee_back == amount
        exact = exact_store(s)
        assert taken == share - settlement.remaining_share(s)
        assert taken <= exact.numerator // exact.denominator  # at most its share, rounded down
        assert s.commission_refunded <= s.commission
        assert commission.returned_fee(s.fee, s.total, s.refunded) <= s.fee
    assert s.refunded == s.total
    assert s.commission_refunded == s.commission
    assert taken == share
    assert settlement.remaining_share(s) == 0

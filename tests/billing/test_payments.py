"""Paystack payments over the API: initiation, idempotency, refusals, status, refunds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import (
    auth,
    count,
    counts,
    initiate,
    new_user,
    override_settings,
    rows,
)
from tests.conftest import Jobs


async def test_initiate_returns_reference_and_checkout_url_and_stores_pending(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    response = await initiate(client, user, 5000)
    assert response.status_code == 201, response.text
    body = response.json()
    reference = body["reference"]
    assert body["authorization_url"].endswith(
        f"/checkout/{paystack.transactions[reference].access_code}"
    )
    assert (body["amount"], body["currency"], body["status"]) == (5000, "NGN", "pending")
    stored = await rows(
        app, "SELECT status, amount, currency, email, authorization_url FROM payment"
    )
    assert [tuple(r) for r in stored] == [
        ("pending", 5000, "NGN", user["email"], body["authorization_url"])
    ]
    assert paystack.transactions[reference].amount == 5000
    assert paystack.transactions[reference].metadata["user_id"] == user["id"]


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": 0},
        {"amount": -100},
        {"amount": 12.5},
        {"amount": "5000"},
        {"amount": True},
        {},
        {"amount": 5000, "currency": "EUR"},
        {"amount": 5000, "email": "not-an-email"},
        {"amount": 10**12},
    ],
)
async def test_invalid_input_is_400_and_writes_and_calls_nothing(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, payload: dict[str, Any]
) -> None:
    user = await new_user(client)
    response = await client.post("/payments/paystack/initiate", json=payload, headers=auth(user))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    assert await count(app, "payment") == 0
    assert paystack.calls["initialize"] == 0


async def test_same_idempotency_key_returns_the_same_transaction_and_calls_paystack_once(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    first = await initiate(client, user, 7000, **{"Idempotency-Key": "order-1"})
    second = await initiate(client, user, 7000, **{"Idempotency-Key": "order-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert paystack.calls["initialize"] == 1
    assert await count(app, "payment") == 1

    other = await new_user(client)
    theirs = await initiate(client, other, 7000, **{"Idempotency-Key": "order-1"})
    assert theirs.status_code == 201
    assert theirs.json()["reference"] != first.json()["reference"]
    assert paystack.calls["initialize"] == 2

    changed = await initiate(client, user, 9000, **{"Idempotency-Key": "order-1"})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert paystack.calls["initialize"] == 2


async def test_paystack_refusal_is_402_with_its_message_and_no_row(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    paystack.refuse_next_initialize("Merchant may not receive payments at this time")
    response = await initiate(client, user)
    assert response.status_code == 402
    assert response.json()["error"] == {
        "code": "payment_initiation_failed",
        "message": "Merchant may not receive payments at this time",
        "details": {"provider": "paystack"},
    }
    assert await count(app, "payment") == 0


async def test_paystack_server_error_and_unreachable_are_502_and_no_row(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    paystack.fail_next()
    failed = await initiate(client, user)
    assert failed.status_code == 502
    override_settings(app, paystack_base_url="http://127.0.0.1:9")  # discard port: nothing listens
    unreachable = await initiate(client, user)
    assert unreachable.status_code == 502
    assert unreachable.json()["error"]["code"] == "provider_unavailable"
    assert await count(app, "payment") == 0


async def test_missing_secret_key_is_a_clear_503(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    override_settings(app, paystack_secret_key=None)
    response = await initiate(client, user)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_configured"
    assert "OJA_PAYSTACK_SECRET_KEY" in response.json()["error"]["message"]
    assert await count(app, "payment") == 0


async def test_wrong_secret_key_is_not_blamed_on_the_payer(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    override_settings(app, paystack_secret_key="sk_test_wrong")
    response = await initiate(client, user)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_error"
    assert await count(app, "payment") == 0


async def test_status_is_owner_only_and_refresh_verifies_with_paystack(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    reference = (await initiate(client, user, 5000)).json()["reference"]
    stored = await client.get(f"/payments/{reference}/status", headers=auth(user))
    assert stored.status_code == 200
    assert stored.json() == {
        "reference": reference,
        "status": "pending",
        "provider_status": "pending",
        "amount": 5000,
        "currency": "NGN",
        "paid_at": None,
        "amount_refunded": 0,
        "flag": None,
    }
    assert paystack.calls["verify"] == 0

    stranger = await new_user(client)
    hidden = await client.get(f"/payments/{reference}/status", headers=auth(stranger))
    assert hidden.status_code == 404
    unknown = await client.get("/payments/oja_nothing/status", headers=auth(user))
    assert unknown.status_code == 404

    paystack.settle(reference, "success")
    refreshed = await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert refreshed.status_code == 200
    assert refreshed.json()["status"] == "success"
    assert refreshed.json()["paid_at"] is not None
    assert paystack.calls["verify"] == 1
    assert await count(app, "ledger_entry") == 1
    again = await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert again.json()["status"] == "success"
    assert await count(app, "ledger_entry") == 1


async def test_refresh_with_a_different_amount_flags_and_does_not_credit(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    reference = (await initiate(client, user, 5000)).json()["reference"]
    paystack.settle(reference, "success")
    paystack.misreport_next_verify(500)
    response = await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    assert response.json()["status"] == "pending"
    assert response.json()["flag"] == "amount_mismatch"
    assert await count(app, "ledger_entry") == 0


async def paid(
    client: httpx.AsyncClient, paystack: PaystackFake, amount: int = 10_000
) -> tuple[dict[str, str], str]:
    user = await new_user(client)
    reference = (await initiate(client, user, amount)).json()["reference"]
    paystack.settle(reference, "success")
    await client.get(f"/payments/{reference}/status?refresh=true", headers=auth(user))
    return user, reference


async def test_partial_then_full_refund_never_exceeds_what_was_paid(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake, jobs: Jobs
) -> None:
    user, reference = await paid(client, paystack)
    partial = await client.post(
        f"/payments/{reference}/refund",
        json={"amount": 3000},
        headers=auth(user, **{"Idempotency-Key": "r1"}),
    )
    assert partial.status_code == 201, partial.text
    assert (partial.json()["amount"], partial.json()["amount_refunded"]) == (3000, 3000)
    replay = await client.post(
        f"/payments/{reference}/refund",
        json={"amount": 3000},
        headers=auth(user, **{"Idempotency-Key": "r1"}),
    )
    assert replay.json()["id"] == partial.json()["id"]
    assert paystack.calls["refund"] == 1

    too_much = await client.post(
        f"/payments/{reference}/refund", json={"amount": 7001}, headers=auth(user)
    )
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "refund_not_allowed"
    assert paystack.calls["refund"] == 1

    rest = await client.post(f"/payments/{reference}/refund", headers=auth(user))
    assert rest.status_code == 201
    assert (rest.json()["amount"], rest.json()["amount_refunded"]) == (7000, 10_000)
    assert paystack.transactions[reference].refunded == 10_000
    nothing_left = await client.post(f"/payments/{reference}/refund", headers=auth(user))
    assert nothing_left.status_code == 409
    assert await count(app, "refund") == 2


async def test_refund_of_unpaid_or_foreign_payment_is_refused(
    client: httpx.AsyncClient, app: Any, paystack: PaystackFake
) -> None:
    user = await new_user(client)
    reference = (await initiate(client, user)).json()["reference"]
    unpaid = await client.post(f"/payments/{reference}/refund", headers=auth(user))
    assert unpaid.status_code == 409
    stranger = await new_user(client)
    foreign = await client.post(f"/payments/{reference}/refund", headers=auth(stranger))
    assert foreign.status_code == 404
    assert (await counts(app))["refund"] == 0
    assert paystack.calls["refund"] == 0


async def test_routes_need_a_user(client: httpx.AsyncClient) -> None:
    response = await client.post("/payments/paystack/initiate", json={"amount": 5000})
    assert response.status_code == 401

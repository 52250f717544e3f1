"""Clients written from the seed documents work unchanged (issue 14, part 2).

Each test is a client that knows only its seed: seed 000 task 3 (signup, login, ``/keys/create``
by name), seed 001 (OTP login by mobile number, change-password, consistent JSON) and the spellings
such clients send (``phone``, ``full_name``, ``old_password``). Google's profile updates are tested
beside the other Google tests; "not configured" is tested here across modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.billing.config import BillingSettings, use_billing_settings
from oja.core.ai.config import get_ai_settings
from oja.identity.config import GoogleSettings, IdentitySettings, get_google_settings
from oja.identity.config import _load as load_identity_settings
from oja.rag.config import get_rag_settings
from tests.identity.mfa.test_mfa import enable_mfa

from .conftest import PASSWORD, bearer, count_rows, user_with_token
from .support import install_clock, totp_now

INDIAN_MOBILE = "8877445566"  # ten digits, no country code: what a seed-001 client sends
READ_SCOPES = ["documents:read", "examples:read", "files:read", "payments:read"]


@pytest.fixture
def phone_regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set OJA_PHONE_DEFAULT_REGIONS for one test (validators read the process-wide settings)."""

    def use(regions: str) -> None:
        monkeypatch.setenv("OJA_PHONE_DEFAULT_REGIONS", regions)
        load_identity_settings.cache_clear()

    yield use
    monkeypatch.undo()
    load_identity_settings.cache_clear()


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get("/user/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


# Seed 000 task 3: API keys by name alone


async def test_a_key_created_by_name_alone_gets_the_read_scopes(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    created = await client.post(
        "/keys/create", json={"name": "svc"}, headers=bearer(pair["access_token"])
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["name"] == "svc"
    assert key["scopes"] == READ_SCOPES
    assert key["status"] == "active"
    service = await client.get("/examples/service-only", headers={"X-API-Key": key["key"]})
    assert service.status_code == 200
    assert service.json()["scopes"] == READ_SCOPES
    # Reading, never writing: the defaulted key cannot upload.
    upload = await client.post(
        "/upload",
        files={"file": ("a.txt", b"hello", "text/plain")},
        headers={"X-API-Key": key["key"]},
    )
    assert upload.status_code == 403
    assert upload.json()["error"]["code"] == "insufficient_scope"
    assert await count_rows(app, "file") == 0


async def test_an_empty_scope_list_is_still_refused(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    response = await client.post(
        "/keys/create", json={"name": "svc", "scopes": []}, headers=bearer(pair["access_token"])
    )
    assert response.status_code == 422
    assert await count_rows(app, "api_key") == 0


def test_openapi_names_the_default_scopes(app: Any) -> None:
    scopes = app.openapi()["components"]["schemas"]["ApiKeyCreate"]["properties"]["scopes"]
    assert scopes["default"] == READ_SCOPES
    assert "Omitted: the read scopes" in scopes["description"]
    assert "scopes" not in app.openapi()["components"]["schemas"]["ApiKeyCreate"]["required"]


# Seed 001: JSON answers, mobile numbers from anywhere, the user beside the tokens


async def test_change_password_answers_json_with_old_password(
    client: httpx.AsyncClient, app: Any
) -> None:
    user, pair = await user_with_token(client)
    email = user["email"]
    other = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    changed = await client.post(
        "/auth/change-password",
        json={"old_password": PASSWORD, "new_password": "a brand new password"},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 200
    assert changed.headers["content-type"] == "application/json"
    assert changed.json() == {"message": "Password changed.", "sessions_revoked": 1}
    # The sessions semantics are unchanged: this one stays, the other is signed out.
    await me(client, pair["access_token"])
    gone = await client.get("/user/me", headers=bearer(other.json()["access_token"]))
    assert gone.json()["error"]["code"] == "session_revoked"
    old = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401


async def test_a_wrong_old_password_changes_nothing(client: httpx.AsyncClient) -> None:
    user, pair = await user_with_token(client)
    email = user["email"]
    refused = await client.post(
        "/auth/change-password",
        json={"old_password": "not the password", "new_password": "a brand new password"},
        headers=bearer(pair["access_token"]),
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_credentials"
    still = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert still.status_code == 200


async def test_otp_login_with_a_ten_digit_indian_mobile(
    client: httpx.AsyncClient, app: Any
) -> None:
    sent = await client.post("/auth/send-otp", json={"mobile_number": INDIAN_MOBILE})
    assert sent.status_code == 200, sent.text
    verified = await client.post(
        "/auth/verify-otp", json={"phone": INDIAN_MOBILE, "otp": sent.json()["otp"]}
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["user"]["mobile"] == "+918877445566"
    assert body["user"]["mobile_verified"] is True
    assert body["user"] == await me(client, body["access_token"])
    assert await count_rows(app, "user") == 1


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("+447911123456", "+447911123456"),  # E.164 from anywhere
        ("+5511987654321", "+5511987654321"),
        ("0803 123 4567", "+2348031234567"),  # Nigerian national format, as before
        ("2025550123", "+12025550123"),  # valid in none of NG and IN, so US
    ],
)
async def test_numbers_are_stored_in_e164(
    client: httpx.AsyncClient, given: str, stored: str
) -> None:
    response = await client.post("/auth/signup", json={"phone_number": given, "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert response.json()["mobile"] == stored


async def test_regions_are_tried_in_the_configured_order(
    client: httpx.AsyncClient, phone_regions: Any
) -> None:
    # 9012345678 is a mobile number in Nigeria and in India: the first region listed wins.
    first = await client.post("/auth/send-otp", json={"mobile": "9012345678"})
    assert first.status_code == 200
    otp = first.json()["otp"]
    assert (
        await client.post("/auth/verify-otp", json={"mobile": "+2349012345678", "otp": otp})
    ).status_code == 200
    phone_regions("IN,NG")
    second = await client.post("/auth/signup", json={"mobile": "9012345678", "password": PASSWORD})
    assert second.status_code == 201
    assert second.json()["mobile"] == "+919012345678"


async def test_a_number_valid_in_no_configured_region_is_refused(
    client: httpx.AsyncClient, app: Any, phone_regions: Any
) -> None:
    phone_regions("NG")
    response = await client.post("/auth/send-otp", json={"mobile": INDIAN_MOBILE})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert await count_rows(app, "otp_code") == 0


def test_unknown_regions_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="XX"):
        IdentitySettings(phone_default_regions="NG,XX")
    assert IdentitySettings(phone_default_regions=" ng , in ").phone_regions == ("NG", "IN")


async def test_seed_spellings_are_accepted_as_aliases(client: httpx.AsyncClient) -> None:
    signed_up = await client.post(
        "/auth/signup",
        json={"phone_number": INDIAN_MOBILE, "full_name": "Ada Obi", "password": PASSWORD},
    )
    assert signed_up.status_code == 201, signed_up.text
    assert signed_up.json()["mobile"] == "+918877445566"
    assert signed_up.json()["name"] == "Ada Obi"
    logged_in = await client.post(
        "/auth/login", json={"phone": INDIAN_MOBILE, "password": PASSWORD}
    )
    assert logged_in.status_code == 200, logged_in.text
    forgot = await client.post("/auth/forgot-password", json={"mobile_number": INDIAN_MOBILE})
    assert forgot.status_code == 200
    reset = await client.post(
        "/auth/reset-password",
        json={
            "phone_number": INDIAN_MOBILE,
            "otp": forgot.json()["otp"],
            "new_password": "a brand new password",
        },
    )
    assert reset.status_code == 200, reset.text
    again = await client.post(
        "/auth/login", json={"mobile_number": INDIAN_MOBILE, "password": "a brand new password"}
    )
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/signup", {"mobile": "+2348031234567", "phone": "+2348031234568"}),
        ("/auth/signup", {"email": "a@example.com", "name": "A", "full_name": "B"}),
        ("/auth/send-otp", {"mobile": "+2348031234567", "phone_number": "+2348031234567"}),
    ],
)
async def test_one_field_under_two_spellings_is_refused(
    client: httpx.AsyncClient, app: Any, path: str, body: dict[str, str]
) -> None:
    response = await client.post(path, json={**body, "password": PASSWORD})
    assert response.status_code == 422
    assert "once" in response.json()["error"]["details"][0]["msg"]
    assert await count_rows(app, "user") == 0
    assert await count_rows(app, "otp_code") == 0


def test_openapi_shows_ojas_own_names(app: Any) -> None:
    schemas = dict(app.openapi()["components"]["schemas"])  # a copy: the document is cached
    login = app.openapi()["paths"]["/auth/login"]["post"]["requestBody"]["content"]
    schemas["LoginRequest"] = login["application/json"]["schema"]
    spellings = {"mobile_number", "phone", "phone_number", "full_name", "old_password"}
    for name in (
        "SignupRequest",
        "LoginRequest",
        "SendOtpRequest",
        "VerifyOtpRequest",
        "ForgotPasswordRequest",
        "ResetPasswordRequest",
        "PhoneVerificationRequest",
        "ChangePasswordRequest",
    ):
        assert not spellings & set(schemas[name]["properties"]), name
    assert "mobile" in schemas["SendOtpRequest"]["properties"]
    assert "mobile" in schemas["LoginRequest"]["properties"]
    assert "name" in schemas["SignupRequest"]["properties"]
    assert "current_password" in schemas["ChangePasswordRequest"]["properties"]


async def test_password_login_answers_the_user_as_json_and_as_a_form(
    client: httpx.AsyncClient,
) -> None:
    user, pair = await user_with_token(client)
    email = user["email"]
    assert pair["user"] == await me(client, pair["access_token"])
    assert pair["user"]["email"] == email
    form = await client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert form.status_code == 200
    assert form.json()["user"] == await me(client, form.json()["access_token"])
    # A refresh renews tokens only; the user is not part of its answer.
    renewed = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert "user" not in renewed.json()


async def test_the_mfa_step_answers_the_user_and_the_challenge_does_not(
    client: httpx.AsyncClient, app: Any
) -> None:
    clock = install_clock(app)
    user, secret, _ = await enable_mfa(client, app, clock)
    challenge = await client.post(
        "/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert set(challenge.json()) == {"mfa_required", "mfa_token", "expires_in"}
    done = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": challenge.json()["mfa_token"], "code": totp_now(secret, clock.now)},
    )
    assert done.status_code == 200, done.text
    assert done.json()["user"] == await me(client, done.json()["access_token"])
    assert done.json()["user"]["id"] == user["id"]


# Every module: one answer for "not configured"


@pytest.fixture
def nothing_configured(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    app.dependency_overrides[get_google_settings] = lambda: GoogleSettings(
        google_client_id=None, google_client_secret=None
    )
    use_billing_settings(
        BillingSettings(paystack_secret_key=None, stripe_secret_key=None, stripe_pro_price_id=None)
    )
    monkeypatch.setenv("OJA_EMBEDDING_PROVIDER", "openrouter")
    monkeypatch.delenv("OJA_OPENROUTER_API_KEY", raising=False)
    get_rag_settings.cache_clear()
    get_ai_settings.cache_clear()
    yield
    use_billing_settings(None)
    monkeypatch.undo()
    get_rag_settings.cache_clear()
    get_ai_settings.cache_clear()


async def test_every_module_answers_not_configured_alike(
    client: httpx.AsyncClient, app: Any, nothing_configured: None
) -> None:
    _, pair = await user_with_token(client)
    headers = bearer(pair["access_token"])
    answers = {
        "google": await client.get("/auth/google"),
        "paystack": await client.post(
            "/payments/paystack/initiate", json={"amount": 5000}, headers=headers
        ),
        "stripe": await client.post("/subscribe/pro", headers=headers),
        "openrouter": await client.post("/query", json={"question": "Who?"}, headers=headers),
    }
    expected = {
        "google": ["OJA_GOOGLE_CLIENT_ID", "OJA_GOOGLE_CLIENT_SECRET"],
        "paystack": ["OJA_PAYSTACK_SECRET_KEY"],
        "stripe": ["OJA_STRIPE_PRO_PRICE_ID"],
        "openrouter": ["OJA_OPENROUTER_API_KEY"],
    }
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == "not_configured", name
        assert error["details"]["settings"] == expected[name], name
        assert all(setting in error["message"] for setting in expected[name]), name
        assert "retry-after" not in response.headers, name
    features = {name: r.json()["error"]["details"]["feature"] for name, r in answers.items()}
    assert features == {
        "google": "google_sign_in",
        "paystack": "paystack",
        "stripe": "stripe",
        "openrouter": "openrouter",
    }
    assert await count_rows(app, "payment") == 0
    assert await count_rows(app, "oauth_state") == 0

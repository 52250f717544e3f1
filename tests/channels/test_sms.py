from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import structlog

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.sms import ConsoleSms, ConsoleSmsMessage, TermiiSms, create_sms_sender
from oja.core.config import UnsafeSettingsError
from oja.sandbox.server import SandboxServer
from oja.sandbox.sms import DEFAULT_API_KEY, ReceivedSms, TermiiFake
from tests.fakes import serving


@pytest.fixture
def termii() -> Iterator[tuple[TermiiFake, str]]:
    yield from serving(TermiiFake(balance=10, user="Oja Tests"))


async def test_termii_delivers_exactly_the_message(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii
    sender = TermiiSms(api_key=DEFAULT_API_KEY, sender_id="OjaTest", base_url=url)
    try:
        receipt = await sender.send("+2348012345678", "Your Oja code is 482913")
    finally:
        await sender.aclose()

    [received] = fake.messages
    assert received == ReceivedSms(
        message_id=received.message_id,
        to="2348012345678",
        sender="OjaTest",
        text="Your Oja code is 482913",
        type="plain",
        channel="generic",
        received_at=received.received_at,
    )
    assert received.message_id.isdigit()
    assert (receipt.provider, receipt.recipient, receipt.message_id) == (
        "termii",
        "+2348012345678",
        received.message_id,
    )
    assert fake.balance == 9


async def test_termii_wrong_key_is_delivery_failed_with_provider_message(
    termii: tuple[TermiiFake, str],
) -> None:
    fake, url = termii
    sender = TermiiSms(api_key="not-the-key", sender_id="OjaTest", base_url=url)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hello")
    await sender.aclose()

    error = caught.value
    assert error.provider == "termii"
    assert error.provider_message == "Unauthorized: invalid API key"
    assert error.provider_status == 401
    assert error.retryable is False
    assert error.status_code == 502
    assert error.code == "delivery_failed"
    assert error.message == "termii did not accept the message: Unauthorized: invalid API key"
    assert fake.messages == []
    assert fake.balance == 10


async def test_termii_server_error_is_retryable(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii
    fake.fail_next(503, "Service temporarily unavailable")
    sender = TermiiSms(api_key=DEFAULT_API_KEY, sender_id="OjaTest", base_url=url)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hello")
    receipt = await sender.send("+2348012345678", "hello again")
    await sender.aclose()

    assert caught.value.provider_message == "Service temporarily unavailable"
    assert caught.value.provider_status == 503
    assert caught.value.retryable is True
    assert [m.text for m in fake.messages] == ["hello again"]
    assert receipt.message_id == fake.messages[0].message_id


async def test_termii_rejected_sender_id_is_not_retryable(termii: tuple[TermiiFake, str]) -> None:
    fake, url = termii
    sender = TermiiSms(api_key=DEFAULT_API_KEY, sender_id="AB", base_url=url)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hello")
    await sender.aclose()

    assert (caught.value.provider_status, caught.value.provider_message) == (
        400,
        "Invalid Sender Id",
    )
    assert caught.value.retryable is False
    assert fake.messages == []


async def test_termii_unreachable_is_retryable() -> None:
    with SandboxServer(TermiiFake().app) as server:
        url = server.url  # the port is free again once the server stopped
    sender = TermiiSms(api_key=DEFAULT_API_KEY, sender_id="OjaTest", base_url=url)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hello")
    await sender.aclose()

    assert caught.value.provider_message == "unreachable (ConnectError)"
    assert caught.value.provider_status is None
    assert caught.value.retryable is True


async def test_termii_timeout_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sender = TermiiSms(
        api_key=DEFAULT_API_KEY, sender_id="OjaTest", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hello")
    await sender.aclose()

    assert (caught.value.provider_message, caught.value.retryable) == ("timed out", True)


async def test_termii_posts_the_documented_body_to_the_configured_base() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message_id": "9122821270554876574", "message": "ok"})

    settings = ChannelSettings(
        sms_provider="termii",
        sms_api_key="key-123",
        sms_sender_id="Oja",
        sms_base_url="https://termii.test/",
        sms_channel="dnd",
    )
    sender = create_sms_sender(settings, transport=httpx.MockTransport(handler))
    receipt = await sender.send("+2348012345678", "hi")
    await sender.aclose()

    assert isinstance(sender, TermiiSms)
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "https://termii.test/api/sms/send")
    assert request.headers["content-type"] == "application/json"
    assert httpx.Response(200, content=request.content).json() == {
        "to": "2348012345678",
        "from": "Oja",
        "sms": "hi",
        "type": "plain",
        "channel": "dnd",
        "api_key": "key-123",
    }
    assert receipt.message_id == "9122821270554876574"


async def test_termii_success_without_message_id_is_delivery_failed() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, json={"code": "fail", "message": "Country inactive"})
    )
    sender = TermiiSms(api_key="k", sender_id="Oja", transport=transport)
    with pytest.raises(DeliveryFailed) as caught:
        await sender.send("+2348012345678", "hi")
    await sender.aclose()

    assert (caught.value.provider_message, caught.value.provider_status) == (
        "Country inactive",
        200,
    )


async def test_console_sms_logs_and_keeps_the_last_messages() -> None:
    sender = ConsoleSms(keep=2)
    with structlog.testing.capture_logs() as logs:
        first = await sender.send("+2348000000001", "one")
        await sender.send("+2348000000002", "two")
        third = await sender.send("+2348000000003", "three")

    assert [(m.to, m.text) for m in sender.messages] == [
        ("+2348000000002", "two"),
        ("+2348000000003", "three"),
    ]
    assert sender.messages[-1] == ConsoleSmsMessage(
        "+2348000000003", "three", third.message_id or ""
    )
    assert first.provider == "console"
    assert logs[0] == {
        "event": "notifications.sms.console",
        "log_level": "info",
        "to": "+2348000000001",
        "text": "one",
        "message_id": first.message_id,
    }
    assert len(logs) == 3


def test_factory_picks_console_by_default_and_refuses_it_in_production() -> None:
    settings = ChannelSettings(sms_provider="console")
    assert isinstance(create_sms_sender(settings), ConsoleSms)
    with pytest.raises(UnsafeSettingsError, match="OJA_SMS_PROVIDER must not be 'console'"):
        create_sms_sender(settings, production=True)


def test_factory_requires_a_termii_key() -> None:
    settings = ChannelSettings(sms_provider="termii", sms_api_key=None)
    with pytest.raises(UnsafeSettingsError, match="OJA_SMS_API_KEY must be set"):
        create_sms_sender(settings)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OJA_SMS_PROVIDER", "termii")
    monkeypatch.setenv("OJA_SMS_API_KEY", "from-env")
    monkeypatch.setenv("OJA_EMAIL_PROVIDER", "smtp")
    monkeypatch.setenv("OJA_SMTP_USE_TLS", "false")

    settings = ChannelSettings()

    assert settings.sms_provider == "termii"
    assert settings.sms_api_key is not None
    assert settings.sms_api_key.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)
    assert settings.smtp_use_tls is False
    assert settings.production_problems() == []
    assert ChannelSettings(
        sms_provider="console", email_provider="console"
    ).production_problems() == [
        "OJA_SMS_PROVIDER must not be 'console' in production",
        "OJA_EMAIL_PROVIDER must not be 'console' in production",
    ]

"""The SendGrid and Twilio adapters against their sandbox fakes, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from oja.channels.config import ChannelSettings
from oja.channels.errors import DeliveryFailed
from oja.channels.mail import SendGridEmail, create_email_sender
from oja.channels.sms import TwilioSms, create_sms_sender
from oja.core.config import UnsafeSettingsError
from oja.sandbox.sendgrid import SendGridFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.twilio import DEFAULT_FROM, TwilioFake


@pytest.fixture(scope="module")
def sendgrid() -> Iterator[tuple[SendGridFake, str]]:
    fake = SendGridFake()
    with SandboxServer(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def twilio() -> Iterator[tuple[TwilioFake, str]]:
    fake = TwilioFake()
    with SandboxServer(fake.app) as server:
        yield fake, server.url


def _mailer(sendgrid: tuple[SendGridFake, str], key: str | None = None) -> SendGridEmail:
    fake, url = sendgrid
    fake.reset()
    return SendGridEmail(api_key=key or fake.api_key, sender="Oja <no-reply@oja.ng>", base_url=url)


def _texter(
    twilio: tuple[TwilioFake, str], token: str | None = None, sender: str = DEFAULT_FROM
) -> TwilioSms:
    fake, url = twilio
    fake.reset()
    return TwilioSms(
        account_sid=fake.account_sid,
        auth_token=token or fake.auth_token,
        sender=sender,
        base_url=url,
        status_callback="https://oja.example/notifications/callbacks/twilio",
    )


async def test_sendgrid_accepts_a_message_and_returns_its_id(
    sendgrid: tuple[SendGridFake, str],
) -> None:
    mailer = _mailer(sendgrid)
    receipt = await mailer.send("ada@example.com", "Hi", "Plain", "<p>Plain</p>", reference="ref-1")
    await mailer.aclose()
    [mail] = sendgrid[0].messages
    assert (receipt.provider, receipt.recipient, receipt.message_id) == (
        "sendgrid",
        "ada@example.com",
        mail.message_id,
    )
    assert (mail.sender, mail.subject, mail.text, mail.html) == (
        "no-reply@oja.ng",
        "Hi",
        "Plain",
        "<p>Plain</p>",
    )
    assert mail.custom_args == {"oja_reference": "ref-1"}


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (400, False), (413, False)]
)
async def test_sendgrid_refusals_say_whether_to_retry(
    sendgrid: tuple[SendGridFake, str], status: int, retryable: bool
) -> None:
    mailer = _mailer(sendgrid)
    sendgrid[0].fail_next(status=status, message="refused here")
    with pytest.raises(DeliveryFailed) as caught:
        await mailer.send("ada@example.com", "Hi", "Plain")
    await mailer.aclose()
    assert (caught.value.provider_status, caught.value.retryable) == (status, retryable)
    assert caught.value.provider_message == "refused here"
    assert caught.value.maybe_sent is False
    assert sendgrid[0].messages == []


async def test_sendgrid_refuses_a_wrong_key(sendgrid: tuple[SendGridFake, str]) -> None:
    mailer = _mailer(sendgrid, key="SG.wrong")
    with pytest.raises(DeliveryFailed) as caught:
        await mailer.send("ada@example.com", "Hi", "Plain")
    await mailer.aclose()
    assert (caught.value.provider_status, caught.value.retryable) == (401, False)
    assert "authorization grant is invalid" in caught.value.provider_message


async def test_twilio_creates_a_message(twilio: tuple[TwilioFake, str]) -> None:
    texter = _texter(twilio)
    receipt = await texter.send("+2348012345678", "Your order shipped")
    await texter.aclose()
    [message] = twilio[0].messages
    assert (receipt.provider, receipt.message_id) == ("twilio", message.sid)
    assert message.sid.startswith("SM")
    assert (message.to, message.sender, message.body, message.status) == (
        "+2348012345678",
        DEFAULT_FROM,
        "Your order shipped",
        "queued",
    )
    assert message.status_callback == "https://oja.example/notifications/callbacks/twilio"


async def test_twilio_sends_through_a_messaging_service(twilio: tuple[TwilioFake, str]) -> None:
    texter = _texter(twilio, sender="MG0123456789abcdef0123456789abcdef")
    await texter.send("+2348012345678", "Hello")
    await texter.aclose()
    assert twilio[0].messages[0].sender == "MG0123456789abcdef0123456789abcdef"


async def test_twilio_refusals_carry_its_error_code(twilio: tuple[TwilioFake, str]) -> None:
    texter = _texter(twilio)
    with pytest.raises(DeliveryFailed) as caught:
        await texter.send("08012345678", "Hello")
    assert (caught.value.provider_status, caught.value.retryable) == (400, False)
    assert caught.value.provider_message.startswith("21211: ")
    twilio[0].fail_next(status=503)
    with pytest.raises(DeliveryFailed) as busy:
        await texter.send("+2348012345678", "Hello")
    assert (busy.value.provider_status, busy.value.retryable) == (503, True)
    await texter.aclose()
    wrong = _texter(twilio, token="wrong")
    with pytest.raises(DeliveryFailed) as denied:
        await wrong.send("+2348012345678", "Hello")
    await wrong.aclose()
    assert (denied.value.provider_status, denied.value.provider_message) == (
        401,
        "20003: Authenticate",
    )
    assert twilio[0].messages == []


async def test_a_timeout_may_have_sent_and_a_refused_connection_has_not() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, maybe_sent in ((timeout, True), (refused, False)):
        texter = TwilioSms(
            account_sid="AC1",
            auth_token="t",
            sender=DEFAULT_FROM,
            transport=httpx.MockTransport(handler),
        )
        with pytest.raises(DeliveryFailed) as caught:
            await texter.send("+2348012345678", "Hello")
        await texter.aclose()
        assert (caught.value.retryable, caught.value.maybe_sent) == (True, maybe_sent)


def test_the_factories_need_the_providers_credentials() -> None:
    with pytest.raises(UnsafeSettingsError, match="OJA_SENDGRID_API_KEY"):
        create_email_sender(ChannelSettings(email_provider="sendgrid"))
    with pytest.raises(UnsafeSettingsError, match="OJA_TWILIO_ACCOUNT_SID"):
        create_sms_sender(ChannelSettings(sms_provider="twilio", twilio_account_sid="AC1"))
    settings = ChannelSettings(
        sms_provider="twilio",
        twilio_account_sid="AC1",
        twilio_auth_token=SecretStr("t"),
        twilio_from=DEFAULT_FROM,
        email_provider="sendgrid",
        sendgrid_api_key=SecretStr("SG.x"),
    )
    assert isinstance(create_sms_sender(settings), TwilioSms)
    assert isinstance(create_email_sender(settings), SendGridEmail)

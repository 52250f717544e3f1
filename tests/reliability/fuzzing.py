"""Schemathesis over every operation of the app's OpenAPI document, as three principals.

For each operation, ``OJA_FUZZ_EXAMPLES`` cases (50 in CI, 300 under ``OJA_SOAK=1``), half valid by
the schema and half invalid, are sent to Oja under uvicorn on 127.0.0.1 (the app in a thread of
this process, with the sandbox fakes of Paystack, Stripe and Google over real HTTP). Checks:

* ``not_a_server_error`` — no 5xx, ever;
* ``response_schema_conformance`` — every documented response body matches its schema;
* ``negative_data_rejection`` — data that breaks the schema is refused with a 4xx.

An operation the app serves that was not exercised fails the run, unless it is in ``NOT_FUZZED``
with a reason. Failures print a curl reproducer per operation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance
from schemathesis.transport.requests import ManagedCookiesSession

from oja.core.db import Database, unit_of_work
from oja.identity import service as identity_service
from oja.identity.config import IdentitySettings, get_identity_settings
from oja.identity.passwords import get_passwords
from oja.identity.scopes import SCOPES
from oja.sandbox.server import SandboxServer
from tests.conftest import make_settings
from tests.reliability import harness
from tests.reliability.conftest import DroppedJobs

EXAMPLES = harness.env_int("OJA_FUZZ_EXAMPLES", ci=50, soak=300)
# One file fuzzes ~200 operations (~8,600 cases): 4–6 minutes with the other workers' files beside
# it, over pytest-timeout's default 300 s. The timeout then fired inside a Hypothesis run, which
# replayed the case, passed, and reported the operation it happened to be on as "flaky".
TIMEOUT_S = 1500
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]
# In a multipart form every field is text on the wire: a "negative" integer title is the string
# "443", and a field sent twice is read once. Schemathesis counts their acceptance as a failure;
# for multipart operations negative cases are checked for server errors and schemas only.
MULTIPART_NEGATIVE_CHECKS = [not_a_server_error, response_schema_conformance]
# A body over the JSON limit (1 MiB) is refused with 413 before it is parsed: a rejection like a 422.
# Schemathesis's default list lacks 413; it generated a 1.6 MB array for the AliExpress category map.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
            }
        }
    }
)

# Every operation is fuzzed; an entry here would need a reason (none needed today: the Google
# callback runs against the sandbox's Google fake, the webhooks against their signature checks).
NOT_FUZZED: dict[tuple[str, str], str] = {}

# Not the password of the schema's examples (which the fuzzer sends, and which would change it).
FUZZ_PASSWORD = "fuzzing is not a password 7"  # noqa: S105

# Routes that end the caller's session: each of their cases gets a fresh login.
SESSION_ENDING = {("POST", "/auth/logout"), ("POST", "/auth/change-password")}


@dataclass
class Served:
    url: str
    app: Any
    database_url: str
    user: harness.Person
    admin: harness.Person
    key: dict[str, str]
    # One client for the harness's own logins and session checks: ``httpx.post`` builds a client,
    # and with it an SSL context from certifi's bundle, per call (24 ms of CPU measured, ~500 times a file).
    client: httpx.Client


@dataclass
class Outcome:
    cases: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


def _login(client: httpx.Client, email: str) -> str:
    response = client.post("/auth/login", json={"email": email, "password": FUZZ_PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _setup(
    client: httpx.Client, database_url: str
) -> tuple[harness.Person, harness.Person, dict[str, str]]:
    email = harness.unique_email("fuzz")
    created = client.post("/auth/signup", json={"email": email, "password": FUZZ_PASSWORD})
    assert created.status_code == 201, created.text
    user = harness.Person(created.json()["id"], email, _login(client, email))

    admin_email = harness.unique_email("fuzz-admin")

    async def make_admin() -> str:
        database = Database(database_url)
        try:
            async with unit_of_work(database) as db:
                made = await identity_service.create_admin(
                    db,
                    email=admin_email,
                    password=FUZZ_PASSWORD,
                    passwords=get_passwords(get_identity_settings()),
                )
            return str(made.id)
        finally:
            await database.dispose()

    admin = harness.Person(asyncio.run(make_admin()), admin_email, _login(client, admin_email))
    key = client.post(
        "/keys/create", json={"name": "fuzz", "scopes": sorted(SCOPES)}, headers=user.headers
    )
    assert key.status_code == 201, key.text
    return user, admin, {"X-API-Key": key.json()["key"]}


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: each harness request stands alone, as with a client per call."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@contextmanager
def serve(tmp_path: Path, database_url: str, fakes: harness.Fakes) -> Iterator[Served]:
    """Oja under uvicorn on 127.0.0.1 with the fakes installed, a user, an admin and a key."""
    from oja.main import create_app

    settings = make_settings(tmp_path, database_url, log_level="WARNING")
    app = create_app(settings, publisher=DroppedJobs())
    fakes.install(app)
    # The fuzzer's random logins would lock the test's own client address out of logging in.
    lenient = IdentitySettings(login_max_failures=1_000_000)
    app.dependency_overrides[get_identity_settings] = lambda: lenient
    try:
        with (
            SandboxServer(app) as server,
            httpx.Client(base_url=server.url, timeout=30, cookies=_no_cookies()) as client,
        ):
            user, admin, key = _setup(client, database_url)
            yield Served(server.url, app, database_url, user, admin, key, client)
    finally:
        fakes.uninstall(app)


def _headers_for(principal: str, served: Served) -> Callable[[tuple[str, str]], dict[str, str]]:
    def headers(operation: tuple[str, str]) -> dict[str, str]:
        if principal == "key":
            return served.key
        person = served.admin if principal == "admin" else served.user
        if operation in SESSION_ENDING:
            return {"Authorization": f"Bearer {_login(served.client, person.email)}"}
        return person.headers

    return headers


def _refresh_sessions(served: Served, after: tuple[str, str]) -> None:
    """A fuzzed logout may have ended a session: log in again if so. The password must still
    be the one set up (no fuzzed request may change it without the current one)."""
    for person in (served.user, served.admin):
        me = served.client.get("/user/me", headers=person.headers)
        if me.status_code == 401:
            response = served.client.post(
                "/auth/login", json={"email": person.email, "password": FUZZ_PASSWORD}
            )
            assert response.status_code == 200, f"after {after}: {response.text}"
            person.token = str(response.json()["access_token"])


def _hypothesis_test(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    key: tuple[str, str],
    served: Served,
    headers: Callable[[tuple[str, str]], dict[str, str]],
    outcome: Outcome,
    session: requests.Session,
) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        outcome.cases[key] += 1
        try:
            response = _call(case, served.url, headers(key), session)
        except Exception as exc:  # a hang (timeout) is a finding: say what it was, not "flaky"
            outcome.failures.setdefault(key, f"{exc!r}\nreproduce: {case.as_curl_command()}"[:4000])
            raise
        checks = CHECKS
        if mode is GenerationMode.NEGATIVE and case.media_type == "multipart/form-data":
            checks = MULTIPART_NEGATIVE_CHECKS
        try:
            case.validate_response(response, checks=checks)
        except Exception as exc:
            outcome.failures.setdefault(key, f"{exc}\nreproduce: {case.as_curl_command()}"[:4000])
            raise

    return run


def _call(case: Any, url: str, headers: dict[str, str], session: requests.Session) -> Any:
    """One request over the kept-alive ``session``; a connection the server closed while idle
    (keep-alive race: the fuzzer's client reused it as the server dropped it) is retried once —
    that is the network, not the app. Timeouts are not retried."""
    try:
        return case.call(base_url=url, session=session, headers=headers, timeout=30)
    except requests.ConnectionError as exc:
        if isinstance(exc, requests.ConnectTimeout):
            raise
        return case.call(base_url=url, session=session, headers=headers, timeout=30)


def fuzz(served: Served, principal: str, examples: int) -> Outcome:
    schema = schemathesis.openapi.from_dict(served.app.openapi(), config=CONFIG)
    outcome = Outcome()
    headers = _headers_for(principal, served)
    per_mode = max(1, examples // 2)
    # One connection for all cases (a session per call, schemathesis's default, opened a TCP
    # connection and built a session per case); its cookies are dropped after every request.
    with ManagedCookiesSession() as session:
        for result in schema.get_all_operations():
            _fuzz_operation(result.ok(), served, headers, per_mode, outcome, session)
    return outcome


def _fuzz_operation(
    operation: Any,
    served: Served,
    headers: Callable[[tuple[str, str]], dict[str, str]],
    per_mode: int,
    outcome: Outcome,
    session: requests.Session,
) -> None:
    """Both modes of one operation; a failure is recorded in ``outcome``, not raised."""
    key = (operation.method.upper(), operation.path)
    outcome.cases[key] = 0
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        run = _hypothesis_test(operation, mode, per_mode, key, served, headers, outcome, session)
        try:
            run()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE, f"{key}: no valid case can be generated"
        except Exception as exc:  # recorded; go on with the next operation
            # A flaky failure wraps what the first run raised: say what it was.
            causes = "".join(f"\n  first run: {e!r}"[:600] for e in getattr(exc, "exceptions", ()))
            outcome.failures.setdefault(key, f"{type(exc).__name__}: {exc}{causes}"[:4000])
    _refresh_sessions(served, key)


def check_every_operation(served: Served, principal: str) -> None:
    """Fuzz every operation as ``principal``; fail on any finding or on an operation not run."""
    outcome = fuzz(served, principal, EXAMPLES)
    total = sum(outcome.cases.values())
    print(f"\nfuzz[{principal}]: {total} cases over {len(outcome.cases)} operations")
    served_ops = harness.app_operations(served.app)
    not_run = sorted(
        op for op in served_ops if outcome.cases.get(op, 0) == 0 and op not in NOT_FUZZED
    )
    assert not not_run, f"operations the fuzzer did not exercise: {not_run}"
    report = "\n\n".join(f"{m} {p}:\n{text}" for (m, p), text in sorted(outcome.failures.items()))
    assert not outcome.failures, f"{len(outcome.failures)} operations failed:\n{report}"

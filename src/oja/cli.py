"""The ``oja`` command."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import oja

if TYPE_CHECKING:
    from oja.sandbox.runner import Sandbox

app = typer.Typer(
    help="Oja: run the API, the worker, beat and operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class _Terminated(Exception):
    """SIGTERM, turned into an exception so that ``oja serve`` runs its cleanup first."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


@app.command()
def serve(  # noqa: PLR0917 - Typer passes options by parameter
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    worker: Annotated[
        bool,
        typer.Option(help="Also run a worker and beat as supervised child processes."),
    ] = True,
    migrate: Annotated[
        bool | None, typer.Option(help="Migrate first (default: on outside production).")
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            help="Start the local fakes of every third party (threads) and point Oja and its "
            "worker at them: a full offline demo in one command."
        ),
    ] = False,
    sandbox_port_base: Annotated[
        int, typer.Option(help="First port of the fakes with --sandbox (see `oja sandbox`).")
    ] = 8100,
) -> None:
    """Run the API (and, on embedded defaults, a worker and beat beside it, restarted if they exit
    and stopped with it on SIGTERM or SIGINT)."""
    # uvicorn handles SIGTERM itself, then raises it again once it has shut down; with the default
    # action that kills this process before any `finally` runs, orphaning the children.
    signal.signal(signal.SIGTERM, _terminate)
    terminated = False
    stops: list[Callable[[], None]] = []
    try:
        _serve(host, port, worker, migrate, sandbox, sandbox_port_base, stops)
    except _Terminated:
        terminated = True
    finally:
        # Bounded (the supervisor's grace); a second signal must not cut it short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for stop in reversed(stops):
            stop()
    if terminated:  # end as uvicorn would have: by the signal, which callers may check for
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _serve(  # noqa: PLR0917
    host: str,
    port: int,
    worker: bool,
    migrate: bool | None,
    sandbox: bool,
    sandbox_port_base: int,
    stops: list[Callable[[], None]],
) -> None:
    """Start what `oja serve` runs, adding to ``stops`` how to stop each part as it starts."""
    import uvicorn

    from oja.core.config import get_settings
    from oja.core.logging import configure_logging
    from oja.core.migrate import upgrade
    from oja.core.supervisor import Supervisor

    # Before any setting is read: the API and the worker child both take the fakes' variables.
    if sandbox:
        stops.append(_start_sandbox(host, port, sandbox_port_base).stop)
    if worker:  # this API has a worker of its own: it is not ready without one
        os.environ.setdefault("OJA_WORKER_HEARTBEAT_REQUIRED", "true")
    settings = get_settings()
    configure_logging(settings.app.log_level, json=settings.app.log_json)
    if migrate if migrate is not None else not settings.is_production:
        upgrade(settings.database_url)
    if worker:
        children = {"worker": ["worker"], "beat": ["beat"]}
        stops.append(Supervisor(children, grace=settings.queue.worker_stop_grace).start().stop)
    config = uvicorn.Config(
        "oja.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:  # e.g. the port is taken; uvicorn.run() exits 3 for this too
        raise typer.Exit(3)


def _start_sandbox(host: str, port: int, port_base: int) -> Sandbox:
    from oja.sandbox.runner import Sandbox

    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound
    oja_url = os.environ.get("OJA_PUBLIC_URL") or f"http://{local}:{port}"
    fakes = Sandbox(oja_url=oja_url, port_base=port_base).start()
    os.environ.update(fakes.environment(os.environ))
    typer.echo(fakes.exports(), nl=False)
    return fakes


@app.command("sandbox")
def sandbox_command(
    port_base: Annotated[
        int, typer.Option(help="First port; each fake takes a fixed one after it.")
    ] = 8100,
    oja_url: Annotated[
        str | None,
        typer.Option(
            help="Oja's base URL the fakes call back (webhooks, Google redirect). "
            "Default: OJA_PUBLIC_URL, else http://127.0.0.1:8000."
        ),
    ] = None,
    write_env: Annotated[
        Path | None,
        typer.Option(help="Also write the variables as a .env file, e.g. var/sandbox.env."),
    ] = None,
) -> None:
    """Run the fakes of Google, Paystack, Stripe, OpenRouter, Gemini, Termii and SMTP until Ctrl-C,
    and print the OJA_ variables that point Oja at them."""
    import time

    from oja.sandbox.runner import DEFAULT_OJA_URL, Sandbox

    url = oja_url or os.environ.get("OJA_PUBLIC_URL") or DEFAULT_OJA_URL

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with Sandbox(oja_url=url, port_base=port_base) as fakes:
        typer.echo(fakes.exports(), nl=False)
        if write_env is not None:
            write_env.parent.mkdir(parents=True, exist_ok=True)
            write_env.write_text(fakes.dotenv())
            typer.echo(f"# written to {write_env}")
        typer.echo("# the sandbox runs until Ctrl-C", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("# sandbox stopped", err=True)


@app.command()
def demo(
    base_url: Annotated[
        str, typer.Option(help="A running Oja, started with `oja serve --sandbox`.")
    ] = "http://127.0.0.1:8000",
    timeout: Annotated[
        float, typer.Option(help="Seconds each poll (processing, webhooks) may wait.")
    ] = 90.0,
    admin_email: Annotated[
        str | None,
        typer.Option(
            envvar="OJA_DEMO_ADMIN_EMAIL",
            help="An operator account (`oja create-admin`): the marketplace flow needs one to "
            "approve its stores; without it that flow is skipped.",
        ),
    ] = None,
    admin_password: Annotated[
        str | None, typer.Option(envvar="OJA_DEMO_ADMIN_PASSWORD", help="Its password.")
    ] = None,
    email_inbox: Annotated[
        str | None,
        typer.Option(
            envvar="OJA_DEMO_EMAIL_INBOX",
            help="The sandbox's email inbox (its `Email inbox` page): the demo counts the "
            "buyer's emails there. The Paystack and SMS fakes are found from the sandbox's "
            "OJA_PAYSTACK_* and OJA_SMS_BASE_URL variables.",
        ),
    ] = None,
) -> None:
    """Walk each module's main flow against a running Oja and print a table; exit 1 on a failure."""
    from oja.demo import run
    from oja.demo_market import Fakes

    admin = (admin_email, admin_password) if admin_email and admin_password else None
    fakes = Fakes.from_environment(email_inbox)
    raise typer.Exit(run(base_url, poll_timeout=timeout, admin=admin, fakes=fakes))


_PARENT_PID = typer.Option(
    hidden=True, help="Set by `oja serve`: exit when this process (the parent) is gone."
)


def _exit_with_parent(parent_pid: int, grace: float) -> None:
    from oja.core.supervisor import exit_with_parent

    exit_with_parent(parent_pid, grace)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Worker processes (default OJA_WORKER_CONCURRENCY).")
    ] = None,
    beat: Annotated[bool, typer.Option(help="Run beat (the sweeper's clock) inside.")] = False,
    queues: Annotated[str, typer.Option(help="Comma-separated queues to consume.")] = "default",
    parent_pid: Annotated[int | None, _PARENT_PID] = None,
) -> None:
    """Run a Celery worker for every declared job kind; it renews the worker heartbeat."""
    from celery import signals

    from oja.core.jobs.heartbeat import start_beating
    from oja.worker import app as celery_app
    from oja.worker import settings

    if parent_pid is not None:
        _exit_with_parent(parent_pid, settings.queue.worker_stop_grace)

    @signals.worker_ready.connect(weak=False)
    def _beat(**_: object) -> None:  # connected and consuming: from now on it can beat
        start_beating(settings)

    argv = [
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency or settings.queue.worker_concurrency}",
        f"--queues={queues}",
        "--without-gossip",
        "--without-mingle",
    ]
    if settings.broker_url.startswith("filesystem://"):
        argv.append("--without-heartbeat")
    if beat:
        argv.append("--beat")
    celery_app.worker_main(argv)


@app.command()
def beat(parent_pid: Annotated[int | None, _PARENT_PID] = None) -> None:
    """Run Celery beat alone (exactly one per deployment): it drives the sweeper."""
    from oja.worker import app as celery_app
    from oja.worker import settings

    if parent_pid is not None:
        _exit_with_parent(parent_pid, settings.queue.worker_stop_grace)

    celery_app.start(["beat", "--loglevel=INFO"])


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations."""
    from oja.core.config import get_settings
    from oja.core.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@app.command("create-admin")
def create_admin(
    email: Annotated[
        str, typer.Option(help="The admin's email (an existing account is promoted).")
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Password for a new account (prompted if omitted; kept for an existing one).",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Display name for a new account.")] = None,
) -> None:
    """Create an admin account, or grant the admin role to an existing one."""
    import asyncio

    from pydantic import ValidationError

    from oja.core.config import get_settings
    from oja.core.db import Database, unit_of_work
    from oja.core.logging import configure_logging
    from oja.identity.config import IdentitySettings
    from oja.identity.passwords import get_passwords
    from oja.identity.service import create_admin as make_admin

    settings = get_settings()
    configure_logging(settings.app.log_level, json=settings.app.log_json)

    async def run() -> str:
        database = Database(settings.database_url)
        try:
            async with unit_of_work(database) as db:
                user = await make_admin(
                    db,
                    email=email,
                    password=password,
                    name=name,
                    passwords=get_passwords(settings.section(IdentitySettings)),
                )
            return str(user.id)
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(run())
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"admin {email} ({user_id})")


@app.command()
def reconcile(
    stale_after: Annotated[
        float, typer.Option(help="Seconds unfinished work (jobs, webhooks, quotas) may be old.")
    ] = 600.0,
) -> None:
    """Check that jobs, webhook events, stored objects and quotas agree; non-zero on a mismatch."""
    import asyncio

    from oja.core.config import get_settings
    from oja.core.runtime import Runtime
    from oja.reconcile import run

    async def check() -> bool:
        runtime = Runtime.create(get_settings())
        try:
            report = await run(runtime, stale_after=stale_after)
        finally:
            await runtime.close()
        typer.echo(report.table(), nl=False)
        return report.ok

    if not asyncio.run(check()):
        raise typer.Exit(1)


@app.command()
def seed(
    products: Annotated[int, typer.Option(min=1, help="Products to generate.")] = 10_000,
    vendors: Annotated[int, typer.Option(min=1, help="Stores (about one in ten pending).")] = 50,
    buyers: Annotated[
        int, typer.Option(min=1, help="Buyers (as many order groups are placed).")
    ] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same rows.")] = 42,
    migrate: Annotated[bool, typer.Option(help="Migrate the database first.")] = True,
) -> None:
    """Fill the database with a generated marketplace (stores, catalogue with pictures, buyers,
    orders in every state with their ledger, reviews, behaviour); a second run adds nothing."""
    import asyncio

    from oja.core.config import get_settings
    from oja.core.logging import configure_logging
    from oja.core.migrate import upgrade
    from oja.core.runtime import Runtime
    from oja.marketplace.config import MarketplaceSettings
    from oja.marketplace.seed.plan import SeedConfig
    from oja.marketplace.seed.writer import SeedConflict, SeedResult, default_now
    from oja.marketplace.seed.writer import seed as fill

    settings = get_settings()
    configure_logging("WARNING", json=settings.app.log_json)  # the summary table is the output
    if migrate:
        upgrade(settings.database_url)
    config = SeedConfig(
        now=default_now(),
        products=products,
        vendors=vendors,
        buyers=buyers,
        seed=seed,
        # Unpaid groups hold their stock as long as a real checkout's would.
        reservation_minutes=settings.section(MarketplaceSettings).reservation_minutes,
    )

    async def run() -> SeedResult:
        runtime = Runtime.create(settings)
        try:
            return await fill(runtime, config)
        finally:
            await runtime.close()

    try:
        result = asyncio.run(run())
    except SeedConflict as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result.table(), nl=False)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Print or write the OpenAPI document."""
    from oja.main import create_app

    document = json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n"
    if output is None:
        typer.echo(document, nl=False)
    else:
        output.write_text(document)


@app.command("settings")
def settings_command() -> None:
    """Print every OJA_ environment variable as a markdown table (the README's table)."""
    import oja.api  # noqa: F401 - imports every module's endpoints (and their settings)
    from oja.core.config import all_sections, settings_markdown
    from oja.job_modules import job_registry

    job_registry()  # imports every module's jobs (and their settings)
    typer.echo(settings_markdown(all_sections()), nl=False)


@app.command()
def version() -> None:
    """Print Oja's version."""
    typer.echo(oja.__version__)


if __name__ == "__main__":
    app()

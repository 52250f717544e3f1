"""CPU of the ``oja sandbox`` process per paid checkout, this tree beside a base tree.

The shopping day runs the fakes as one ``oja sandbox`` process on the same two cores as the API
and the workers. Per paid checkout the fakes serve what the day asks of them: Paystack's
initialise (the API's checkout), the hosted checkout page and its pay button (the buyer), the
signed ``charge.success`` webhook the pay sends back to Oja, the verify (the webhook job), and the
two notification sinks (one email over SMTP, one SMS through the Termii fake). This script starts
one ``oja sandbox`` per tree (each on its own ports, webhooks aimed at a receiver in this process
that answers 200), sends ``--checkouts`` such checkouts per round to each, rounds interleaved
(order alternating), and divides each process's user + system CPU time (``/proc/<pid>/stat``)
by the checkouts of the round.

    python bench/sandbox_fakes.py --base-tree /tmp/base --rounds 5 --checkouts 100
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import os
import smtplib
import statistics
import tempfile
import time
import uuid
from email.message import EmailMessage
from typing import Any

import httpx

from bench.checkout import cpu_seconds
from bench.common import (
    HOST,
    ROOT,
    bench_env,
    free_port,
    machine_line,
    markdown_table,
    start_process,
    stop_process,
    wait_http_ok,
)
from oja.sandbox.paystack_records import DEFAULT_SECRET_KEY
from oja.sandbox.runner import PORT_OFFSETS
from oja.sandbox.server import SandboxServer
from oja.sandbox.sms import DEFAULT_API_KEY as TERMII_KEY


async def _receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Oja's webhook routes, as far as the fakes can tell: read the body, answer 200."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


class Fakes:
    def __init__(self, label: str, tree: Path, oja_url: str, log: Path) -> None:
        self.label = label
        self.port_base = free_port() // 100 * 100 % 60000 or 20000
        python = tree / ".venv" / "bin" / "python"
        argv = [str(python), "-c", "from oja.cli import app; app()", "sandbox"]
        argv += ["--port-base", str(self.port_base)]
        argv += ["--oja-url", oja_url]
        env = bench_env(PYTHONPATH=os.pathsep.join([str(tree / "src"), str(tree)]))
        self.process = start_process(argv, env=env, log_path=log)
        self.cpu_ms: list[float] = []

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port_base + PORT_OFFSETS[name]}"


def _mail(port: int, number: int) -> None:
    message = EmailMessage()
    message["From"], message["To"] = "orders@oja.test", f"buyer{number}@example.com"
    message["Subject"] = f"Your order {number} is confirmed"
    message.set_content("Thank you for your order. " * 20)
    with smtplib.SMTP(HOST, port, timeout=30) as smtp:
        smtp.send_message(message)


async def paid_checkout(client: httpx.AsyncClient, fakes: Fakes, number: int) -> None:
    paystack, auth = fakes.url("paystack"), {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
    body = {"email": f"buyer{number}@example.com", "amount": 1_250_000, "currency": "NGN"}
    body["reference"] = f"bench-{uuid.uuid4().hex}"
    made = await client.post(f"{paystack}/transaction/initialize", json=body, headers=auth)
    made.raise_for_status()
    code = made.json()["data"]["access_code"]
    (await client.get(f"{paystack}/checkout/{code}")).raise_for_status()
    paid = await client.post(
        f"{paystack}/checkout/{code}/pay", headers={"Accept": "application/json"}
    )
    assert paid.json()["webhook_status"] == 200, paid.text
    verified = await client.get(f"{paystack}/transaction/verify/{body['reference']}", headers=auth)
    assert verified.json()["data"]["status"] == "success", verified.text
    sms = {"api_key": TERMII_KEY, "to": "2348012345678", "from": "Oja", "sms": "Order paid"}
    sms |= {"type": "plain", "channel": "generic"}
    (await client.post(f"{fakes.url('sms')}/api/sms/send", json=sms)).raise_for_status()
    await asyncio.to_thread(_mail, fakes.port_base + PORT_OFFSETS["smtp"], number)


async def one_round(fakes: Fakes, checkouts: int) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        before = cpu_seconds(fakes.process.pid)
        for start in range(0, checkouts, 2):  # two buyers at a time, as in bench/checkout.py
            await asyncio.gather(*(paid_checkout(client, fakes, n) for n in (start, start + 1)))
        used = cpu_seconds(fakes.process.pid) - before
    fakes.cpu_ms.append(1000 * used / checkouts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-tree", help="Also run this tree's fakes, interleaved.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checkouts", type=int, default=100, help="Paid checkouts per round.")
    args = parser.parse_args()
    loads = [Path("/proc/loadavg").read_text().split()[0]]
    trees = [("this tree", ROOT)]
    if args.base_tree:
        trees.insert(0, ("base tree", Path(args.base_tree).resolve()))
    runs: list[Fakes] = []
    with (
        tempfile.TemporaryDirectory(prefix="oja-bench-fakes-") as tmp,
        SandboxServer(_receiver) as oja,
    ):
        try:
            for label, tree in trees:
                runs.append(Fakes(label, tree, oja.url, Path(tmp) / f"{len(runs)}.log"))
            for fakes in runs:
                wait_http_ok(f"{fakes.url('sms')}/messages", fakes.process, timeout=300)
            for index in range(args.rounds + 1):  # the first round warms up, not counted
                for fakes in runs if index % 2 == 0 else runs[::-1]:
                    asyncio.run(one_round(fakes, args.checkouts if index else 10))
                    if index == 0:
                        fakes.cpu_ms.clear()
                time.sleep(1)
        finally:
            for fakes in runs:
                stop_process(fakes.process)
    loads.append(Path("/proc/loadavg").read_text().split()[0])
    print(machine_line())
    print(
        f"`oja sandbox` CPU ms per paid checkout (initialise, checkout page, pay + its webhook, "
        f"verify, one SMS, one SMTP email), {args.rounds} rounds of {args.checkouts} per tree, "
        f"interleaved; load average {loads[0]} → {loads[1]}"
    )
    print()
    rows = [[f.label, statistics.median(f.cpu_ms), min(f.cpu_ms), max(f.cpu_ms)] for f in runs]
    print(markdown_table(["code", "CPU ms/checkout median", "min", "max"], rows))


if __name__ == "__main__":
    main()

"""Issue 25's two hot statements on one long-lived connection, as a worker runs them all day.

```sh
python -m bench.plan_drift postgresql://postgres@127.0.0.1:5432/DB [--rounds 3000]
```

DB is a seeded database (``oja seed``) that this script writes into: each round adds a realtime
event and its topic rows (the FK's RI check reads ``realtime_event`` by id) and a notification with
a pending delivery that the send job's claim (``UPDATE notification_delivery … RETURNING (SELECT
notification.…)``) then takes. asyncpg prepares each statement once per connection, as the API and
the workers do, so PostgreSQL settles on a generic plan after five executions, while the tables are
still small, and keeps it. Printed: the shared buffers per call of both statements over the last
``--tail`` rounds (pg_stat_statements) and the sequential scans of ``realtime_event`` and
``notification`` the whole run made (pg_stat_user_tables), beside the tables' ``reltuples``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from datetime import UTC, datetime

import asyncpg

CLAIM = (
    "UPDATE notification_delivery SET status = 'sending', attempts = notification_delivery.attempts"
    " + 1, updated_at = $1 WHERE notification_delivery.id = $2 AND {status} = 'pending'"
    " RETURNING notification_delivery.channel, notification_delivery.address,"
    " notification_delivery.subject, notification_delivery.body, notification_delivery.attempts,"
    " (SELECT notification.user_id FROM notification WHERE notification.id ="
    " notification_delivery.notification_id), (SELECT notification.event FROM notification WHERE"
    " notification.id = notification_delivery.notification_id)"
)
STATUS = {
    "eq": "notification_delivery.status",  # before issue 25
    "concat": "(notification_delivery.status || '')",  # after: found by the primary key alone
}
TOPIC = "INSERT INTO realtime_event_topic (topic, event_id) VALUES ($1, $2)"
EVENT = (
    "INSERT INTO realtime_event (event, data, topics, created_at) VALUES ($1, $2, $3, $4)"
    " RETURNING id"
)
NOTIFICATION = (
    "INSERT INTO notification (id, user_id, event_id, event, category, title, body, data,"
    " created_at) VALUES ($1, $2, $3, 'order.paid', 'orders', 't', 'b', '{}', $4)"
)
DELIVERY = (
    "INSERT INTO notification_delivery (id, notification_id, channel, status, address, body,"
    " attempts, created_at, updated_at) VALUES ($1, $2, 'email', 'pending', 'a@b.c', 'b', 0, $3, $3)"
)
TABLES = ("realtime_event", "notification", "notification_delivery")


async def scans(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute("SELECT pg_stat_force_next_flush()")
    rows = await conn.fetch(
        "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname = ANY($1)", list(TABLES)
    )
    return {row["relname"]: row["seq_scan"] for row in rows}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--claim", choices=sorted(STATUS), default="concat")
    parser.add_argument("--tail", type=int, default=500, help="rounds measured at the end")
    args = parser.parse_args()
    conn = await asyncpg.connect(args.dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    stats = await conn.fetch(
        "SELECT relname, reltuples FROM pg_class WHERE relname = ANY($1) ORDER BY relname",
        list(TABLES),
    )
    print("reltuples at start:", {row["relname"]: row["reltuples"] for row in stats})
    user_id = await conn.fetchval('SELECT id FROM "user" ORDER BY id LIMIT 1')
    before = await scans(conn)
    for n in range(args.rounds):
        if n == args.rounds - args.tail:
            await conn.execute("SELECT pg_stat_statements_reset()")
        now = datetime.now(UTC)
        async with conn.transaction():
            event_id = await conn.fetchval(EVENT, "order.paid", {"n": n}, ["a", "b"], now)
            await conn.execute(TOPIC, f"user:{n % 50}", event_id)
            await conn.execute(TOPIC, f"store:{n % 7}", event_id)
            notification_id, delivery_id = uuid.uuid4(), uuid.uuid4()
            await conn.execute(NOTIFICATION, notification_id, user_id, uuid.uuid4(), now)
            await conn.execute(DELIVERY, delivery_id, notification_id, now)
        await conn.fetchrow(CLAIM.format(status=STATUS[args.claim]), now, delivery_id)
    after = await scans(conn)
    rows = await conn.fetch(
        "SELECT query, calls, mean_exec_time, shared_blks_hit::float / calls AS hit"
        " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
        " WHERE datname = current_database()) AND (query LIKE 'INSERT INTO realtime_event_topic%'"
        " OR query LIKE 'UPDATE notification_delivery%')"
    )
    for row in rows:
        print(
            f"{row['query'][:40]:40} calls {row['calls']:>6} mean {row['mean_exec_time']:.3f} ms"
            f" shared_blks_hit/call {row['hit']:.1f}"
        )
    print("seq scans during the run:", {k: after[k] - before.get(k, 0) for k in after})
    print("pid", os.getpid())
    await conn.close()


if __name__ == "__main__":
    asyncio.run(main())

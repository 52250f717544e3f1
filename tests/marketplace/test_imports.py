"""Bulk product import: upsert by SKU, a report per row, dry runs, CSV and XLSX alike, resumable
batches, and tenancy (another store's import is a 404)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.jobs.runner import execute
from oja.marketplace.imports import batches, parsing, repository
from tests.conftest import Jobs, use_settings

from .conftest import Person, admin, approved_store, count, error_code, person, rows
from .scoping import statement_log

HEADER = [
    "Title",
    "Description",
    "SKU",
    "Price",
    "Currency",
    "Stock",
    "Status",
    "Category",
    "Options",
    "Image URLs",
    "Handle",
    "Compare-At Price",
    "Low Stock Threshold",
    "Weight Grams",
    "Attributes",
]
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


def sample_rows(category: str) -> list[list[str]]:
    return [
        [
            "Ankara tote",
            "Hand-sewn",
            "TOTE-RED",
            "450000",
            "NGN",
            "10",
            "active",
            category,
            "colour=red",
            "https://img.example.com/tote-red.jpg|https://img.example.com/tote-back.jpg",
            "ankara-tote",
            "500000",
            "3",
            "400",
            "material=cotton;origin=Lagos",
        ],
        [
            "Ankara tote",
            "",
            "TOTE-BLUE",
            "450000",
            "",
            "0",
            "",
            "",
            "colour=blue",
            "https://img.example.com/tote-blue.jpg",
            "ankara-tote",
            "",
            "",
            "",
            "",
        ],
        [
            "Zobo, 1 litre",
            "",
            "ZOBO-1L",
            "150000",
            "",
            "40",
            "active",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "Shea butter",
            "Raw, unrefined",
            "SHEA-250",
            "250000",
            "NGN",
            "5",
            "draft",
            category,
            "size=250g",
            "",
            "",
            "",
            "",
            "250",
            '{"grade": "A"}',
        ],
        [
            "Shea butter",
            "",
            "SHEA-500",
            "450000",
            "NGN",
            "7",
            "",
            "",
            "size=500g",
            "",
            "",
            "",
            "",
            "500",
            "",
        ],
    ]


def to_csv(header: list[str], body: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode()


def to_xlsx(header: list[str], body: list[list[str]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in body:
        # Numbers as numbers, as a spreadsheet would hold them.
        sheet.append([int(cell) if cell.isdigit() else (cell or None) for cell in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def vendor(app: Any, client: httpx.AsyncClient, boss: Person | None = None) -> Person:
    boss = boss or await admin(app, client)
    owner = await person(client, "vendor")
    await approved_store(client, owner, boss, f"Store {owner.email[:10]}")
    return owner


async def category(app: Any, client: httpx.AsyncClient, boss: Person, name: str) -> str:
    made = await client.post("/categories", json={"name": name}, headers=boss.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["slug"])


async def upload(
    client: httpx.AsyncClient,
    who: Person,
    content: bytes,
    *,
    filename: str = "products.csv",
    dry_run: bool = False,
    key: str | None = None,
) -> httpx.Response:
    headers = dict(who.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(
        "/vendors/me/imports",
        params={"dry_run": "true"} if dry_run else None,
        files={"file": (filename, content, "application/octet-stream")},
        headers=headers,
    )


IMPORT_TASK = "oja.job.marketplace.imports.run"


async def run_imports(app: Any, jobs: Jobs) -> list[str]:
    """Run the published import jobs (retries included); what they enqueue stays published."""
    outcomes = []
    while ids := [i for i in jobs.published if jobs.task_names.get(i) == IMPORT_TASK]:
        jobs.published.remove(ids[0])
        outcomes.append(await execute(str(ids[0]), app.state.runtime))
    return outcomes


async def imported(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, who: Person, content: bytes, **options: Any
) -> dict[str, Any]:
    """Upload, run the job, and return the import's detail."""
    accepted = await upload(client, who, content, **options)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"
    assert await run_imports(app, jobs) == ["succeeded"]
    detail = await client.get(f"/vendors/me/imports/{accepted.json()['id']}", headers=who.headers)
    assert detail.status_code == 200, detail.text
    return dict(detail.json())


async def store_id(client: httpx.AsyncClient, who: Person) -> str:
    return str((await client.get("/vendors/me", headers=who.headers)).json()["id"])


async def dump(app: Any, vendor_id: str) -> dict[str, Any]:
    """The store's whole catalogue, ids replaced by what names them."""
    vid = vendor_id.replace("-", "")
    products = await rows(
        app,
        "SELECT p.title, p.description, c.slug, p.status, p.attributes, p.updated_at, "
        "v.sku, v.options, v.price, v.currency, v.compare_at_price, v.stock, "
        "v.low_stock_threshold, v.weight_grams, v.updated_at "
        "FROM product_variant v JOIN product p ON p.id = v.product_id "
        "LEFT JOIN category c ON c.id = p.category_id "
        "WHERE replace(CAST(v.vendor_id AS TEXT), '-', '') = :vid ORDER BY v.sku",
        vid=vid,
    )
    prices = await rows(
        app,
        "SELECT v.sku, pc.old_price, pc.new_price, pc.old_compare_at_price, "
        "pc.new_compare_at_price, pc.currency FROM price_change pc "
        "JOIN product_variant v ON v.id = pc.variant_id "
        "WHERE replace(CAST(pc.vendor_id AS TEXT), '-', '') = :vid "
        "ORDER BY v.sku, pc.created_at",
        vid=vid,
    )
    stock = await rows(
        app,
        "SELECT v.sku, m.stock_before, m.stock_after, m.delta, m.reason FROM stock_movement m "
        "JOIN product_variant v ON v.id = m.variant_id "
        "WHERE replace(CAST(m.vendor_id AS TEXT), '-', '') = :vid ORDER BY v.sku, m.created_at",
        vid=vid,
    )
    grouping = await rows(
        app,
        "SELECT p.title, count(*) FROM product_variant v JOIN product p ON p.id = v.product_id "
        "WHERE replace(CAST(v.vendor_id AS TEXT), '-', '') = :vid GROUP BY p.id, p.title "
        "ORDER BY p.title",
        vid=vid,
    )
    return {
        "variants": [(*r[:4], _json(r[4]), *r[5:7], _json(r[7]), *r[8:]) for r in products],
        "prices": [tuple(r) for r in prices],
        "stock": [tuple(r) for r in stock],
        "products": [tuple(r) for r in grouping],
    }


def _json(value: Any) -> Any:
    """JSON columns read by raw SQL: text on SQLite, decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def strip_times(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        **snapshot,
        "variants": [r[:5] + r[6:14] for r in snapshot["variants"]],
    }


async def _same_file_twice(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    boss = await admin(app, client)
    owner = await vendor(app, client, boss)
    slug = await category(app, client, boss, "Crafts")
    content = to_csv(HEADER, sample_rows(slug))
    first = await imported(app, client, jobs, owner, content)
    assert first["status"] == "succeeded"
    assert first["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "failed": 0}
    assert first["progress"] == {"rows_done": 5, "rows_total": 5, "percent": 100}
    assert first["failed_rows"] == []
    vid = await store_id(client, owner)
    before = await dump(app, vid)
    assert before["products"] == [("Ankara tote", 2), ("Shea butter", 2), ("Zobo, 1 litre", 1)]
    assert [v[6:14] for v in before["variants"]] == [
        ("SHEA-250", {"size": "250g"}, 250000, "NGN", None, 5, 5, 250),
        ("SHEA-500", {"size": "500g"}, 450000, "NGN", None, 7, 5, 500),
        ("TOTE-BLUE", {"colour": "blue"}, 450000, "NGN", None, 0, 5, None),
        ("TOTE-RED", {"colour": "red"}, 450000, "NGN", 500000, 10, 3, 400),
        ("ZOBO-1L", {}, 150000, "NGN", None, 40, 5, None),
    ]
    tote = next(v for v in before["variants"] if v[6] == "TOTE-RED")
    assert tote[:5] == (
        "Ankara tote",
        "Hand-sewn",
        slug,
        "active",
        {"material": "cotton", "origin": "Lagos"},
    )
    assert len(before["prices"]) == 5
    assert before["stock"] == [
        ("SHEA-250", 0, 5, 5, "import"),
        ("SHEA-500", 0, 7, 7, "import"),
        ("TOTE-RED", 0, 10, 10, "import"),
        ("ZOBO-1L", 0, 40, 40, "import"),
    ]

    second = await imported(app, client, jobs, owner, content)
    assert second["counts"] == {"created": 0, "updated": 0, "unchanged": 5, "failed": 0}
    assert await dump(app, vid) == before  # updated_at included: nothing was written


async def test_the_same_file_twice_leaves_the_catalogue_identical(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    await _same_file_twice(app, client, jobs)


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
async def test_the_same_file_twice_on_postgresql(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    await _same_file_twice(app, client, jobs)


async def test_changes_are_recorded_as_price_changes_and_stock_movements(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner = await vendor(app, client)
    body = [
        ["Zobo", "", "ZOBO-1L", "150000", "", "40", "active"],
        ["Kunu", "", "KUNU-1L", "120000", "", "10", "active"],
    ]
    header = HEADER[:7]
    await imported(app, client, jobs, owner, to_csv(header, body))
    body[0][3] = "160000"  # price up
    body[1][5] = "4"  # stock down
    report = await imported(app, client, jobs, owner, to_csv(header, body))
    assert report["counts"] == {"created": 0, "updated": 2, "unchanged": 0, "failed": 0}
    snapshot = await dump(app, await store_id(client, owner))
    assert snapshot["prices"] == [
        ("KUNU-1L", None, 120000, None, None, "NGN"),
        ("ZOBO-1L", None, 150000, None, None, "NGN"),
        ("ZOBO-1L", 150000, 160000, None, None, "NGN"),
    ]
    assert snapshot["stock"] == [
        ("KUNU-1L", 0, 10, 10, "import"),
        ("KUNU-1L", 10, 4, -6, "import"),
        ("ZOBO-1L", 0, 40, 40, "import"),
    ]
    # The public price history shows the change.
    products = await client.get("/products", params={"vendor": await store_id(client, owner)})
    zobo = next(p for p in products.json()["items"] if p["title"] == "Zobo")
    history = await client.get(f"/products/{zobo['id']}/price-history")
    assert [(c["old_price"], c["new_price"]) for c in history.json()["items"]] == [
        (150000, 160000),
        (None, 150000),
    ]
    # An empty cell leaves a value as it is; a later file adds a variant to the same product.
    more = [
        ["Zobo", "", "ZOBO-1L", "160000", "", "", ""],
        ["Zobo", "", "ZOBO-2L", "280000", "", "3", ""],
    ]
    report = await imported(app, client, jobs, owner, to_csv(header, more))
    assert report["counts"] == {"created": 1, "updated": 0, "unchanged": 1, "failed": 0}
    snapshot = await dump(app, await store_id(client, owner))
    assert ("Zobo", 2) in snapshot["products"]


BAD_KINDS = [
    (["T", "", "", "100"], "sku is required"),
    (["T", "", "SKU", "-5"], "price cannot be negative"),
    (["T", "", "SKU", "12.50"], "price must be a whole number (minor units), got '12.50'"),
    (["T", "", "SKU", "abc"], "price must be a whole number, got 'abc'"),
    (["T", "", "SKU", ""], "price is required"),
    (["", "", "SKU", "100"], "title is required"),
    (
        ["T", "", "SKU", "100", "naira"],
        "currency must be an ISO 4217 code such as NGN, got 'NAIRA'",
    ),
    (["T", "", "SKU", "100", "", "-1"], "stock cannot be negative"),
    (
        ["T", "", "SKU", "100", "", "", "sold"],
        "status must be draft, active or archived, got 'sold'",
    ),
    (
        ["T", "", "SKU", "100", "", "", "", "no-such-aisle"],
        "no category 'no-such-aisle' (give a slug or an id)",
    ),
    (
        ["T", "", "SKU", "100", "", "", "", "", "size"],
        "options must look like key=value;key=value, got 'size'",
    ),
    (
        ["T", "", "SKU", "100", "", "", "", "", "", "ftp://x/y.png"],
        "image_urls: 'ftp://x/y.png' is not an http(s) URL",
    ),
]


async def test_a_thousand_rows_with_fifty_bad_ones(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    use_settings(app, import_batch_rows=97)  # batches that do not divide the file
    owner = await vendor(app, client)
    header = HEADER[:10]
    body: list[list[str]] = []
    expected_failures: list[dict[str, Any]] = []
    bad = 0
    for i in range(1000):
        number = i + 2
        if i % 20 == 7 and bad < 50:
            kind = bad % (len(BAD_KINDS) + 2)
            bad += 1
            if kind == len(BAD_KINDS):  # a SKU already on an earlier row
                body.append([f"Item {i}", "", "SKU-00000", "100"])
                expected_failures.append(
                    {
                        "row": number,
                        "sku": "SKU-00000",
                        "reason": "SKU 'SKU-00000' is already on row 2",
                    }
                )
                continue
            if kind == len(BAD_KINDS) + 1:  # a variant in another currency than its product's
                body.append(["Item 0", "", f"SKU-X{i}", "100", "USD"])
                expected_failures.append(
                    {
                        "row": number,
                        "sku": f"SKU-X{i}",
                        "reason": "currency USD differs from the product's other variants' NGN",
                    }
                )
                continue
            cells, reason = BAD_KINDS[kind]
            cells = [c.replace("SKU", f"BAD-{i}") if c == "SKU" else c for c in cells]
            body.append(cells)
            sku = cells[2] or None
            expected_failures.append({"row": number, "sku": sku, "reason": reason})
            continue
        body.append([f"Item {i}", "", f"SKU-{i:05d}", str(1000 + i), "NGN", str(i % 7), "active"])
    assert bad == 50
    report = await imported(app, client, jobs, owner, to_csv(header, body))
    assert report["counts"] == {"created": 950, "updated": 0, "unchanged": 0, "failed": 50}
    assert report["progress"] == {"rows_done": 1000, "rows_total": 1000, "percent": 100}
    assert report["failed_rows"] == expected_failures
    assert report["failed_rows_truncated"] is False
    vid = (await store_id(client, owner)).replace("-", "")
    where = f"replace(CAST(vendor_id AS TEXT), '-', '') = '{vid}'"
    assert await count(app, "product_variant", where) == 950
    assert await count(app, "price_change", where) == 950
    page = await client.get(
        f"/vendors/me/imports/{report['id']}/failures",
        params={"page": 2, "per_page": 20},
        headers=owner.headers,
    )
    assert page.json()["total"] == 50
    assert page.json()["items"] == expected_failures[20:40]


async def test_a_dry_run_changes_nothing(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    boss = await admin(app, client)
    owner = await vendor(app, client, boss)
    slug = await category(app, client, boss, "Crafts")
    body = [*sample_rows(slug), ["Broken", "", "BROKEN-1", "1.5"]]
    content = to_csv(HEADER, body)
    dry = await imported(app, client, jobs, owner, content, dry_run=True)
    assert dry["dry_run"] is True
    assert dry["status"] == "succeeded"
    assert dry["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "failed": 1}
    assert dry["failed_rows"] == [
        {
            "row": 7,
            "sku": "BROKEN-1",
            "reason": "price must be a whole number (minor units), got '1.5'",
        }
    ]
    for table in ("product", "product_variant", "price_change", "stock_movement", "product_handle"):
        assert await count(app, table) == 0, table
    real = await imported(app, client, jobs, owner, content)
    assert real["counts"] == dry["counts"]
    assert await count(app, "product_variant") == 5
    # A dry run over an imported catalogue says what would change, and changes nothing.
    body[0][3] = "460000"
    again = await imported(app, client, jobs, owner, to_csv(HEADER, body), dry_run=True)
    assert again["counts"] == {"created": 0, "updated": 1, "unchanged": 4, "failed": 1}
    assert await count(app, "price_change") == 5


async def test_xlsx_and_csv_give_the_same_catalogue(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    slug = await category(app, client, boss, "Crafts")
    by_csv, by_xlsx = await vendor(app, client, boss), await vendor(app, client, boss)
    body = [*sample_rows(slug), ["Broken", "", "BROKEN-1", "1.5"]]
    from_csv = await imported(app, client, jobs, by_csv, to_csv(HEADER, body))
    from_xlsx = await imported(
        app, client, jobs, by_xlsx, to_xlsx(HEADER, body), filename="products.xlsx"
    )
    assert from_xlsx["format"] == "xlsx"
    assert from_csv["counts"] == from_xlsx["counts"]
    assert from_csv["failed_rows"] == from_xlsx["failed_rows"]
    csv_dump = strip_times(await dump(app, await store_id(client, by_csv)))
    xlsx_dump = strip_times(await dump(app, await store_id(client, by_xlsx)))
    assert csv_dump == xlsx_dump
    assert len(csv_dump["variants"]) == 5


async def test_another_vendor_cannot_see_an_import(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    owner, other = await vendor(app, client, boss), await vendor(app, client, boss)
    report = await imported(app, client, jobs, owner, to_csv(HEADER, sample_rows("")))
    for path in (
        f"/vendors/me/imports/{report['id']}",
        f"/vendors/me/imports/{report['id']}/failures",
    ):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404
        assert error_code(response) == "import_not_found"
    listed = await client.get("/vendors/me/imports", headers=other.headers)
    assert listed.json()["items"] == []
    mine = await client.get("/vendors/me/imports", headers=owner.headers)
    assert [i["id"] for i in mine.json()["items"]] == [report["id"]]


async def test_an_idempotency_key_answers_the_first_import(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner = await vendor(app, client)
    content = to_csv(HEADER, sample_rows(""))
    first = await upload(client, owner, content, key="batch-1")
    again = await upload(client, owner, content, key="batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert len(jobs.published) == 1
    other = await upload(client, owner, content + b"X,,Y,1\n", key="batch-1")
    assert other.status_code == 409
    assert error_code(other) == "import_key_reused"
    assert await count(app, "product_import") == 1
    assert await run_imports(app, jobs) == ["succeeded"]


async def test_what_is_not_an_import_file_is_refused_or_failed(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner = await vendor(app, client)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
    refused = await upload(client, owner, png, filename="x.csv")
    assert refused.status_code == 415
    assert error_code(refused) == "unsupported_import_file"
    empty = await upload(client, owner, b"")
    assert empty.status_code == 422
    assert await count(app, "product_import") == 0
    missing = await imported(app, client, jobs, owner, b"name,cost\nTea,100\n")
    assert missing["status"] == "failed"
    assert missing["error"] == "Required columns missing: title, sku, price."
    broken = await imported(app, client, jobs, owner, b"PK\x03\x04not a zip", filename="a.xlsx")
    assert broken["status"] == "failed"
    assert broken["error"].startswith("The file is not a readable XLSX workbook")
    unknown = await imported(
        app,
        client,
        jobs,
        owner,
        b"TITLE,sku,price,colour hex,colour hex\nTea,TEA-1,100,#fff,#000\n",
    )
    assert unknown["unknown_columns"] == ["colour_hex"]
    assert unknown["counts"]["created"] == 1


async def test_a_retried_job_resumes_after_its_last_committed_batch(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(app, import_batch_rows=10, job_retry_base_delay=0.0)
    owner = await vendor(app, client)
    body = [[f"Item {i}", "", f"SKU-{i}", "100", "", "2"] for i in range(35)]
    accepted = await upload(client, owner, to_csv(HEADER[:6], body))
    real_write = batches.write
    calls = 0

    async def crash_on_third(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        await real_write(*args, **kwargs)
        if calls == 3:  # the worker dies with the third batch written but not committed
            raise RuntimeError("worker lost")

    monkeypatch.setattr(batches, "write", crash_on_third)
    outcomes = await run_imports(app, jobs)
    assert outcomes == ["retrying", "succeeded"]
    detail = await client.get(f"/vendors/me/imports/{accepted.json()['id']}", headers=owner.headers)
    assert detail.json()["counts"] == {"created": 35, "updated": 0, "unchanged": 0, "failed": 0}
    assert await count(app, "product_variant") == 35
    assert await count(app, "price_change") == 35
    assert await count(app, "stock_movement") == 35


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """One statement per kind of write per batch, never one per row; every one scoped."""
    owner = await vendor(app, client)
    use_settings(app, import_batch_rows=1000)

    def body(rows: int, price: int) -> bytes:
        lines = [
            [f"P{rows}-{i // 2}", "", f"S{rows}-{i}", str(price), "", str(1 + i % 3)]
            for i in range(rows)
        ]
        return to_csv(HEADER[:6], lines)

    statements: dict[tuple[int, str], int] = {}
    for rows_in_file in (100, 300):
        for pass_, price in (("create", 100), ("update", 200)):
            accepted = await upload(client, owner, body(rows_in_file, price))
            assert accepted.status_code == 202
            with statement_log(app.state.runtime.database.engine) as log, log.on():
                assert await run_imports(app, jobs) == ["succeeded"]
            assert log.unscoped() == []
            statements[rows_in_file, pass_] = len(log.statements)
    # A batch of 300 rows costs what a batch of 100 does.
    assert statements[100, "create"] == statements[300, "create"] <= 20
    assert statements[100, "update"] == statements[300, "update"] <= 20


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
async def test_a_sku_taken_meanwhile_turns_the_row_into_an_update(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await vendor(app, client)
    body = [["Tea", "", "TEA-1", "100", "", "5"], ["Coffee", "", "COFFEE-1", "300", "", "2"]]
    await upload(client, owner, to_csv(HEADER[:6], body))
    real_plan = batches.plan
    raced = False

    async def plan_then_race(*args: Any, **kwargs: Any) -> batches.Batch:
        nonlocal raced
        planned = await real_plan(*args, **kwargs)
        if not raced:  # a request creates COFFEE-1 after the batch was planned
            raced = True
            made = await client.post(
                "/products", json={"title": "Coffee", "sku": "COFFEE-1", "price": 250},
                headers=owner.headers,
            )  # fmt: skip
            assert made.status_code == 201, made.text
        return planned

    monkeypatch.setattr(batches, "plan", plan_then_race)
    assert await run_imports(app, jobs) == ["succeeded"]
    listed = await client.get("/vendors/me/imports", headers=owner.headers)
    assert listed.json()["items"][0]["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "failed": 0,
    }
    prices = await rows(
        app,
        "SELECT v.sku, pc.old_price, pc.new_price FROM price_change pc "
        "JOIN product_variant v ON v.id = pc.variant_id ORDER BY v.sku, pc.created_at",
    )
    assert [tuple(r) for r in prices] == [
        ("COFFEE-1", None, 250),
        ("COFFEE-1", 250, 300),
        ("TEA-1", None, 100),
    ]
    assert await count(app, "product_variant") == 2


FETCH_TASK = "oja.job.marketplace.product_image.fetch"


async def test_image_urls_are_fetched_by_jobs_enqueued_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner = await vendor(app, client)
    a, b, c = (f"https://img.example.com/{name}.jpg" for name in "abc")
    header = ["title", "sku", "price", "image_urls", "handle"]
    body = [
        ["Tote", "TOTE-RED", "100", f"{a}|{b}", "tote"],
        ["Tote", "TOTE-BLUE", "100", f"{b} {c}", "tote"],
        ["Mug", "MUG-1", "100", a, ""],
        ["Spoon", "SPOON-1", "100", "", ""],
    ]
    content = to_csv(header, body)

    async def fetches() -> list[tuple[str, str, int]]:
        found = await rows(
            app,
            "SELECT p.title, j.payload FROM job j JOIN product p "
            "ON replace(CAST(p.id AS TEXT), '-', '') = "
            "replace(json_extract_path_text(CAST(j.payload AS JSON), 'product_id'), '-', '') "
            "WHERE j.kind = 'marketplace.product_image.fetch'"
            if app.state.runtime.database.url.startswith("postgresql")
            else "SELECT p.title, j.payload FROM job j JOIN product p "
            "ON replace(CAST(p.id AS TEXT), '-', '') = "
            "replace(json_extract(j.payload, '$.product_id'), '-', '') "
            "WHERE j.kind = 'marketplace.product_image.fetch'",
        )
        return sorted((title, _json(p)["url"], _json(p)["position"]) for title, p in found)

    dry = await imported(app, client, jobs, owner, content, dry_run=True)
    assert dry["counts"]["created"] == 4
    assert await fetches() == []
    await imported(app, client, jobs, owner, content)
    expected = [("Mug", a, 0), ("Tote", a, 0), ("Tote", b, 1), ("Tote", c, 2)]
    assert await fetches() == expected
    assert [jobs.task_names[i] for i in jobs.published] == [FETCH_TASK] * 4
    # The same file again: nothing is fetched again.
    again = await imported(app, client, jobs, owner, content)
    assert again["counts"]["unchanged"] == 4
    assert await fetches() == expected
    assert len(jobs.published) == 4


async def test_a_frozen_store_cannot_import(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    owner = await vendor(app, client, boss)
    suspended = await client.post(
        f"/admin/vendors/{await store_id(client, owner)}/suspend",
        json={"reason": "complaints"},
        headers=boss.headers,
    )
    assert suspended.status_code == 200, suspended.text
    refused = await upload(client, owner, to_csv(HEADER, sample_rows("")))
    assert refused.status_code == 403
    assert error_code(refused) == "vendor_suspended"
    assert await count(app, "product_import") == 0
    assert jobs.published == []
    listed = await client.get("/vendors/me/imports", headers=owner.headers)
    assert listed.status_code == 200


async def test_imported_products_are_searchable_when_their_batch_commits(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """Each batch indexes what it wrote in its own transaction: no search job is asked for."""
    owner = await vendor(app, client)
    rows_ = [
        ["Zobo drink", "", "ZOBO-1L", "150000", "", "40", "active"],
        ["Kunu drink", "", "KUNU-1L", "90000", "", "0", "draft"],
    ]

    async def drinks() -> list[tuple[str, int]]:
        found = (await client.get("/search", params={"q": "drink"})).json()["items"]
        return [(h["title"], h["price"]) for h in found]

    await imported(app, client, jobs, owner, to_csv(HEADER[:7], rows_))
    assert jobs.published == []
    zobo = (await client.get("/products", params={"vendor": await store_id(client, owner)})).json()
    first = zobo["items"][0]["variants"][0]["price"]
    assert await drinks() == [("Zobo drink", first)]
    rows_[0][3] = "120000"
    await imported(app, client, jobs, owner, to_csv(HEADER[:7], rows_))
    assert jobs.published == []
    again = (await client.get("/products", params={"vendor": await store_id(client, owner)})).json()
    second = again["items"][0]["variants"][0]["price"]
    assert second != first
    assert await drinks() == [("Zobo drink", second)]


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
async def test_a_batch_reads_its_own_keys_not_the_whole_store(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """Each key of a batch is one index probe: a batch's reads do not grow with the store (issue
    18: they read every row of it, with each SKU compared to every key of the batch)."""
    owner = await vendor(app, client)
    lines = [[f"Product {i // 2}", "", f"SKU-{i}", "100", "", "1"] for i in range(3000)]
    report = await imported(app, client, jobs, owner, to_csv(HEADER[:6], lines))
    assert report["counts"]["created"] == 3000
    [(vendor_id,)] = await rows(app, "SELECT DISTINCT vendor_id FROM product_variant")
    skus = ["SKU-3", "SKU-10", "SKU-2999", "SKU-NONE"]
    keys = ["Product 1", "Product 1499", "Product NONE"]

    async def tuples_read(db: AsyncSession, table: str) -> int:
        query = text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = :table"
        )
        return int((await db.execute(query, {"table": table})).scalar_one())

    async with AsyncSession(app.state.runtime.database.engine) as db, db.begin():
        # Generic plans, as the prepared statements of a long import end up with.
        await db.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        before = await tuples_read(db, "product_variant")
        variants = await repository.variants_by_sku(db, vendor_id, skus, lock=True)
        assert sorted(v.sku for v in variants) == ["SKU-10", "SKU-2999", "SKU-3"]
        assert await tuples_read(db, "product_variant") - before == 3

        before = await tuples_read(db, "product_handle")
        handles = await repository.handles(db, vendor_id, keys)
        assert sorted(handles) == ["Product 1", "Product 1499"]
        assert await tuples_read(db, "product_handle") - before == 2

        before = await tuples_read(db, "product")
        found = await repository.products(db, vendor_id, [*handles.values(), uuid.uuid4()])
        assert sorted(p.title for p in found.values()) == ["Product 1", "Product 1499"]
        assert set(found) == set(handles.values())
        assert await tuples_read(db, "product") - before == 2


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
async def test_a_batch_rewrites_each_new_product_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """A batch's new variants are one statement, so the listing's statement trigger recounts each
    product once (issue 18: an executemany ran it per variant, rewriting a product per variant)."""
    owner = await vendor(app, client)
    vendor_id = uuid.UUID(await store_id(client, owner))
    raws = [
        {
            "title": f"Product {i // 2}",
            "sku": f"SKU-{i}",
            "price": str(100 + i),
            "stock": str(i % 3),
        }
        for i in range(6)
    ]
    items: list[parsing.Row | parsing.Failure] = [
        parsing.parse_row(number, raw) for number, raw in enumerate(raws, start=2)
    ]
    state = batches.RunState(
        vendor_id=vendor_id, actor_id=None, dry_run=False, lock=True, max_failed_rows=100
    )
    updates = text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'product'")
    async with AsyncSession(app.state.runtime.database.engine) as db, db.begin():
        before = int((await db.execute(updates)).scalar_one())
        batch = await batches.plan(db, state, uuid.uuid4(), items, utcnow())
        await batches.write(db, batch, dry_run=False)
        assert int((await db.execute(updates)).scalar_one()) - before == 3
        listing = await db.execute(
            text(
                "SELECT title, min_price, max_price, stocked_variants FROM product "
                "WHERE vendor_id = :vendor_id ORDER BY title"
            ),
            {"vendor_id": vendor_id},
        )
        assert [tuple(row) for row in listing] == [
            ("Product 0", 100, 101, 1),
            ("Product 1", 102, 103, 1),
            ("Product 2", 104, 105, 2),
        ]
        assert batch.counts == {"created": 6}


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
async def test_a_run_analyses_the_catalogue_after_its_first_batch(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """Once per run, after the first batch, so that the next batches' probes are planned with
    statistics (a never-analysed table makes each probe read the whole store); a dry run writes
    nothing and analyses nothing."""
    use_settings(app, import_batch_rows=2)
    owner = await vendor(app, client)
    tables = ("product", "product_handle", "product_variant")

    async def analyses() -> dict[str, int]:
        found = await rows(
            app,
            "SELECT relname, analyze_count FROM pg_stat_user_tables "
            "WHERE relname IN ('product', 'product_handle', 'product_variant')",
        )
        return {str(name): int(n) for name, n in found}

    lines = [[f"Product {i // 2}", "", f"SKU-{i}", "100", "", "1"] for i in range(6)]
    before = await analyses()
    dry = await imported(app, client, jobs, owner, to_csv(HEADER[:6], lines), dry_run=True)
    assert dry["counts"]["created"] == 6
    assert await analyses() == before
    report = await imported(app, client, jobs, owner, to_csv(HEADER[:6], lines))
    assert report["counts"] == {"created": 6, "updated": 0, "unchanged": 0, "failed": 0}
    assert await analyses() == {table: before[table] + 1 for table in tables}

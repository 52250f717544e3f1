"""Product images: uploaded through the files pipeline into listing, detail and thumbnail sizes,
ordered, described, deleted with their objects, shown in every product answer (the listing still
in three statements); fetched from URLs by ``fetch_product_image`` over real HTTP, once per
product and URL, with refused URLs failing at once and for a recorded reason."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from PIL import Image
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.core.jobs import Job
from oja.marketplace.catalog.jobs import fetch_product_image
from oja.marketplace.catalog.models import ProductImage
from oja.sandbox.server import SandboxServer
from tests.conftest import Jobs, use_settings
from tests.files import media
from tests.files.conftest import download, stored_keys

from .conftest import Person, admin, approved_store, count, error_code, person, rows
from .scoping import statement_log

PHOTO = media.jpeg(2000, 1500)


async def _product(client: httpx.AsyncClient, owner: Person, title: str = "Tote") -> str:
    created = await client.post(
        "/products",
        json={"title": title, "sku": f"SKU-{uuid.uuid4().hex[:8]}", "price": 4500},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["images"] == []
    return str(created.json()["id"])


async def _store(app: Any, client: httpx.AsyncClient) -> tuple[Person, dict[str, Any]]:
    owner = await person(client, "vendor")
    store = await approved_store(client, owner, await admin(app, client))
    return owner, store


async def _upload(
    client: httpx.AsyncClient,
    owner: Person,
    product_id: str,
    data: bytes = PHOTO,
    **fields: str,
) -> httpx.Response:
    return await client.post(
        f"/products/{product_id}/images",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        data=fields,
        headers=owner.headers,
    )


async def _size(client: httpx.AsyncClient, app: Any, url: str) -> tuple[int, int]:
    response = await download(client, app, url)
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as image:
        return image.size


async def test_an_upload_becomes_listing_detail_and_thumbnail_sizes(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner, _ = await _store(app, client)
    pid = await _product(client, owner)
    uploaded = await _upload(client, owner, pid, alt_text="  The tote, front ")
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()
    assert (image["position"], image["alt_text"], image["status"], image["urls"]) == (
        0,
        "The tote, front",
        "pending",
        None,
    )
    assert await jobs.run(app) == ["succeeded"]
    [shown] = (await client.get(f"/products/{pid}", headers=owner.headers)).json()["images"]
    assert (shown["id"], shown["status"]) == (image["id"], "ready")
    urls = shown["urls"]
    assert sorted(urls) == ["detail", "listing", "original", "thumbnail"]
    assert await _size(client, app, urls["listing"]) == (640, 480)
    assert await _size(client, app, urls["detail"]) == (1200, 900)
    assert await _size(client, app, urls["thumbnail"]) == (256, 192)
    assert (await download(client, app, urls["original"])).content == PHOTO
    # The file is the store owner's, with the product profile; /files shows its sizes too.
    [(owner_id, profile)] = await rows(app, "SELECT owner_id, image_profile FROM file")
    assert (uuid.UUID(str(owner_id)), profile) == (uuid.UUID(owner.id), "product")


async def test_a_plain_upload_still_gets_exactly_the_standard_variants(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    user = await person(client)
    response = await client.post(
        "/upload", files={"file": ("p.jpg", PHOTO, "image/jpeg")}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    await jobs.run(app)
    file_id = response.json()["id"]
    result = (await client.get(f"/upload/{file_id}/result", headers=user.headers)).json()
    assert set(result["variants"]) == {"resized", "compressed", "compressed_jpeg", "thumbnail"}


async def test_order_alt_text_and_delete(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    owner, _ = await _store(app, client)
    pid = await _product(client, owner)
    first = (await _upload(client, owner, pid)).json()
    second = (await _upload(client, owner, pid, data=media.png(300, 200), position="0")).json()
    third = (await _upload(client, owner, pid, data=media.png(30, 20))).json()
    assert (first["position"], second["position"], third["position"]) == (0, 0, 2)
    await jobs.run(app)

    async def order() -> list[tuple[str, int, str | None]]:
        product = (await client.get(f"/products/{pid}", headers=owner.headers)).json()
        return [(i["id"], i["position"], i["alt_text"]) for i in product["images"]]

    # Equal positions: the older first.
    assert await order() == [
        (first["id"], 0, None),
        (second["id"], 0, None),
        (third["id"], 2, None),
    ]
    moved = await client.patch(
        f"/products/{pid}/images/{first['id']}",
        json={"position": 5, "alt_text": "Side view"},
        headers=owner.headers,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["position"], moved.json()["alt_text"], moved.json()["status"]) == (
        5,
        "Side view",
        "ready",
    )
    assert await order() == [
        (second["id"], 0, None),
        (third["id"], 2, None),
        (first["id"], 5, "Side view"),
    ]
    cleared = await client.patch(
        f"/products/{pid}/images/{first['id']}", json={"alt_text": None}, headers=owner.headers
    )
    assert (cleared.json()["position"], cleared.json()["alt_text"]) == (5, None)
    bad = await client.patch(
        f"/products/{pid}/images/{first['id']}", json={"position": -1}, headers=owner.headers
    )
    assert bad.status_code == 422

    keys_before = stored_keys(app)
    async with unit_of_work(app.state.runtime.database) as db:
        file_id = await db.scalar(
            select(ProductImage.file_id).where(ProductImage.id == uuid.UUID(second["id"]))
        )
    deleted = await client.delete(f"/products/{pid}/images/{second['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    assert [i for i, _, _ in await order()] == [third["id"], first["id"]]
    assert await count(app, "product_image") == 2
    assert await count(app, "file") == 2
    gone = [key for key in keys_before if str(file_id) in key]
    assert gone
    assert not set(gone) & set(stored_keys(app))
    again = await client.delete(f"/products/{pid}/images/{second['id']}", headers=owner.headers)
    assert (again.status_code, error_code(again)) == (404, "image_not_found")


async def test_what_is_not_an_image_is_refused_and_leaves_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner, _ = await _store(app, client)
    pid = await _product(client, owner)
    refused = await _upload(client, owner, pid, data=b"%PDF-1.4 not a picture at all\n" * 20)
    assert (refused.status_code, error_code(refused)) == (422, "not_an_image")
    bad_position = await _upload(client, owner, pid, position="first")
    assert bad_position.status_code == 422
    assert await count(app, "product_image") == 0
    assert await count(app, "file") == 0
    assert await count(app, "job") == 0
    assert [key for key in stored_keys(app) if key.startswith("files/")] == []
    use_settings(app, product_image_max_bytes=1000)
    too_big = await _upload(client, owner, pid)
    assert (too_big.status_code, error_code(too_big)) == (413, "payload_too_large")
    use_settings(app, product_image_max_bytes=10**7, product_images_max=1)
    assert (await _upload(client, owner, pid)).status_code == 201
    full = await _upload(client, owner, pid)
    assert (full.status_code, error_code(full)) == (409, "too_many_images")
    assert await count(app, "product_image") == 1


async def test_the_listing_shows_images_within_its_statement_budget(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    owner, store = await _store(app, client)
    titles = ["One", "Two", "Three"]
    pids = [await _product(client, owner, title) for title in titles]
    for pid in pids:
        patched = await client.patch(
            f"/products/{pid}", json={"status": "active"}, headers=owner.headers
        )
        assert patched.status_code == 200
    for pid in pids[:2]:
        assert (await _upload(client, owner, pid, alt_text="a")).status_code == 201
        assert (await _upload(client, owner, pid, data=media.png(40, 40))).status_code == 201
    pending = (await client.get("/products")).json()["items"]
    assert [len(p["images"]) for p in pending] == [0, 2, 2]
    assert {i["status"] for p in pending for i in p["images"]} == {"pending"}
    assert all(i["urls"] is None for p in pending for i in p["images"])
    await jobs.run(app)
    with statement_log(app.state.runtime.database.engine) as log, log.on():
        listing = await client.get(f"/products?vendor={store['slug']}")
    assert listing.status_code == 200
    assert len(log.statements) <= 3, log.statements
    items = listing.json()["items"]
    assert [p["title"] for p in items] == ["Three", "Two", "One"]
    two = items[1]["images"]
    assert [(i["position"], i["alt_text"], i["status"]) for i in two] == [
        (0, "a", "ready"),
        (1, None, "ready"),
    ]
    assert await _size(client, app, two[1]["urls"]["thumbnail"]) == (40, 40)
    public = (await client.get(f"/products/{pids[1]}")).json()["images"]
    assert [i["id"] for i in public] == [i["id"] for i in two]


# Fetching from URLs


def _image_server() -> FastAPI:
    site = FastAPI()
    calls: list[str] = []
    site.state.calls = calls

    @site.get("/{name}")
    def serve(name: str) -> Response:
        calls.append(name)
        if name == "photo.jpg":
            return Response(PHOTO, media_type="image/jpeg")
        if name == "lying.png":  # declared an image, the bytes are HTML
            return Response(b"<html><body>hello</body></html>" * 10, media_type="image/png")
        if name == "huge.jpg":
            return Response(media.jpeg(3000, 3000, quality=100), media_type="image/jpeg")
        if name == "moved.jpg":
            return RedirectResponse("/photo.jpg", status_code=302)
        if name == "loop.jpg":
            return RedirectResponse("/loop.jpg", status_code=302)
        if name == "flaky.jpg":
            return Response(b"busy", status_code=503)
        return Response(b"no", status_code=404)

    return site


@pytest.fixture
def image_site() -> Iterator[SandboxServer]:
    with SandboxServer(_image_server()) as server:
        yield server


async def _fetch(app: Any, jobs: Jobs, store: dict[str, Any], pid: str, url: str) -> list[str]:
    async with unit_of_work(app.state.runtime.database) as db:
        fetch_product_image.enqueue(
            db,
            vendor_id=uuid.UUID(store["id"]),
            product_id=uuid.UUID(pid),
            url=url,
            position=3,
        )
    return await jobs.run(app)


async def _last_job(app: Any, kind: str) -> Job:
    async with unit_of_work(app.state.runtime.database) as db:
        found = (
            await db.scalars(
                select(Job).where(Job.kind == kind).order_by(Job.created_at.desc(), Job.id.desc())
            )
        ).first()
        assert found is not None
        return found


async def test_a_fetched_image_is_added_once_and_processed(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, image_site: SandboxServer
) -> None:
    use_settings(app, http_allow_private_hosts=["127.0.0.1"])
    owner, store = await _store(app, client)
    pid = await _product(client, owner)
    url = f"{image_site.url}/photo.jpg"
    assert await _fetch(app, jobs, store, pid, url) == ["succeeded", "succeeded"]  # + processing
    job = await _last_job(app, "marketplace.product_image.fetch")
    assert job.result is not None
    assert job.result["bytes"] == len(PHOTO)
    # The same product and URL again (a re-run import, a retried job): nothing new.
    assert await _fetch(app, jobs, store, pid, url) == ["succeeded"]
    again = await _last_job(app, "marketplace.product_image.fetch")
    assert again.result == {"image_id": job.result["image_id"], "skipped": "already fetched"}
    assert await count(app, "product_image") == 1
    assert await count(app, "file") == 1
    assert image_site.app.state.calls == ["photo.jpg"]
    [shown] = (await client.get(f"/products/{pid}", headers=owner.headers)).json()["images"]
    assert (shown["id"], shown["position"], shown["status"]) == (job.result["image_id"], 3, "ready")
    assert await _size(client, app, shown["urls"]["listing"]) == (640, 480)
    [(source, owner_id)] = await rows(
        app,
        "SELECT product_image.source_url, file.owner_id FROM product_image "
        "JOIN file ON file.id = product_image.file_id",
    )
    assert (source, uuid.UUID(str(owner_id))) == (url, uuid.UUID(owner.id))
    # A redirect is followed (and its target checked like the URL); another product may fetch
    # the same URL.
    other = await _product(client, owner, "Other")
    assert await _fetch(app, jobs, store, other, f"{image_site.url}/moved.jpg") == [
        "succeeded",
        "succeeded",
    ]
    assert await count(app, "product_image") == 2


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("missing.jpg", "http_status: the server answered 404"),
        ("lying.png", "not_an_image: not an image (the bytes are text/html)"),
        ("huge.jpg", "too_big: the image is"),
        ("loop.jpg", "too_many_redirects: more than 3 redirects"),
    ],
)
async def test_a_refused_url_fails_at_once_with_its_reason(
    app: Any,
    client: httpx.AsyncClient,
    jobs: Jobs,
    image_site: SandboxServer,
    path: str,
    reason: str,
) -> None:
    use_settings(app, http_allow_private_hosts=["127.0.0.1"], product_image_max_bytes=300_000)
    owner, store = await _store(app, client)
    pid = await _product(client, owner)
    assert await _fetch(app, jobs, store, pid, f"{image_site.url}/{path}") == ["failed"]
    job = await _last_job(app, "marketplace.product_image.fetch")
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.last_error is not None
    assert job.last_error.startswith(f"PermanentJobError: {reason}"), job.last_error
    assert await count(app, "product_image") == 0
    assert await count(app, "file") == 0
    assert [key for key in stored_keys(app) if key.startswith("files/")] == []


async def test_a_private_address_is_refused_unless_allowed(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, image_site: SandboxServer
) -> None:
    owner, store = await _store(app, client)
    pid = await _product(client, owner)
    assert await _fetch(app, jobs, store, pid, f"{image_site.url}/photo.jpg") == ["failed"]
    job = await _last_job(app, "marketplace.product_image.fetch")
    assert job.last_error == (
        "PermanentJobError: private_address: The URL points to a private or reserved address."
    )
    assert image_site.app.state.calls == []  # refused before any connection
    for url in ("file:///etc/passwd", "http://user:pw@example.com/a.jpg"):
        assert await _fetch(app, jobs, store, pid, url) == ["failed"]
    assert await count(app, "product_image") == 0


async def test_a_passing_failure_is_retried_and_a_gone_product_skipped(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, image_site: SandboxServer
) -> None:
    use_settings(app, http_allow_private_hosts=["127.0.0.1"], http_retries=0)
    owner, store = await _store(app, client)
    pid = await _product(client, owner)
    outcomes = await _fetch(app, jobs, store, pid, f"{image_site.url}/flaky.jpg")
    assert outcomes[0] == "retrying"
    job = await _last_job(app, "marketplace.product_image.fetch")
    assert job.last_error == "ImageUnavailable: the server answered 503"
    assert await count(app, "product_image") == 0
    # Another store's product id is no product of this store's: the job does nothing.
    other_owner, _ = await _store(app, client)
    theirs = await _product(client, other_owner)
    assert await _fetch(app, jobs, store, theirs, f"{image_site.url}/photo.jpg") == ["succeeded"]
    skipped = await _last_job(app, "marketplace.product_image.fetch")
    assert skipped.result == {"skipped": "the product does not exist (in this store)"}
    assert await count(app, "product_image") == 0

"""Retrieval: ingestion through Oja's index pipeline next to the bare model, and query latency and
recall of the embedded vector indexes at 10k and 100k chunks.

1. Ingestion. Synthetic documents are indexed one by one through ``oja.rag.service.index_document``
   (chunking in MiniLM word-pieces, ``embed_long`` windows, rows + FTS5 + version log written to a
   migrated SQLite database). Baselines in the same run: ``minilm.load().embed`` over exactly the
   ≤ 256-token windows the pipeline embeds (the same model work, nothing else), and over short
   sentences (the model's sentences/s).
2. Query latency without the LLM. Clustered synthetic 384-d unit vectors (one owner holds them all:
   the worst case for the owner filter), top-10:
   - Oja's ``NumpyIndex`` over ``rag_chunk`` (the version check against the database included);
   - ChromaDB embedded (``PersistentClient``, HNSW, cosine) with the owner as a ``where`` filter.
   recall@10 against exact brute force over the same vectors, in the same run.
3. ``POST /query`` end to end without the LLM (the local extractive answer), over HTTP to one
   uvicorn process: ``--query-chunks`` chunks of real sentences (from the SQuAD evaluation corpus,
   shuffled into ~300-token chunks, so the keyword index sees a real vocabulary) with synthetic
   vectors, one owner holding them all; each question (the corpus's real questions) is embedded by
   MiniLM in the request, as in production. Two owners hold the same chunks, one with 3.9 random
   child vectors per chunk (small-chunk/parent) and one without (whole-chunk scoring, the path
   before child vectors); their requests alternate.

    python -m bench.rag [--sizes 10000,100000] [--queries 200] [--documents 12]
                        [--query-chunks 10000] [--only query]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert

from bench.common import bench_env, machine_line, markdown_table, percentile, uvicorn_server
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.identity.models import User
from oja.rag import minilm, repository, service
from oja.rag.config import RagSettings
from oja.rag.embedding import MINILM_NAME
from oja.rag.eval import squad_corpus, text_document
from oja.rag.eval.synthetic import prose
from oja.rag.models import RagChunk, RagChunkVector, chunk_id, rowkey_of
from oja.rag.vector_index import NumpyIndex, top_k_of

DIMENSION = minilm.DIMENSION
TOP_K = 10


def windows_of(text: str) -> list[str]:
    """The pieces ``MiniLM.embed_long`` embeds for ``text``."""
    return minilm.load().windows(text)


async def make_runtime(folder: Path) -> Runtime:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, var_dir=folder, env="test", log_level="WARNING")
    settings.validate()
    return Runtime.create(settings)


async def add_user_and_documents(
    runtime: Runtime, texts: list[str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    owner = uuid.uuid4()
    ids = [uuid.uuid4() for _ in texts]
    async with unit_of_work(runtime.database) as session:
        session.add(User(id=owner, email=f"{owner.hex}@example.com"))
        await session.flush()
        for document_id, text in zip(ids, texts, strict=True):
            session.add(text_document(document_id, owner, "bench.txt", text))
    return owner, ids


async def ingestion(folder: Path, documents: int) -> list[list[object]]:
    rng = random.Random(7)
    texts = [prose(rng, 10) for _ in range(documents)]
    model = minilm.load()
    model.embed(["warm up"])
    chunks = [c for text in texts for c in service.chunk_document(text, RagSettings())]
    pieces = [p for c in chunks for p in windows_of(c.text)]
    started = time.perf_counter()
    model.embed(pieces)
    raw = time.perf_counter() - started
    sentences = [s + "." for text in texts for s in text.split(". ")][: len(pieces) * 4]
    started = time.perf_counter()
    model.embed(sentences)
    raw_sentences = time.perf_counter() - started

    runtime = await make_runtime(folder)
    try:
        _, ids = await add_user_and_documents(runtime, texts)
        started = time.perf_counter()
        indexed = 0
        for document_id in ids:
            async with unit_of_work(runtime.database) as session:
                result = await service.index_document(session, runtime, document_id)
                indexed += result.chunks if result else 0
        pipeline = time.perf_counter() - started
    finally:
        await runtime.close()
    started = time.perf_counter()  # again, after: the faster baseline counts (shared machines)
    model.embed(pieces)
    raw = min(raw, time.perf_counter() - started)
    tokens = sum(c.token_count for c in chunks)
    return [
        [
            "bare model: `embed` over short sentences",
            len(sentences),
            "sentences",
            len(sentences) / raw_sentences,
            "–",
        ],
        [
            "bare model: `embed` over the same ≤256-token windows",
            len(chunks),
            "chunks",
            len(chunks) / raw,
            "100 %",
        ],
        [
            f"Oja pipeline: chunk + `embed_long` + rows/FTS/version ({tokens // max(1, len(chunks))} tokens/chunk)",
            indexed,
            "chunks",
            indexed / pipeline,
            f"{100 * raw / pipeline:.0f} %",
        ],
    ]


def chunk_row(
    document_id: uuid.UUID, owner: uuid.UUID, index: int, text: str, vector: np.ndarray
) -> dict[str, Any]:
    """A ``rag_chunk`` row written straight to the table, as the indexing job would."""
    cid = chunk_id(document_id, index, f"{document_id}:{index}")
    return {
        "id": cid,
        "rowkey": rowkey_of(cid),
        "document_id": document_id,
        "owner_id": owner,
        "chunk_index": index,
        "text": text,
        "start_char": 0,
        "end_char": len(text),
        "token_count": len(text.split()),
        "content_hash": f"{document_id}:{index}",
        "embedding": vector.astype("<f4").tobytes(),
        "embedding_model": MINILM_NAME,
        "embedding_dim": DIMENSION,
    }


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    picks = rng.integers(0, len(centres), size=n)
    vectors = centres[picks] + rng.normal(scale=0.35, size=(n, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


async def fill_numpy(
    folder: Path, vectors: np.ndarray
) -> tuple[Runtime, uuid.UUID, list[uuid.UUID]]:
    runtime = await make_runtime(folder)
    per_document = 1000
    documents = (len(vectors) + per_document - 1) // per_document
    owner, document_ids = await add_user_and_documents(runtime, ["x"] * documents)
    ids: list[uuid.UUID] = []
    for d, document_id in enumerate(document_ids):
        rows: list[dict[str, Any]] = []
        for i in range(d * per_document, min(len(vectors), (d + 1) * per_document)):
            index = i - d * per_document
            row = chunk_row(document_id, owner, index, f"chunk {i}", vectors[i])
            ids.append(row["id"])
            rows.append(row)
        async with unit_of_work(runtime.database) as session:
            await session.execute(insert(RagChunk), rows)
            await repository.bump_version(session, [document_id])
    return runtime, owner, ids


async def numpy_latency(
    folder: Path, vectors: np.ndarray, queries: np.ndarray, truth: list[set[int]]
) -> list[object]:
    runtime, owner, ids = await fill_numpy(folder, vectors)
    position = {cid: i for i, cid in enumerate(ids)}
    index = NumpyIndex(runtime.database.url, MINILM_NAME)
    try:
        async with unit_of_work(runtime.database) as session:
            started = time.perf_counter()
            await index.search(session, queries[0], owner, TOP_K)  # loads the matrix
            load = time.perf_counter() - started
            timings, recalls = [], []
            for query, expected in zip(queries, truth, strict=True):
                started = time.perf_counter()
                hits = await index.search(session, query, owner, TOP_K)
                timings.append((time.perf_counter() - started) * 1000)
                recalls.append(len({position[h] for h, _ in hits} & expected) / TOP_K)
    finally:
        await runtime.close()
    return [
        f"Oja NumpyIndex (exact; cold load {load:.1f} s)",
        len(vectors),
        percentile(timings, 50),
        percentile(timings, 99),
        float(np.mean(recalls)),
    ]


def chroma_latency(
    folder: Path, vectors: np.ndarray, queries: np.ndarray, truth: list[set[int]]
) -> list[list[object]]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "bench", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    owner = str(uuid.uuid4())
    started = time.perf_counter()
    batch = 5000
    for start in range(0, len(vectors), batch):
        stop = min(len(vectors), start + batch)
        collection.add(
            ids=[str(i) for i in range(start, stop)],
            embeddings=vectors[start:stop],
            metadatas=[
                {"owner_id": owner, "document_id": str(i // 1000)} for i in range(start, stop)
            ],
        )
    build = time.perf_counter() - started
    rows: list[list[object]] = []
    filters: list[tuple[str, Any]] = [
        ("owner `where`", {"owner_id": owner}),
        ("no filter, for reference", None),
    ]
    for label, where in filters:
        timings, recalls = [], []
        for query, expected in zip(queries, truth, strict=True):
            started = time.perf_counter()
            result = collection.query(
                query_embeddings=[query], n_results=TOP_K, where=where, include=["distances"]
            )
            timings.append((time.perf_counter() - started) * 1000)
            recalls.append(len({int(i) for i in result["ids"][0]} & expected) / TOP_K)
        rows.append(
            [
                f"Chroma PersistentClient, HNSW, {label} (build {build:.0f} s)",
                len(vectors),
                percentile(timings, 50),
                percentile(timings, 99),
                float(np.mean(recalls)),
            ]
        )
    return rows


def sentence_chunks(count: int, rng: random.Random) -> list[str]:
    sentences = [
        s.strip() + "."
        for text in squad_corpus().documents.values()
        for s in text.replace("\n", " ").split(". ")
        if s.strip()
    ]
    return [" ".join(rng.choice(sentences) for _ in range(12)) for _ in range(count)]


CHILDREN_PER_CHUNK = (4, 4, 4, 4, 4, 4, 4, 4, 4, 3)
"""Child vectors per chunk, cycled: 3.9 on average, as 128-token windows of the SQuAD chunks."""


async def fill_text_chunks(
    runtime: Runtime, owner: uuid.UUID, texts: list[str], children: bool
) -> None:
    """``texts`` as the chunks of documents of 1,000 chunks each, with random unit vectors; with
    ``children``, each chunk also gets :data:`CHILDREN_PER_CHUNK` random child vectors, else none
    (scored by its whole-chunk vector, as before child vectors existed)."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(len(texts), DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_document = 1000
    for start in range(0, len(texts), per_document):
        document_id = uuid.uuid4()
        rows: list[dict[str, Any]] = []
        child_rows: list[dict[str, Any]] = []
        for index, i in enumerate(range(start, min(len(texts), start + per_document))):
            row = chunk_row(document_id, owner, index, texts[i], vectors[i])
            rows.append(row)
            if children:
                kids = rng.normal(size=(CHILDREN_PER_CHUNK[i % 10], DIMENSION))
                kids /= np.linalg.norm(kids, axis=1, keepdims=True)
                child_rows += [
                    {
                        "chunk_id": row["id"],
                        "window_index": w,
                        "embedding": k.astype("<f4").tobytes(),
                    }
                    for w, k in enumerate(kids)
                ]
        async with unit_of_work(runtime.database) as session:
            session.add(text_document(document_id, owner, f"part-{start // per_document}.txt", "x"))
            await session.flush()
            await session.execute(insert(RagChunk), rows)
            if child_rows:
                await session.execute(insert(RagChunkVector), child_rows)
            await repository.bump_version(session, [document_id])


async def signed_in_owner(client: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, str]]:
    email = f"rag-bench-{uuid.uuid4().hex}@example.com"
    password = "correct horse battery"
    (
        await client.post("/auth/signup", json={"email": email, "password": password})
    ).raise_for_status()
    login = await client.post("/auth/login", json={"email": email, "password": password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return uuid.UUID((await client.get("/user/me", headers=headers)).json()["id"]), headers


async def query_requests(
    base_url: str, runtime: Runtime, chunks: int, queries: int
) -> list[list[object]]:
    """Two owners holding the same chunks, one without child vectors (whole-chunk scoring, the
    path before them) and one with; their questions alternate, so both see the same load."""
    rng = random.Random(3)
    questions = [q.text for q in squad_corpus().questions]
    texts = sentence_chunks(chunks, rng)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        owners = [await signed_in_owner(client) for _ in range(2)]
        for (owner, _), children in zip(owners, (False, True), strict=True):
            await fill_text_chunks(runtime, owner, texts, children)
        timings: list[list[float]] = [[], []]
        returned = [0, 0]
        for n in range(queries + 5):
            question = rng.choice(questions)
            for side, (_, headers) in enumerate(owners):
                started = time.perf_counter()
                response = await client.post(
                    "/query", json={"question": question, "top_k": 5}, headers=headers
                )
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if n >= 5:  # the first requests load the model and the matrix
                    timings[side].append(elapsed)
                    returned[side] += len(response.json()["chunks"])
    load = os.getloadavg()[0]
    return [
        [
            f"`POST /query`, top 5, local extractive answer, {label} (load average {load:.1f})",
            chunks,
            percentile(timings[side], 50),
            percentile(timings[side], 95),
            percentile(timings[side], 99),
            returned[side] / queries,
        ]
        for side, label in enumerate(
            ("whole-chunk vectors (no children)", "max over 3.9 child vectors per chunk")
        )
    ]


async def query_latency(folder: Path, chunks: int, queries: int) -> list[list[object]]:
    runtime = await make_runtime(folder)
    env = bench_env(
        OJA_VAR_DIR=str(folder),
        OJA_DATABASE_URL=runtime.database.url,
        OJA_LLM_PROVIDER="local",
        OJA_LOG_LEVEL="WARNING",
    )
    try:
        with uvicorn_server("oja.main:create_app", env=env, log_path=folder / "api.log") as url:
            return await query_requests(url, runtime, chunks, queries)
    finally:
        await runtime.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--documents", type=int, default=12)
    parser.add_argument("--query-chunks", type=int, default=10000)
    parser.add_argument("--only", choices=["query"], default=None)
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "query").mkdir()
        query_rows = await query_latency(folder / "query", args.query_chunks, args.queries)
        print(f"\n### `POST /query` without the LLM, {args.queries} requests, one at a time\n")
        headers = ["path", "chunks", "p50 ms", "p95 ms", "p99 ms", "chunks returned"]
        print(markdown_table(headers, query_rows))
        if args.only == "query":
            return
        (folder / "ingest").mkdir()
        rows = await ingestion(folder / "ingest", args.documents)
        print("\n### Ingestion (all-MiniLM-L6-v2 on NumPy, 1 process)\n")
        print(markdown_table(["path", "items", "unit", "per second", "of bare model"], rows))

        latency: list[list[object]] = []
        rng = np.random.default_rng(11)
        centres = rng.normal(size=(200, DIMENSION)).astype(np.float32)
        for size in (int(s) for s in args.sizes.split(",")):
            vectors = clustered(size, rng, centres)
            queries = clustered(args.queries, rng, centres)
            truth = [set(top_k_of(vectors @ q, TOP_K).tolist()) for q in queries]
            (folder / f"n{size}").mkdir()
            latency.append(await numpy_latency(folder / f"n{size}", vectors, queries, truth))
            latency.extend(chroma_latency(folder / f"n{size}", vectors, queries, truth))
        print(
            f"\n### Query latency, top-{TOP_K}, one owner holding every chunk, {args.queries} queries\n"
        )
        print(markdown_table(["index", "chunks", "p50 ms", "p99 ms", "recall@10"], latency))


if __name__ == "__main__":
    asyncio.run(main())

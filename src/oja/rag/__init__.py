"""Retrieval: chunking, embeddings, vector and keyword indexes, and answering questions with citations.

Flow: ``documents.text_extracted`` → ``rag.index_document`` (chunk in MiniLM word-pieces → embed →
replace the document's ``rag_chunk`` rows, their ``rag_chunk_vector`` child windows, keyword index
and vector index in one transaction) →
``POST /query`` (embed the question → vector top-N and keyword top-N, each filtered by owner inside
its query → vector candidates below ``min_score`` dropped, keyword candidates kept → fused by score,
keyword relevance / best + 2 × cosine, a chunk's cosine being its best child window's →
numbered-context prompt → citations checked against the
retrieved chunks).

The vector index default, measured by ``python -m bench.rag`` (2 shared CPUs, 384-d clustered
vectors, top-10, one owner holding every chunk, the owner filter applied; recall@10 against exact
brute force in the same run):

=============================================  =========  ========  ========  =========
index                                          chunks     p50 ms    p99 ms    recall@10
=============================================  =========  ========  ========  =========
NumpyIndex over ``rag_chunk`` (exact)          10,000     1.2       1.7       1.00
Chroma ``PersistentClient``, owner ``where``   10,000     22        35        1.00
Chroma ``PersistentClient``, no filter         10,000     1.1       1.8       1.00
NumpyIndex over ``rag_chunk`` (exact)          100,000    16.3      22        1.00
Chroma ``PersistentClient``, owner ``where``   100,000    220       284       0.99
Chroma ``PersistentClient``, no filter         100,000    1.1       1.4       0.99
=============================================  =========  ========  ========  =========

So the embedded default is exact NumPy search over the vectors stored in ``rag_chunk``: at 100k
chunks it answers in 16 ms (p50) with recall 1.0 by construction, while Chroma's embedded HNSW,
1 ms without a filter, takes 220 ms once the owner ``where`` that every Oja query needs is added
(13x slower than exact search here). Just as important, the vectors commit in the same database transaction as
their chunks, so the API and every worker process share one consistent index, while a
``PersistentClient`` is a single-process store. Beyond one database's worth of chunks, or to keep
vector memory out of the API processes, set ``OJA_CHROMA_URL`` (a Chroma server).

Ingestion through the whole pipeline (chunking, ``embed_long``, rows, FTS, version log) ran at
91 % to 134 % of the bare model's speed over the same ≤ 256-token windows in three runs on a shared
machine (per-document batches are smaller, and small batches are cheaper for this NumPy model):
the model is the cost, not Oja.
"""

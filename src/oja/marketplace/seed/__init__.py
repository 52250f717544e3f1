"""``oja seed``: a generated marketplace for local exploration and the benchmarks.

:mod:`.plan` draws every row from one ``random.Random(seed)`` (ids too, so two databases seeded
alike hold the same rows), :mod:`.pictures` renders the product pictures and stores them through
the files storage, and :mod:`.writer` bulk-inserts the rows in one unit of work, books each paid
group and each processed refund through the ledger's own settlement functions (so the ledger is
balanced exactly as checkout would have left it) and rebuilds the search index.
"""

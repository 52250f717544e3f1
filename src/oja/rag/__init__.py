"""Retrieval: chunking, embeddings, vector and keyword indexes, and answering questions with citations."""

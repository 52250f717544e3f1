"""The query's one-BLAS-thread limit is counted: overlapping queries keep it until the last ends,
and then the original thread count is back."""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

from oja.rag import blas


def blas_threads(controller: ThreadpoolController) -> list[int]:
    return [int(lib["num_threads"]) for lib in controller.info() if lib["user_api"] == "blas"]


def test_overlapping_queries_restore_the_original_count_once() -> None:
    controller = ThreadpoolController()
    with controller.limit(limits=2, user_api="blas"):
        assert blas_threads(controller) == [2]
        with blas.one_thread():
            assert blas_threads(controller) == [1]
            with blas.one_thread():
                assert blas_threads(controller) == [1]
            assert blas_threads(controller) == [1]
        assert blas_threads(controller) == [2]

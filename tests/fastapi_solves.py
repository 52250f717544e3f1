"""Which requests FastAPI's general dependency solver ran for: what `LeanRoute` tests assert
(the lean handler skips it; its fallbacks and dependency overrides use it)."""

from __future__ import annotations

from typing import Any

import pytest


def count_solves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch ``fastapi.routing.solve_dependencies`` for the test; the list it returns fills with
    the path of each request the solver is called for."""
    import fastapi.routing

    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return solved

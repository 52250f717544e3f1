"""Generated documentation stays true: the README's settings table and docs/openapi.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import oja.api  # noqa: F401 - every module's settings classes
from oja.core.config import all_sections, settings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", readme, re.S)
    assert match, "README.md lacks the settings table markers"
    assert match.group(1) == settings_markdown(all_sections()), (
        "README settings table is stale: run `oja settings` and paste it between the markers"
    )


def test_every_setting_is_one_table_row() -> None:
    rows = settings_markdown(all_sections()).splitlines()
    broken = [row for row in rows if not (row.startswith("| ") and row.endswith(" |"))]
    assert broken == [], "a wrapped docstring broke the markdown table"
    assert len(rows) == 2 + sum(1 for row in rows if row.startswith("| `OJA_"))


def test_exported_openapi_document_is_current(app: Any) -> None:
    exported = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert exported == app.openapi(), "docs/openapi.json is stale: run `make openapi`"

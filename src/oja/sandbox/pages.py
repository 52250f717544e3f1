"""The one tiny HTML page the inbox views share (no templates, no assets)."""

from __future__ import annotations

import html


def table_page(title: str, columns: list[str], rows: str) -> str:
    """A page with a heading and a table; ``rows`` is already-escaped ``<tr>`` markup."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = rows or f'<tr><td colspan="{len(columns)}">Nothing yet.</td></tr>'
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}"
        "td{white-space:pre-wrap}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><table><tr>{head}</tr>{body}</table></body></html>"
    )

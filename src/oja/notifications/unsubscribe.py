"""One-click unsubscribe (RFC 8058): the signed link every marketing email carries.

The token names a user and a category and is signed with a key derived from the app secret
(:func:`oja.identity.digests.keyed_digest`), so it works without signing in and cannot be made for
another user or category; it is not single-use (a mail client may POST it twice) and only ever
turns a category's email off.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from oja.identity.digests import keyed_digest, same_digest
from oja.notifications.catalogue import Category

LABEL = "notifications.unsubscribe"
PATH = "/notifications/unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"


def token_for(secret: str, user_id: uuid.UUID, category: Category) -> str:
    return f"{user_id}.{category.value}.{keyed_digest(secret, LABEL, str(user_id), category.value)}"


def read_token(secret: str, token: str) -> tuple[uuid.UUID, Category] | None:
    """The user and category a genuine token names; None for a forged or damaged one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    user_text, category_text, signature = parts
    try:
        user_id, category = uuid.UUID(user_text), Category(category_text)
    except ValueError:
        return None
    expected = keyed_digest(secret, LABEL, str(user_id), category.value)
    return (user_id, category) if same_digest(expected, signature) else None


def headers(public_url: str, secret: str, user_id: uuid.UUID, category: Category) -> dict[str, str]:
    """The RFC 8058 header pair for a marketing email to ``user_id``."""
    url = f"{public_url.rstrip('/')}{PATH}?token={quote(token_for(secret, user_id, category))}"
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}

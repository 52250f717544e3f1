"""The Open Platform request signature (marketplace-apis §3.3).

Every parameter sent except ``sign`` is sorted by name (byte-wise), concatenated as
``name1value1name2value2…``. ``sha256`` is HMAC-SHA256 keyed with the app secret, a system API (a
path such as ``/auth/token/create``) prefixing its path; ``md5`` is the legacy TOP form
``MD5(secret + string + secret)``, which knew no path APIs. Both are hex-encoded upper case.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

SignMethod = Literal["sha256", "md5"]


def string_to_sign(params: Mapping[str, str], api_path: str | None = None) -> str:
    body = "".join(f"{name}{params[name]}" for name in sorted(params) if name != "sign")
    return f"{api_path}{body}" if api_path and "/" in api_path else body


def sign(
    secret: str,
    params: Mapping[str, str],
    *,
    api_path: str | None = None,
    method: SignMethod = "sha256",
) -> str:
    if method == "md5":
        text = string_to_sign(params)
        digest = hashlib.md5(f"{secret}{text}{secret}".encode(), usedforsecurity=False)
        return digest.hexdigest().upper()
    text = string_to_sign(params, api_path)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()

"""Keyed digests and sealing for the secrets identity keeps: OTPs, link tokens, TOTP secrets.

Every short-lived secret is stored as an HMAC-SHA256 under a key derived from the app secret and a
purpose label, so a database dump alone neither reveals nor lets anyone test a code offline, and a
digest made for one purpose never matches in another. TOTP secrets must be read back, so they are
sealed with AES-256-GCM instead (again under a derived key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OTP_DIGITS = 6


def _derive(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode(), f"oja.identity.{label}".encode(), hashlib.sha256).digest()


def keyed_digest(secret: str, label: str, *parts: str) -> str:
    """Hex HMAC-SHA256 of ``parts`` under the key for ``label``."""
    message = "\x1f".join(parts).encode()
    return hmac.new(_derive(secret, label), message, hashlib.sha256).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_otp() -> str:
    """Six uniformly random decimal digits."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def new_link_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def seal(secret: str, label: str, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(secret, label)).encrypt(nonce, plaintext.encode(), label.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(secret: str, label: str, token: str) -> str:
    raw = base64.urlsafe_b64decode(token.encode("ascii"))
    return AESGCM(_derive(secret, label)).decrypt(raw[:12], raw[12:], label.encode()).decode()

"""API tokens: random secrets of which only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "cmp_"


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: there is no
    # small space of guesses for a slow hash to protect.
    return hashlib.sha256(token.encode()).digest()

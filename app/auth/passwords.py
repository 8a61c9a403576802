"""Password hashing with argon2id (argon2-cffi); tokens hashed with SHA-256."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MIN_PASSWORD",
    "TOKEN_PREFIX",
    "check_password_strength",
    "hash_password",
    "hash_token",
    "needs_rehash",
    "new_password",
    "new_token",
    "verify_password",
]

#: the shortest password accepted
MIN_PASSWORD = 8
#: every API token starts with this (so a leaked one is recognisable by secret scanners)
TOKEN_PREFIX = "pmm_"

_HASHER = PasswordHasher()  # argon2id, the library's recommended (RFC 9106 low-memory) profile
#: the test suite's hasher (Settings.testing): still argon2id, at the cheapest parameters
_CHEAP = PasswordHasher.from_parameters(profiles.CHEAPEST)


@functools.cache
def _dummy() -> str:
    """A hash of a random password: verified against when the user does not exist (same timing)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str, *, cheap: bool = False) -> str:
    """The argon2id hash of ``password`` (salted; the parameters are inside the hash).

    ``cheap`` (tests only) uses the cheapest parameters; verification reads them from the hash.
    """
    return (_CHEAP if cheap else _HASHER).hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (None: compare against a dummy)."""
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with older parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def current_is_cheap(stored: str) -> bool:
    """Whether ``stored`` was made with the test suite's cheap parameters (left as they are)."""
    try:
        return not _CHEAP.check_needs_rehash(stored)
    except InvalidHashError:
        return False


def check_password_strength(password: str) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if password.strip() != password:
        return "a password may not start or end with spaces"
    return None


def new_password() -> str:
    """A random password (about 120 bits) for the first admin."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    """A new API token: ``pmm_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 of a token, as stored (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()

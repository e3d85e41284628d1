"""Passwords: argon2id hashes (argon2-cffi), the length rule, and checks that take even time."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cadenza.errors import ValidationFailed

MIN_LENGTH = 10
# argon2 hashes whatever it is given; a cap keeps a megabyte "password" from costing CPU.
MAX_LENGTH = 256
# RFC 9106's second recommended option (argon2id, 64 MiB, 3 passes): argon2-cffi's default.
_HASHER = PasswordHasher()


def check_rule(password: str) -> None:
    """ValidationFailed unless the password is long enough (and not absurdly long)."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash to store for a password that meets the rule."""
    check_rule(password)
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches the stored hash; a missing hash costs the same and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _nobody(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)


@lru_cache(maxsize=1)
def _nobody() -> str:
    """A hash to check when there is none: an unknown email costs what a wrong password does.

    Made on first use: hashing takes tens of milliseconds, too long for every command's start.
    """
    return _HASHER.hash("no user has this password")

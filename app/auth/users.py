"""Users, groups, memberships and API tokens: plain functions on a database session.

Used by the login views, the My maps page and the ``mapmanager user|group`` commands. They
flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pymapmanager.errors import InvalidParameterError, MapNotFoundError

from ..db.models import ApiToken, Group, Membership, User, utcnow
from .passwords import (
    TOKEN_PREFIX,
    check_password_strength,
    current_is_cheap,
    hash_password,
    hash_token,
    needs_rehash,
    new_token,
    verify_password,
)

__all__ = [
    "RESERVED_NAMES",
    "TokenInfo",
    "add_member",
    "authenticate",
    "create_group",
    "create_token",
    "create_user",
    "get_group",
    "get_user",
    "group_names_of",
    "list_groups",
    "list_tokens",
    "list_users",
    "remove_group",
    "remove_member",
    "remove_user",
    "revoke_token",
    "set_password",
    "user_for_token",
    "validate_name",
]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,62}$")
#: names no user or group may take (``public`` owns the public maps; the others are folders)
RESERVED_NAMES = frozenset({"public", "incoming", "trash", "api", "admin-tools", "anonymous"})


def validate_name(name: str, kind: str = "user") -> str:
    """``name`` when it can be a user or group name (also a folder name), else InvalidParameterError."""
    if not _NAME.match(name) or name.endswith(".previous"):
        raise InvalidParameterError(
            f"'{name}' is not a valid {kind} name: use 1-63 lower-case letters, digits, '_', '.', '-'"
            " starting with a letter or digit"
        )
    if name in RESERVED_NAMES:
        raise InvalidParameterError(f"'{name}' is reserved and cannot be a {kind} name")
    return name


def _password_ok(password: str) -> str:
    why = check_password_strength(password)
    if why:
        raise InvalidParameterError(why)
    return password


def get_user(db: Session, name: str) -> User | None:
    """The user called ``name``, or None."""
    return db.scalar(select(User).where(User.name == name))


def _user(db: Session, name: str) -> User:
    u = get_user(db, name)
    if u is None:
        raise MapNotFoundError(f"no user {name}")
    return u


def create_user(
    db: Session, name: str, password: str, *, admin: bool = False, cheap_hash: bool = False
) -> User:
    """A new user (InvalidParameterError for a bad or taken name or a weak password).

    ``cheap_hash``: the test suite's cheapest argon2 parameters (never in production).
    """
    validate_name(name)
    _password_ok(password)
    if get_user(db, name) is not None:
        raise InvalidParameterError(f"user {name} exists already")
    u = User(
        name=name,
        password_hash=hash_password(password, cheap=cheap_hash),
        is_admin=admin,
        session_nonce=secrets.token_hex(8),
    )
    db.add(u)
    db.flush()
    log.info("user %s created%s", name, " (admin)" if admin else "")
    return u


def set_password(db: Session, name: str, password: str) -> User:
    """Change a user's password; every session of theirs made before is logged out."""
    u = _user(db, name)
    u.password_hash = hash_password(_password_ok(password))
    u.session_nonce = secrets.token_hex(8)
    db.flush()
    log.info("password of user %s changed", name)
    return u


def set_admin(db: Session, name: str, admin: bool) -> User:
    """Make ``name`` an admin or not."""
    u = _user(db, name)
    u.is_admin = admin
    db.flush()
    return u


def remove_user(db: Session, name: str) -> None:
    """Remove a user, their memberships and tokens (their map folders stay on disk)."""
    u = _user(db, name)
    db.delete(u)
    db.flush()
    log.info("user %s removed", name)


def list_users(db: Session) -> list[User]:
    """Every user, by name."""
    return list(db.scalars(select(User).order_by(User.name)))


def authenticate(db: Session, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (same work whether the user exists or not)."""
    u = get_user(db, name) if name else None
    if not verify_password(u.password_hash if u else None, password) or u is None:
        return None
    if needs_rehash(u.password_hash) and not current_is_cheap(u.password_hash):
        u.password_hash = hash_password(password)
        db.flush()
    return u


# --------------------------------------------------------------------------- groups


def get_group(db: Session, name: str) -> Group | None:
    """The group called ``name``, or None."""
    return db.scalar(select(Group).where(Group.name == name))


def _group(db: Session, name: str) -> Group:
    g = get_group(db, name)
    if g is None:
        raise MapNotFoundError(f"no group {name}")
    return g


def create_group(db: Session, name: str) -> Group:
    """A new, empty group."""
    validate_name(name, "group")
    if get_group(db, name) is not None:
        raise InvalidParameterError(f"group {name} exists already")
    g = Group(name=name)
    db.add(g)
    db.flush()
    return g


def remove_group(db: Session, name: str) -> None:
    """Remove a group (its memberships and map shares go with it)."""
    db.delete(_group(db, name))
    db.flush()


def list_groups(db: Session) -> list[tuple[Group, list[str]]]:
    """Every group with its members' names."""
    out = []
    for g in db.scalars(select(Group).order_by(Group.name)):
        names = sorted(m.user.name for m in g.memberships)
        out.append((g, names))
    return out


def add_member(db: Session, group: str, user: str) -> None:
    """Put ``user`` in ``group`` (nothing when already there)."""
    g, u = _group(db, group), _user(db, user)
    if db.get(Membership, (u.id, g.id)) is None:
        db.add(Membership(user_id=u.id, group_id=g.id))
        db.flush()


def remove_member(db: Session, group: str, user: str) -> None:
    """Take ``user`` out of ``group``."""
    g, u = _group(db, group), _user(db, user)
    m = db.get(Membership, (u.id, g.id))
    if m is None:
        raise MapNotFoundError(f"user {user} is not in group {group}")
    db.delete(m)
    db.flush()


def group_names_of(db: Session, user_id: int) -> list[str]:
    """The names of the groups a user is in."""
    q = select(Group.name).join(Membership).where(Membership.user_id == user_id).order_by(Group.name)
    return list(db.scalars(q))


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the token itself)."""

    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


def create_token(db: Session, name: str, label: str = "") -> str:
    """A new API token for user ``name``: returned once, only its hash is stored."""
    u = _user(db, name)
    token = new_token()
    db.add(
        ApiToken(
            user_id=u.id,
            label=label.strip()[:100],
            prefix=token[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(token),
        )
    )
    db.flush()
    log.info("API token created for user %s", name)
    return token


def list_tokens(db: Session, user_id: int) -> list[TokenInfo]:
    """A user's tokens that are not revoked, newest first."""
    q = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return [TokenInfo(t.id, t.label, t.prefix, t.created_at, t.last_used_at) for t in db.scalars(q)]


def revoke_token(db: Session, user_id: int, token_id: int) -> None:
    """Revoke one of the user's tokens (MapNotFoundError when it is not theirs)."""
    t = db.get(ApiToken, token_id)
    if t is None or t.user_id != user_id or t.revoked_at is not None:
        raise MapNotFoundError("no such token")
    t.revoked_at = utcnow()
    db.flush()


def user_for_token(db: Session, token: str) -> User | None:
    """The user a live token belongs to (and note its use), else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    t = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if t is None or t.revoked_at is not None:
        return None
    now = utcnow()
    last = t.last_used_at
    if last is None or (now - (last if last.tzinfo else last.replace(tzinfo=now.tzinfo))).total_seconds() > 60:
        t.last_used_at = now  # at most once a minute: no write per request
        db.commit()
    return t.user


def count_users(db: Session) -> int:
    """How many users there are."""
    return int(db.scalar(select(func.count()).select_from(User)) or 0)

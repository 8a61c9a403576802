"""Who may do what with which map: the access layer every page, callback and API route uses.

Maps live in ``DATA_DIR/<owner>/<map>/``; ``owner`` is a user name, or ``public``.

Rules (:func:`access_level`):

* admins may do everything with every map;
* a user may do everything with their own maps (``owner == user``): read, edit, manage
  (rename, share, delete, overwrite);
* maps of the owner ``public`` are readable by everyone, and so are maps their owner made
  public; anonymous visitors read them only while ``ANONYMOUS_READ`` is on (the default);
* a map shared with a group is readable (``read``) or readable and editable (``edit``) by
  the group's members;
* anything else is invisible: a map one may not read is answered exactly like a map that
  does not exist (:class:`~pymapmanager.errors.MapNotFoundError`, 404, same message).

The stable interface (other modules use only these):

``current_identity() -> Identity``
    Who is asking: ``name``, ``user_id``, ``is_admin``, ``group_ids``, ``authenticated``
    (from the login session, an ``Authorization: Bearer <token>`` header, or :func:`run_as`).
``current_user_name() -> str | None`` / ``is_admin() -> bool``
``access_level(owner, name) -> int``
    :data:`NONE` < :data:`READ` < :data:`EDIT` < :data:`MANAGE`.
``can_read / can_edit / can_manage(owner, name) -> bool``
``check_readable(owner, name)``
    Raises MapNotFoundError (404) unless readable.
``check_editable(owner, name)`` / ``check_manageable(owner, name)``
    404 when not even readable; else :class:`LoginRequiredError` (401) for anonymous
    requests, :class:`AccessDeniedError` (403) for users without the right.
``check_can_create(owner)``
    May the request add maps under ``owner`` (upload, drop folder): the owner themself or
    an admin; 401 anonymous, 403 otherwise.
``readable_refs(refs) -> list``
    The refs (anything with ``.owner`` and ``.name``) the request may read, in order;
    two queries at most, for listings.
``visible_owners() -> list[str]``
    Every owner folder that may hold a readable map (listings then filter per map).
``require_login()``
    Raises LoginRequiredError for anonymous requests.
``run_as(identity)`` / ``identity_grant() -> str`` / ``identity_from_grant(text) -> Identity``
    Act as a user outside a request (background callbacks): the foreground signs who asks
    (a short-lived grant), the background process runs ``with run_as(identity_from_grant(g))``.

The machinery: :mod:`app.auth.login` (Flask-Login sessions, tokens, the login form with
CSRF, rate limit, Origin check, security headers), :mod:`app.auth.users` (accounts,
groups, tokens), :mod:`app.auth.passwords` (argon2id), :mod:`app.services.access`
(sharing, rename, trash). Tables are in :mod:`app.db.models`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from flask import current_app, g, has_app_context, has_request_context
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from pymapmanager.errors import MapManagerError, MapNotFoundError

__all__ = [
    "ANONYMOUS",
    "EDIT",
    "MANAGE",
    "NONE",
    "PUBLIC_OWNER",
    "READ",
    "AccessDeniedError",
    "Identity",
    "LoginRequiredError",
    "access_level",
    "can_edit",
    "can_manage",
    "can_read",
    "check_can_create",
    "check_editable",
    "check_manageable",
    "check_readable",
    "current_identity",
    "current_user_name",
    "identity_from_grant",
    "identity_grant",
    "is_admin",
    "must_log_in",
    "readable_refs",
    "require_login",
    "run_as",
    "visible_owners",
]

#: The owner whose maps everyone may read.
PUBLIC_OWNER = "public"

NONE, READ, EDIT, MANAGE = 0, 1, 2, 3

_IDENTITY_G = "_pmm_identity"
_GRANT_SALT = "pmm-identity-grant"
#: seconds a background job's identity grant stays valid
GRANT_MAX_AGE = 6 * 3600


class LoginRequiredError(MapManagerError):
    """The request must be made by a logged-in user (or with a token)."""

    status = 401


class AccessDeniedError(MapManagerError):
    """The user may see the map but not do this with it."""

    status = 403


@dataclass(frozen=True)
class Identity:
    """Who a request acts for."""

    user_id: int | None = None
    name: str | None = None
    is_admin: bool = False
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def authenticated(self) -> bool:
        """Whether this is a logged-in user (not an anonymous visitor)."""
        return self.user_id is not None


ANONYMOUS = Identity()


class _Ref(Protocol):
    @property
    def owner(self) -> str: ...
    @property
    def name(self) -> str: ...


R = TypeVar("R", bound=_Ref)


# --------------------------------------------------------------------------- identity


def _db_ready() -> bool:
    from ..db import DB_KEY

    return has_app_context() and DB_KEY in current_app.extensions


def _anonymous_read() -> bool:
    from ..extensions import SETTINGS_KEY

    s = current_app.config.get(SETTINGS_KEY) if has_app_context() else None
    return bool(getattr(s, "anonymous_read", True))


def must_log_in() -> bool:
    """Whether this request's visitor sees nothing until they log in (anonymous with
    ``ANONYMOUS_READ=0``)."""
    return not current_identity().authenticated and not _anonymous_read()


def current_identity() -> Identity:
    """The identity of the current request (anonymous outside requests, unless :func:`run_as`)."""
    if not has_app_context():
        return ANONYMOUS
    ident = g.get(_IDENTITY_G)
    if isinstance(ident, Identity):
        return ident
    if not has_request_context() or not _db_ready():
        return ANONYMOUS
    from flask_login import current_user

    user: Any = current_user
    if user is None or not user.is_authenticated:
        ident = ANONYMOUS
    else:
        ident = Identity(user.user_id, user.name, bool(user.is_admin), frozenset(user.group_ids))
    setattr(g, _IDENTITY_G, ident)
    return ident


def current_user_name() -> str | None:
    """The logged-in user's name (the owner folder of their maps), or None."""
    return current_identity().name


def is_admin() -> bool:
    """Whether the request is an admin's."""
    return current_identity().is_admin


def require_login() -> Identity:
    """The identity; LoginRequiredError (401) for anonymous requests."""
    ident = current_identity()
    if not ident.authenticated:
        raise LoginRequiredError("log in (or send an API token) to do this")
    return ident


@contextmanager
def run_as(identity: Identity) -> Iterator[Identity]:
    """Act as ``identity`` inside the current app context (background jobs, the command line)."""
    old = g.get(_IDENTITY_G)
    setattr(g, _IDENTITY_G, identity)
    try:
        yield identity
    finally:
        if old is None:
            g.pop(_IDENTITY_G, None)
        else:
            setattr(g, _IDENTITY_G, old)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_GRANT_SALT)


def identity_grant() -> str:
    """The current identity signed, for a background job to act as (valid 6 hours)."""
    ident = current_identity()
    return _serializer().dumps({"u": ident.user_id})


def identity_from_grant(grant: Any) -> Identity:
    """The identity a grant names (anonymous when missing, forged, expired or the user is gone)."""
    if not isinstance(grant, str) or not _db_ready():
        return ANONYMOUS
    try:
        data = _serializer().loads(grant, max_age=GRANT_MAX_AGE)
    except BadSignature:
        return ANONYMOUS
    uid = data.get("u") if isinstance(data, dict) else None
    if not isinstance(uid, int):
        return ANONYMOUS
    from ..db import session
    from ..db.models import Membership, User

    db = session()
    u = db.get(User, uid)
    if u is None:
        return ANONYMOUS
    groups = db.scalars(select(Membership.group_id).where(Membership.user_id == uid))
    return Identity(u.id, u.name, bool(u.is_admin), frozenset(groups))


# --------------------------------------------------------------------------- rules


def _base_level(ident: Identity, owner: str) -> int:
    """What follows from the owner alone (no database)."""
    if ident.is_admin or (ident.name is not None and ident.name == owner and owner != PUBLIC_OWNER):
        return MANAGE
    if owner == PUBLIC_OWNER and (ident.authenticated or _anonymous_read()):
        return READ
    return NONE


def access_level(owner: str, name: str) -> int:
    """What the current request may do with map ``owner/name``: NONE, READ, EDIT or MANAGE."""
    ident = current_identity()
    level = _base_level(ident, owner)
    if level == MANAGE or not _db_ready():
        return level
    if not ident.authenticated and not _anonymous_read():
        return NONE
    from ..db import session
    from ..db.models import MapRecord

    rec = session().scalar(
        select(MapRecord).where(MapRecord.owner == owner, MapRecord.name == name)
    )
    if rec is None:
        return level
    if rec.public:
        level = max(level, READ)
    if ident.group_ids:
        for sh in rec.shares:
            if sh.group_id in ident.group_ids:
                level = max(level, EDIT if sh.level == "edit" else READ)
    return level


def can_read(owner: str, name: str | None = None) -> bool:
    """Whether the request may read map ``owner/name`` (``name`` None: any map of ``owner``)."""
    if name is None:
        return owner in visible_owners()
    return access_level(owner, name) >= READ


def can_edit(owner: str, name: str) -> bool:
    """Whether the request may change the map's annotations."""
    return access_level(owner, name) >= EDIT


def can_manage(owner: str, name: str) -> bool:
    """Whether the request may rename, share, delete or overwrite the map."""
    return access_level(owner, name) >= MANAGE


def _not_found(owner: str, name: str) -> MapNotFoundError:
    return MapNotFoundError(f"no map {owner}/{name}")


def check_readable(owner: str, name: str) -> None:
    """Raise :class:`MapNotFoundError` (404, not 403: existence is not revealed) when hidden."""
    if access_level(owner, name) < READ:
        raise _not_found(owner, name)


def _check_at_least(owner: str, name: str, need: int, what: str) -> None:
    level = access_level(owner, name)
    if level < READ:
        raise _not_found(owner, name)
    if level < need:
        if not current_identity().authenticated:
            raise LoginRequiredError(f"log in to {what} map {owner}/{name}")
        raise AccessDeniedError(f"you may not {what} map {owner}/{name}")


def check_editable(owner: str, name: str) -> None:
    """404 when hidden, 401/403 when readable but not editable by the request."""
    _check_at_least(owner, name, EDIT, "edit")


def check_manageable(owner: str, name: str) -> None:
    """404 when hidden, 401/403 unless the owner or an admin asks."""
    _check_at_least(owner, name, MANAGE, "change")


def check_can_create(owner: str) -> None:
    """Whether the request may add maps under ``owner``: the owner themself or an admin."""
    ident = require_login()
    if not (ident.is_admin or (ident.name == owner and owner != PUBLIC_OWNER)):
        raise AccessDeniedError(f"you may not add maps to {owner}")


def readable_refs(refs: Sequence[R]) -> list[R]:
    """The refs the request may read, in their order (two queries at most)."""
    ident = current_identity()
    if ident.is_admin:
        return list(refs)
    quick = [_base_level(ident, r.owner) >= READ for r in refs]
    if all(quick) or not _db_ready() or (not ident.authenticated and not _anonymous_read()):
        return [r for r, ok in zip(refs, quick, strict=True) if ok]
    from ..db import session
    from ..db.models import MapRecord, MapShare

    db = session()
    pub = select(MapRecord.owner, MapRecord.name).where(MapRecord.public.is_(True))
    shared = {(o, n) for o, n in db.execute(pub)}
    if ident.group_ids:
        q = (
            select(MapRecord.owner, MapRecord.name)
            .join(MapShare, MapShare.map_id == MapRecord.id)
            .where(MapShare.group_id.in_(ident.group_ids))
        )
        shared.update((o, n) for o, n in db.execute(q))
    return [r for r, ok in zip(refs, quick, strict=True) if ok or (r.owner, r.name) in shared]


def visible_owners() -> list[str]:
    """Owner folders that may hold maps the request can read (``public`` first).

    A superset: listings filter map by map with :func:`readable_refs`.
    """
    from ..extensions import settings_of

    ident = current_identity()
    if not ident.authenticated and not _anonymous_read():
        return []
    base: Path = settings_of(current_app).data_dir
    try:
        owners = sorted(
            e.name for e in base.iterdir() if e.is_dir() and not e.name.startswith(".")
        )
    except FileNotFoundError:
        owners = []
    rest = [o for o in owners if o != PUBLIC_OWNER]
    return [PUBLIC_OWNER, *rest]

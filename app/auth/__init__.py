"""Who may see which maps. Every map belongs to an owner: ``DATA_DIR/<owner>/<map>/``.

The owner ``public`` is visible to everyone. Login comes in a later issue: until then no
request has a user, so only ``public`` maps are visible; :func:`current_user_name` is the
one place that will learn about logged-in users.
"""

from __future__ import annotations

from pymapmanager.errors import MapNotFoundError

__all__ = ["PUBLIC_OWNER", "can_read", "check_readable", "current_user_name", "visible_owners"]

#: The owner whose maps everyone may read.
PUBLIC_OWNER = "public"


def current_user_name() -> str | None:
    """The logged-in user's name (the owner folder of their maps); None until login exists."""
    return None


def visible_owners() -> list[str]:
    """Owners whose maps the current request may list and read (``public`` first)."""
    user = current_user_name()
    if user is None or user == PUBLIC_OWNER:
        return [PUBLIC_OWNER]
    return [PUBLIC_OWNER, user]


def can_read(owner: str) -> bool:
    """Whether the current request may read maps of ``owner``."""
    return owner in visible_owners()


def check_readable(owner: str, name: str) -> None:
    """Raise :class:`MapNotFoundError` (404, not 403: existence is not revealed) when hidden."""
    if not can_read(owner):
        raise MapNotFoundError(f"no map {owner}/{name}")

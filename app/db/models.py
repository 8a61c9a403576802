"""The app database's tables: users, groups, memberships, API tokens, map sharing, the trash.

Maps themselves are folders under ``DATA_DIR/<owner>/<map>/``; a :class:`MapRecord` row
only holds what the folder cannot: its visibility and its shares. A map without a row is
private to its owner (or public when the owner is ``public``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "LEVEL_EDIT",
    "LEVEL_READ",
    "ApiToken",
    "Base",
    "EditLogEntry",
    "Group",
    "MapRecord",
    "MapShare",
    "MapVersion",
    "Membership",
    "TrashedMap",
    "User",
    "utcnow",
]

#: share levels of a group on a map
LEVEL_READ = "read"
LEVEL_EDIT = "edit"

# stable constraint names, so migrations name them the same on SQLite and PostgreSQL
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table (the metadata Alembic compares against)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON}


class User(Base):
    """A person who logs in; ``name`` is also the folder of their maps."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: changes with the password: logs out every other session of the user
    session_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Group(Base):
    """A named set of users that maps can be shared with."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )
    shares: Mapped[list[MapShare]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A user in a group."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")


class ApiToken(Base):
    """An API token: only its SHA-256 is kept; the token is shown once when made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    #: the first characters of the token, to tell tokens apart in lists
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class MapRecord(Base):
    """What the app knows about a map folder beyond its files: visibility and shares."""

    __tablename__ = "maps"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_maps_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    shares: Mapped[list[MapShare]] = relationship(
        back_populates="map", cascade="all, delete-orphan"
    )


class MapShare(Base):
    """A map shared with a group: ``read`` or ``edit`` (read and edit)."""

    __tablename__ = "map_shares"

    map_id: Mapped[int] = mapped_column(ForeignKey("maps.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(String(8), default=LEVEL_READ)

    map: Mapped[MapRecord] = relationship(back_populates="shares")
    group: Mapped[Group] = relationship(back_populates="shares")


class TrashedMap(Base):
    """A deleted map, kept under ``DATA_DIR/.trash/`` and restorable by its owner for 30 days."""

    __tablename__ = "trash"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    #: folder relative to DATA_DIR where the map's files wait
    folder: Mapped[str] = mapped_column(String(512))
    #: visibility and shares at deletion: ``{"public": bool, "shares": {group: level}}``
    sharing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deleted_by: Mapped[str] = mapped_column(String(64), default="")
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EditLogEntry(Base):
    """One edit command of a user on a map, stored as it happens (rows are never deleted).

    A user's unsaved edits of a map are the rows of one *batch* (``batch`` = the ``seq`` of
    its first row) in ``state`` ``open``, in ``seq`` order, undo and redo included, all made
    on the map's data version ``base_version``. A save marks them ``saved`` (with the
    version), a discard ``discarded``. ``chain`` is a digest of the batch up to this row, so
    a row id and its chain name one working-copy state for good.
    """

    __tablename__ = "edit_log"
    __table_args__ = (
        UniqueConstraint("map", "user", "seq", name="uq_edit_log_map_user_seq"),
        Index("ix_edit_log_map_state", "map", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``owner/name``
    map: Mapped[str] = mapped_column(String(257))
    user: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer)
    command: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_version: Mapped[str] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="open")
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("map_versions.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MapVersion(Base):
    """A saved version of a map: who, when, the commands, the data version before and after.

    ``seq`` counts a map's versions from 1 (0: the map as it was before its first saved
    edit). ``folder`` (relative to ``DATA_DIR``) holds a copy of the map's text files as
    this version left them. ``state`` is ``pending`` while its save runs, then ``done``
    (or ``failed`` when the save never happened). Versions are never deleted.
    """

    __tablename__ = "map_versions"
    __table_args__ = (UniqueConstraint("map", "seq", name="uq_map_versions_map_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    map: Mapped[str] = mapped_column(String(257))
    seq: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: original | save | merge | restore
    kind: Mapped[str] = mapped_column(String(12), default="save")
    state: Mapped[str] = mapped_column(String(12), default="done")
    #: ``[Applied.to_dict(), ...]`` of the commands this version applied
    applied: Mapped[list[Any]] = mapped_column(JSON, default=list)
    data_version_before: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data_version_after: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: ``seq`` of the version a restore copied
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    folder: Mapped[str] = mapped_column(String(512), default="")
    message: Mapped[str] = mapped_column(String(500), default="")

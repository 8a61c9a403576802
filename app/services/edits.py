"""Editing maps on the server: the edit log, working copies, saves, versions and restore.

The truth is in two places only: the map's files (written by the library's crash-safe
:meth:`~pymapmanager.model.Map.save`) and the app database:

* the **edit log** (:class:`~app.db.models.EditLogEntry`): every command of a user on a
  map, stored (committed) before the request that sent it is answered, undo and redo
  included, with its time, so a replay anywhere gives the same state. A user's unsaved
  edits of a map are one *batch* of ``open`` rows made on one data version (the *base*);
* the **versions** (:class:`~app.db.models.MapVersion`): every save and restore, with
  the commands (their :class:`~pymapmanager.edits.Applied` records), the data version
  before and after, and the map's text files as the version left them, in
  ``DATA_DIR/.versions/<owner>/<name>/<seq>/<name>/`` (hidden from the catalog: a dot
  folder). Only the files a version changed are written; the others are hard links to
  the same files as the map's (no map or version file is ever changed in place), and
  the map's new folder links the version's files, so a save writes each changed file once. Version 0 is the map as it was before its first saved edit. Nothing is ever
  deleted: a save marks the log rows ``saved``, a discard ``discarded``; a restore is a
  new version.

The **working copy** of a user is the map at the batch's base version (the map folder,
or the copy kept with the version that made it) with the batch replayed
(:meth:`Editor.replay <pymapmanager.edits.Editor.replay>`). Each worker process keeps
the last few working copies (:class:`WorkingCopies`), keyed by map, user, base version,
batch and the digest of the rows applied; a new row is applied on top of the cached
state, anything else is replayed from the database, so every worker sees the same
state. A working copy has its own *version* string (:func:`working_version`:
``<base>~<row id>~<digest>``), which names that state for good: pass it as ``version``
to the views of :mod:`app.services.maps` and :mod:`app.services.viewer` (their cache
keys then hold it, and :func:`app.services.maps.get_map` answers the working copy's map).

Writes of one map (append, discard, save, restore) are serialised across processes by a
file lock beside the map (``DATA_DIR/<owner>/.<name>.edits.lock``). A save writes the
version row first (``pending``, with its files), then the map, then marks the row
``done``: a process killed in between leaves a pending row that the next write of the
map completes (the map holds the version's files) or marks ``failed`` (it does not).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pymapmanager import Map, MapNotFoundError, load_map
from pymapmanager.edits import Applied, Command, Editor, rebase
from pymapmanager.errors import EditConflict, EditError, InvalidParameterError, MapManagerError
from pymapmanager.io.writer import save_map, write_files

from .. import auth
from ..db import aware, session
from ..db.models import EditLogEntry, MapVersion, utcnow
from ..extensions import settings_of
from .maps import WORKING_SEP, MapRef, data_version, map_errors, map_folder

__all__ = [
    "VERSIONS_DIR",
    "EditRefusedError",
    "SaveConflictError",
    "WorkingCopies",
    "WorkingCopy",
    "append",
    "discard",
    "edits_state",
    "list_versions",
    "reading_version",
    "restore",
    "save",
    "working_copy",
    "working_map",
    "working_version",
]

log = logging.getLogger(__name__)

#: folder of DATA_DIR holding the versions' files
VERSIONS_DIR = ".versions"
#: where each process keeps its :class:`WorkingCopies`
WORKING_KEY = "pmm_working_copies"
#: most working copies a process keeps in memory
MAX_WORKING = 6

OPEN, SAVED, DISCARDED = "open", "saved", "discarded"
PENDING, DONE, FAILED = "pending", "done", "failed"
UNDO_REDO = ("undo", "redo")


class EditRefusedError(MapManagerError):
    """An edit command that is not valid (or nothing to undo/redo): nothing was stored."""

    status = 422

    def __init__(self, message: str, op: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.details = {"op": op, "reason": reason or message}


class SaveConflictError(MapManagerError):
    """A save, restore or edit that would overwrite someone else's work: nothing was written."""

    status = 409

    def __init__(
        self,
        message: str,
        conflicts: Sequence[tuple[int, int]] = (),
        their_version: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.details = {
            "conflicts": [[int(s), int(r)] for s, r in conflicts],
            "their_version": their_version,
        }


# --------------------------------------------------------------------------- small helpers


def _data_dir() -> Path:
    return settings_of(current_app).data_dir


def _utc(dt: datetime) -> datetime:
    return aware(dt).astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else _utc(dt).isoformat().replace("+00:00", "Z")


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _chain_start(ref: MapRef, user: str, base: str, batch: int) -> str:
    return _digest(f"{ref.id}|{user}|{base}|{batch}")


def _chain_next(prev: str, command: Mapping[str, Any], at: datetime) -> str:
    return _digest(f"{prev}|{_canonical(dict(command))}|{_iso(at)}")


def working_version(base: str, row_id: int, chain: str) -> str:
    """The version string of a working copy: ``<base>~<last row id>~<digest>``."""
    return f"{base}{WORKING_SEP}{row_id}{WORKING_SEP}{chain[:12]}"


@contextmanager
def _map_lock(ref: MapRef) -> Iterator[None]:
    """Exclusive lock of a map's edits across processes (a file beside the map folder)."""
    owner_dir = _data_dir() / ref.owner
    owner_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(owner_dir / f".{ref.name}.edits.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _normalise(command: Any) -> dict[str, Any]:
    """The command as stored: ``{"op": "undo"}``/``{"op": "redo"}`` or a validated command."""
    if not isinstance(command, Mapping):
        raise EditRefusedError("an edit command is a JSON object with an 'op'")
    op = command.get("op")
    if op in UNDO_REDO:
        extra = sorted(k for k in command if k != "op")
        if extra:
            raise EditRefusedError(f"{op}: unexpected fields {', '.join(extra)}", str(op))
        return {"op": op}
    try:
        return Command.from_dict(command).to_dict()
    except EditError as e:
        raise EditRefusedError(str(e), e.op, e.reason) from None


def _touched(applied: Sequence[Applied]) -> list[tuple[int, int]]:
    return sorted({t for a in applied for t in a.touched})


# --------------------------------------------------------------------------- working copies


@dataclass
class _Slot:
    """One user's working copy of one map in this process (its lock guards the editor)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    editor: Editor | None = None
    base: str = ""
    batch: int = 0
    seq: int = 0
    row_id: int = 0
    chain: str = ""
    clock: list[datetime] = field(default_factory=lambda: [utcnow()])
    used: int = 0


class WorkingCopies:
    """The working copies of this process: a few editors, least recently used dropped.

    Only a cache: any state can be rebuilt from the edit log in the database.
    """

    def __init__(self, max_entries: int = MAX_WORKING) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._tick = 0
        #: maps of working versions asked for outside a held working copy (never mutated)
        self._frozen: OrderedDict[tuple[str, str], Map] = OrderedDict()
        self.replays = 0  # full replays made (tests, status)
        self.applied = 0  # rows applied on top of a cached state

    def slot(self, ref: MapRef, user: str) -> _Slot:
        """The slot of ``(ref, user)`` (created empty)."""
        with self._lock:
            self._tick += 1
            s = self._slots.get((ref.id, user))
            if s is None:
                s = self._slots[(ref.id, user)] = _Slot()
            s.used = self._tick
            held = [x for x in self._slots.values() if x.editor is not None]
            if len(held) > self.max_entries:
                for old in sorted(held, key=lambda x: x.used)[: len(held) - self.max_entries]:
                    if old is not s and old.lock.acquire(blocking=False):
                        old.editor = None
                        old.lock.release()
            return s

    def frozen(self, key: tuple[str, str]) -> Map | None:
        with self._lock:
            m = self._frozen.get(key)
            if m is not None:
                self._frozen.move_to_end(key)
            return m

    def keep_frozen(self, key: tuple[str, str], m: Map) -> None:
        with self._lock:
            self._frozen[key] = m
            while len(self._frozen) > 4:
                self._frozen.popitem(last=False)


def _copies() -> WorkingCopies:
    wc = current_app.extensions.get(WORKING_KEY)
    if not isinstance(wc, WorkingCopies):
        wc = current_app.extensions.setdefault(WORKING_KEY, WorkingCopies())
    assert isinstance(wc, WorkingCopies)
    return wc


_held = threading.local()


def _held_maps() -> dict[tuple[str, str], Map]:
    d = getattr(_held, "maps", None)
    if d is None:
        d = _held.maps = {}
    return d


def _version_folder(ref: MapRef, seq: int) -> Path:
    return Path(VERSIONS_DIR) / ref.owner / ref.name / str(seq) / ref.name


def _version_at(db: Session, ref: MapRef, data_ver: str) -> MapVersion | None:
    """The newest done version of the map that left it at ``data_ver``."""
    return db.scalar(
        select(MapVersion)
        .where(MapVersion.map == ref.id, MapVersion.state == DONE,
               MapVersion.data_version_after == data_ver)  # fmt: skip
        .order_by(MapVersion.seq.desc())
        .limit(1)
    )


def _load_base(ref: MapRef, base: str) -> Map:
    """A fresh (mutable) map as it was at data version ``base``.

    Raises
    ------
    SaveConflictError
        The map changed outside the editor since ``base`` and no version holds it.
    """
    folder = map_folder(ref)
    if data_version(ref) == base:
        with map_errors(ref):
            m = load_map(folder)
        if data_version(ref) == base:
            return m
    v = _version_at(session(), ref, base)
    if v is None or not v.folder:
        raise SaveConflictError(
            f"map {ref.id} was changed outside the editor since your unsaved edits were made "
            "(an upload or another program): discard them and edit again"
        )
    with map_errors(ref):
        m = load_map(_data_dir() / v.folder)
        for j in range(m.num_sessions):
            m.tracing(j)  # read now: the map's path becomes the real folder (for its images)
    m.path = folder
    return m


def _open_rows(db: Session, ref: MapRef, user: str) -> list[EditLogEntry]:
    return list(
        db.scalars(
            select(EditLogEntry)
            .where(EditLogEntry.map == ref.id, EditLogEntry.user == user,
                   EditLogEntry.state == OPEN)  # fmt: skip
            .order_by(EditLogEntry.seq)
        )
    )


def _replay_rows(editor: Editor, clock: list[datetime], rows: Sequence[EditLogEntry]) -> None:
    for r in rows:
        clock[0] = _utc(r.created_at)
        editor.replay([r.command])


def _new_editor(ref: MapRef, user: str, base: str, clock: list[datetime]) -> Editor:
    m = _load_base(ref, base)
    return Editor(m, user=user, now=lambda: clock[0])


def _sync(slot: _Slot, ref: MapRef, user: str, rows: Sequence[EditLogEntry]) -> Editor:
    """Bring ``slot`` (its lock held) to the state after ``rows`` (one open batch)."""
    copies = _copies()
    base, batch = rows[0].base_version, rows[0].batch
    by_seq = {r.seq: r for r in rows}
    ok = (
        slot.editor is not None
        and slot.base == base
        and slot.batch == batch
        and slot.seq <= rows[-1].seq
        and (slot.seq == 0 or (slot.seq in by_seq and by_seq[slot.seq].chain == slot.chain))
    )
    if not ok:
        slot.editor = _new_editor(ref, user, base, slot.clock)
        slot.base, slot.batch, slot.seq, slot.row_id, slot.chain = base, batch, 0, 0, ""
        copies.replays += 1
    editor = slot.editor
    assert editor is not None
    todo = [r for r in rows if r.seq > slot.seq]
    try:
        _replay_rows(editor, slot.clock, todo)
    except EditError as e:
        slot.editor = None
        raise SaveConflictError(
            f"your unsaved edits of map {ref.id} no longer apply to it ({e}): discard them"
        ) from None
    if todo and slot.seq:
        copies.applied += len(todo)
    last = rows[-1]
    slot.seq, slot.row_id, slot.chain = last.seq, last.id, last.chain
    return editor


@dataclass(frozen=True)
class WorkingCopy:
    """A user's view of a map: the saved map plus their unsaved edits.

    ``version`` names this state (pass it as ``version`` to the views of
    :mod:`app.services.maps` / :mod:`app.services.viewer`); it is the saved data version
    when there are no unsaved edits (then ``editor`` is None and ``map`` is the saved map).
    """

    ref: MapRef
    user: str
    version: str
    saved_version: str
    base_version: str
    rows: tuple[EditLogEntry, ...]
    editor: Editor | None

    @property
    def map(self) -> Map:
        """The working copy's map (do not keep it beyond the ``with`` block)."""
        if self.editor is not None:
            return self.editor.map
        from .maps import get_map

        return get_map(self.ref, self.saved_version)


def _editor_name() -> str:
    name = auth.current_user_name()
    if name is None:
        raise auth.LoginRequiredError("log in (or send an API token) to edit maps")
    return name


@contextmanager
def working_copy(ref: MapRef, user: str | None = None) -> Iterator[WorkingCopy]:
    """The working copy of ``user`` (default the request's user), its lock held meanwhile.

    Inside the block, :func:`app.services.maps.get_map` with ``wc.version`` gives this
    working copy's map (no copy, no replay).
    """
    user = user or _editor_name()
    db = session()
    saved = data_version(ref)
    rows = _open_rows(db, ref, user)
    if not rows:
        yield WorkingCopy(ref, user, saved, saved, saved, (), None)
        return
    slot = _copies().slot(ref, user)
    with slot.lock:
        editor = _sync(slot, ref, user, rows)
        version = working_version(rows[0].base_version, rows[-1].id, rows[-1].chain)
        held = _held_maps()
        key = (ref.id, version)
        held[key] = editor.map
        try:
            yield WorkingCopy(ref, user, version, saved, rows[0].base_version, tuple(rows), editor)
        finally:
            held.pop(key, None)


@contextmanager
def reading_version(ref: MapRef, want: bool) -> Iterator[str]:
    """The version a read view answers from: with ``want`` (``?edits=1``) and a logged-in
    user who may edit the map, their working copy's (held meanwhile); else the saved map's."""
    if want and auth.current_identity().authenticated and auth.can_edit(ref.owner, ref.name):
        with working_copy(ref) as wc:
            yield wc.version
        return
    yield data_version(ref)


def working_map(ref: MapRef, version: str) -> Map:
    """The map of a working-copy version (from a held working copy, else replayed from the
    log up to that version: the answer is never changed afterwards).

    Raises
    ------
    InvalidParameterError
        Not a working-copy version of this map.
    """
    held = _held_maps().get((ref.id, version))
    if held is not None:
        return held
    copies = _copies()
    frozen = copies.frozen((ref.id, version))
    if frozen is not None:
        return frozen
    parts = version.split(WORKING_SEP)
    bad = InvalidParameterError(f"'{version}' is not a version of map {ref.id}")
    if len(parts) != 3 or not parts[1].isdigit():
        raise bad
    db = session()
    last = db.get(EditLogEntry, int(parts[1]))
    if last is None or last.map != ref.id or not last.chain.startswith(parts[2]) or last.base_version != parts[0]:
        raise bad
    rows = list(
        db.scalars(
            select(EditLogEntry)
            .where(EditLogEntry.map == ref.id, EditLogEntry.user == last.user,
                   EditLogEntry.batch == last.batch, EditLogEntry.seq <= last.seq)  # fmt: skip
            .order_by(EditLogEntry.seq)
        )
    )
    clock = [utcnow()]
    editor = _new_editor(ref, last.user, last.base_version, clock)
    try:
        _replay_rows(editor, clock, rows)
    except EditError as e:
        raise SaveConflictError(f"the edits of version {version} no longer apply: {e}") from None
    copies.replays += 1
    copies.keep_frozen((ref.id, version), editor.map)
    return editor.map


# --------------------------------------------------------------------------- reading


def _others(db: Session, ref: MapRef, user: str) -> list[dict[str, Any]]:
    q = (
        select(EditLogEntry.user, func.count(), func.min(EditLogEntry.created_at))
        .where(EditLogEntry.map == ref.id, EditLogEntry.state == OPEN, EditLogEntry.user != user)
        .group_by(EditLogEntry.user)
        .order_by(EditLogEntry.user)
    )
    return [{"user": u, "unsaved": int(n), "since": _iso(t)} for u, n, t in db.execute(q)]


def _state_of(wc: WorkingCopy) -> dict[str, Any]:
    ed = wc.editor
    done = ed.done() if ed is not None else []
    return {
        "map": wc.ref.id,
        "user": wc.user,
        "base_version": wc.base_version,
        "saved_version": wc.saved_version,
        "version": wc.version,
        "edits": [a.to_dict() for a in done],
        "can_undo": bool(ed is not None and ed.can_undo()),
        "can_redo": bool(ed is not None and ed.can_redo()),
        "unsaved": len(done),
        "log_length": len(wc.rows),
        "oldest_unsaved": _iso(wc.rows[0].created_at) if done else None,
    }


def edits_state(ref: MapRef) -> dict[str, Any]:
    """``GET .../edits``: my unsaved edits, their state, and who else has unsaved edits."""
    auth.check_editable(ref.owner, ref.name)
    user = _editor_name()
    _recover_if_pending(ref)
    with working_copy(ref, user) as wc:
        out = _state_of(wc)
    out["others"] = _others(session(), ref, user)
    return out


def _annotations(ref: MapRef, sessions: Sequence[int], version: str, roi: str | None) -> dict[str, Any]:
    from .maps import session_annotations

    return {str(s): session_annotations(ref, s, roi=roi, version=version) for s in sorted(sessions)}


# --------------------------------------------------------------------------- writing the log


def append(ref: MapRef, command: Any, *, roi: str | None = None) -> dict[str, Any]:
    """Apply one command to my working copy and store it in the log (valid ones only).

    Returns
    -------
    dict
        ``{"applied": Applied.to_dict(), "version", "can_undo", "can_redo", "unsaved",
        "sessions": {"<s>": annotations of each changed session}}``.

    Raises
    ------
    EditRefusedError
        The command is not valid here (422): nothing is stored.
    """
    auth.check_editable(ref.owner, ref.name)
    user = _editor_name()
    cmd = _normalise(command)
    db = session()
    with _map_lock(ref):
        _recover_pending(ref)
        saved = data_version(ref)
        rows = _open_rows(db, ref, user)
        slot = _copies().slot(ref, user)
        with slot.lock:
            if rows:
                editor = _sync(slot, ref, user, rows)
                base, batch = rows[0].base_version, rows[0].batch
            else:
                editor = _new_editor(ref, user, saved, slot.clock)
                slot.editor, slot.base, slot.seq, slot.row_id, slot.chain = editor, saved, 0, 0, ""
                base, batch = saved, 0
            last_seq = db.scalar(
                select(func.max(EditLogEntry.seq)).where(EditLogEntry.map == ref.id, EditLogEntry.user == user)
            ) or 0
            seq = last_seq + 1
            if not rows:
                batch = slot.batch = seq
            now = utcnow()
            slot.clock[0] = now
            try:
                applied = editor.apply(cmd)
            except EditError as e:
                raise EditRefusedError(str(e), e.op, e.reason) from None
            prev = rows[-1].chain if rows else _chain_start(ref, user, base, batch)
            row = EditLogEntry(
                map=ref.id, user=user, seq=seq, batch=batch, command=cmd, base_version=base,
                chain=_chain_next(prev, cmd, now), state=OPEN, created_at=now,
            )  # fmt: skip
            try:
                db.add(row)
                db.commit()
            except BaseException:
                db.rollback()
                slot.editor = None  # the editor holds a command the log does not
                raise
            slot.seq, slot.row_id, slot.chain = seq, row.id, row.chain
            version = working_version(base, row.id, row.chain)
            held = _held_maps()
            held[(ref.id, version)] = editor.map
            try:
                sessions = _annotations(ref, sorted(applied.changed_sessions), version, roi)
            finally:
                held.pop((ref.id, version), None)
            done = editor.done()
            return {
                "applied": applied.to_dict(),
                "version": version,
                "base_version": base,
                "can_undo": editor.can_undo(),
                "can_redo": editor.can_redo(),
                "unsaved": len(done),
                "sessions": sessions,
            }


def discard(ref: MapRef) -> dict[str, Any]:
    """Forget my unsaved edits of the map (the rows stay in the log, marked discarded)."""
    auth.check_editable(ref.owner, ref.name)
    user = _editor_name()
    db = session()
    with _map_lock(ref):
        rows = _open_rows(db, ref, user)
        n = len(rows)
        if rows:
            db.execute(
                update(EditLogEntry).where(EditLogEntry.id.in_([r.id for r in rows])).values(state=DISCARDED)
            )
            db.commit()
        slot = _copies().slot(ref, user)
        with slot.lock:
            slot.editor = None
        version = data_version(ref)
    log.info("map %s: %s discarded %d unsaved edits", ref.id, user, n)
    return {"discarded": n, "version": version}


# --------------------------------------------------------------------------- versions


def _version_dict(v: MapVersion) -> dict[str, Any]:
    applied = list(v.applied or [])
    return {
        "id": v.seq,
        "user": v.user,
        "time": _iso(v.created_at),
        "kind": v.kind,
        "commands": [str(a.get("summary", "")) for a in applied],
        "applied": applied,
        "data_version_before": v.data_version_before,
        "data_version_after": v.data_version_after,
        "restored_from": v.restored_from,
        "message": v.message,
    }


def list_versions(ref: MapRef) -> dict[str, Any]:
    """``GET .../versions``: every version of the map, newest first."""
    auth.check_readable(ref.owner, ref.name)
    map_folder(ref)
    _recover_if_pending(ref)
    rows = session().scalars(
        select(MapVersion)
        .where(MapVersion.map == ref.id, MapVersion.state == DONE)
        .order_by(MapVersion.seq.desc())
    )
    return {"map": ref.id, "versions": [_version_dict(v) for v in rows]}


def _write_files(dest: Path, files: Mapping[str, bytes], same_as: Sequence[Path]) -> None:
    """Write a version's files durably into ``dest`` (made; any old leftover replaced).

    A file with the same bytes as the file of that name in one of the ``same_as`` folders
    (the map folder, a version folder: files never changed in place) is hard-linked from
    it instead of written: a version costs the files it changed.
    """
    if dest.exists():
        shutil.rmtree(dest)
    write_files(dest, files, same_as=same_as)


def _read_files(folder: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = p.read_bytes()
    return out


def _next_seq(db: Session, ref: MapRef) -> int:
    top = db.scalar(select(func.max(MapVersion.seq)).where(MapVersion.map == ref.id))
    return 0 if top is None else top + 1


def _ensure_original(db: Session, ref: MapRef, rels: Sequence[str]) -> None:
    """Version 0: the map's text files as they are before its first recorded version."""
    if db.scalar(select(func.count()).where(MapVersion.map == ref.id)):
        return
    folder = map_folder(ref)
    files = {rel: (folder / rel).read_bytes() for rel in rels if (folder / rel).is_file()}
    rel_dir = _version_folder(ref, 0)
    _write_files(_data_dir() / rel_dir, files, [folder])
    current = data_version(ref)
    db.add(
        MapVersion(
            map=ref.id, seq=0, user="", kind="original", state=DONE, applied=[],
            data_version_before=None, data_version_after=current, folder=rel_dir.as_posix(),
            message="the map before its first saved edit",
        )  # fmt: skip
    )
    db.commit()


@dataclass
class _FilesMap:
    """What :func:`~pymapmanager.io.writer.save_map` needs: a folder and the text files to write."""

    path: Path
    name: str
    files: dict[str, bytes]

    def file_bytes(self) -> dict[str, bytes]:
        return dict(self.files)


def _write_version(
    db: Session,
    ref: MapRef,
    *,
    user: str,
    kind: str,
    files: dict[str, bytes],
    applied: list[dict[str, Any]],
    before: str,
    message: str,
    rows: Sequence[EditLogEntry] = (),
    restored_from: int | None = None,
    same_as: Sequence[Path] = (),
) -> MapVersion:
    """Record a pending version with its files, save the map crash-safely, mark it done.

    The version's folder is written first (the files that changed; the others hard-linked
    from the map folder or the ``same_as`` folders); the map's new folder then links every
    text file from the version's folder, so a changed file is written and fsynced once.
    """
    seq = _next_seq(db, ref)
    rel_dir = _version_folder(ref, seq)
    folder = map_folder(ref)
    version_dir = _data_dir() / rel_dir
    _write_files(version_dir, files, [folder, *same_as])
    v = MapVersion(
        map=ref.id, seq=seq, user=user, kind=kind, state=PENDING, applied=applied,
        data_version_before=before, data_version_after=None, restored_from=restored_from,
        folder=rel_dir.as_posix(), message=message[:500],
    )  # fmt: skip
    db.add(v)
    db.commit()
    with map_errors(ref):
        save_map(_FilesMap(folder, ref.name, files), same_as=[version_dir])
    _finish(db, ref, v, data_version(ref), rows)
    return v


def _finish(db: Session, ref: MapRef, v: MapVersion, after: str, rows: Sequence[EditLogEntry]) -> None:
    v.state, v.data_version_after = DONE, after
    ids = [r.id for r in rows]
    if ids:
        db.execute(
            update(EditLogEntry).where(EditLogEntry.id.in_(ids)).values(state=SAVED, version_id=v.id)
        )
    db.commit()


def _recover_pending(ref: MapRef) -> None:
    """(Lock held.) Complete or fail versions whose save was interrupted."""
    db = session()
    pending = list(db.scalars(select(MapVersion).where(MapVersion.map == ref.id, MapVersion.state == PENDING)))
    for v in pending:
        folder = map_folder(ref)
        files = _read_files(_data_dir() / v.folder)
        on_disk = all((folder / rel).is_file() and (folder / rel).read_bytes() == b for rel, b in files.items())
        if on_disk:
            # the save happened: its unsaved rows are the open ones of that user made before it
            rows = list(
                db.scalars(
                    select(EditLogEntry).where(
                        EditLogEntry.map == ref.id, EditLogEntry.user == v.user,
                        EditLogEntry.state == OPEN, EditLogEntry.created_at <= v.created_at,
                    )  # fmt: skip
                )
            ) if v.kind in ("save", "merge") else []
            _finish(db, ref, v, data_version(ref), rows)
            log.warning("map %s: completed version %d whose save was interrupted", ref.id, v.seq)
        else:
            v.state = FAILED
            db.commit()
            log.warning("map %s: version %d was never written (interrupted before the save)", ref.id, v.seq)


def _recover_if_pending(ref: MapRef) -> None:
    db = session()
    if db.scalar(select(func.count()).where(MapVersion.map == ref.id, MapVersion.state == PENDING)):
        with _map_lock(ref):
            _recover_pending(ref)


def _theirs_since(db: Session, ref: MapRef, base: str, current: str) -> tuple[list[MapVersion], str | None]:
    """The versions that took the map from ``base`` to ``current`` (or why they cannot)."""
    start = _version_at(db, ref, base)
    if start is None:
        return [], "was changed outside the editor since your edits were made"
    later = list(
        db.scalars(
            select(MapVersion)
            .where(MapVersion.map == ref.id, MapVersion.state == DONE, MapVersion.seq > start.seq)
            .order_by(MapVersion.seq)
        )
    )
    if not later or later[-1].data_version_after != current:
        return later, "was changed outside the editor since the last saved version"
    for a, b in zip([start, *later], later, strict=False):
        if a.data_version_after != b.data_version_before:
            return later, "was changed outside the editor between two saved versions"
    return later, None


def save(ref: MapRef, base_version: str | None = None) -> dict[str, Any]:
    """Save my working copy as a new version of the map (merging when the map changed).

    Returns
    -------
    dict
        ``{"version": version dict or None, "merged": bool, "message": str}``.

    Raises
    ------
    SaveConflictError
        The map changed since my edits were made and they touch the same objects (409,
        ``conflicts`` names them); nothing is written and my log is kept.
    """
    auth.check_editable(ref.owner, ref.name)
    user = _editor_name()
    db = session()
    with _map_lock(ref):
        _recover_pending(ref)
        rows = _open_rows(db, ref, user)
        if not rows:
            return {"version": None, "merged": False, "message": "nothing to save"}
        base = rows[0].base_version
        if base_version and base_version not in (base, working_version(base, rows[-1].id, rows[-1].chain)):
            raise SaveConflictError(
                f"your page's edits of map {ref.id} are not the ones the server holds (made on "
                f"{base_version}, the server's on {base}): reload the page"
            )
        current = data_version(ref)
        slot = _copies().slot(ref, user)
        with slot.lock:
            editor = _sync(slot, ref, user, rows)
            done = editor.done()
            if not done:
                db.execute(
                    update(EditLogEntry).where(EditLogEntry.id.in_([r.id for r in rows])).values(state=DISCARDED)
                )
                db.commit()
                slot.editor = None
                return {"version": None, "merged": False, "message": "nothing to save: every edit was undone"}
            merged = False
            if base == current:
                files = editor.map.file_bytes()
                applied = [a.to_dict() for a in done]
                kind, message = "save", f"{len(done)} edit{'s' * (len(done) != 1)} saved"
            else:
                applied, message, files = _merge(db, ref, user, base, current, done)
                kind, merged = "merge", True
            _ensure_original(db, ref, list(files))
            slot.editor = None  # the log is closed: the next edit starts from the new version
            v = _write_version(
                db, ref, user=user, kind=kind, files=files, applied=applied, before=current,
                message=message, rows=rows,
            )  # fmt: skip
    log.info("map %s: %s saved version %d (%s)", ref.id, user, v.seq, message)
    return {"version": _version_dict(v), "merged": merged, "message": message}


def _merge(
    db: Session, ref: MapRef, user: str, base: str, current: str, done: Sequence[Applied]
) -> tuple[list[dict[str, Any]], str, dict[str, bytes]]:
    """My commands rebased over the versions saved since ``base`` (applied on a copy)."""
    later, why = _theirs_since(db, ref, base, current)
    newest = later[-1] if later else None
    their = _version_dict(newest) if newest is not None else None
    mine = [a.command for a in done]
    if why is not None or any(v.kind == "restore" for v in later):
        reason = why or "was restored to an older version since your edits were made"
        raise SaveConflictError(
            f"map {ref.id} {reason}: your edits were not saved (they are kept)", _touched(done), their
        )
    theirs = [Applied.from_dict(d) for v in later for d in (v.applied or [])]
    try:
        rebased = rebase(mine, theirs)
    except EditConflict as e:
        users = sorted({v.user for v in later})
        raise SaveConflictError(
            f"map {ref.id} was saved by {', '.join(users)} since your edits were made, and "
            f"your edits touch the same objects: {e}",
            e.objects, their,
        ) from None  # fmt: skip
    m = _load_base(ref, current)
    ed = Editor(m, user=user, now=utcnow)
    out = []
    try:
        for c in rebased:
            out.append(ed.apply(c).to_dict())
    except EditError as e:
        raise SaveConflictError(
            f"map {ref.id} changed since your edits were made and they no longer apply: {e}",
            _touched(done), their,
        ) from None  # fmt: skip
    users = sorted({v.user for v in later})
    msg = (
        f"{len(out)} edit{'s' * (len(out) != 1)} merged with the version"
        f"{'s' * (len(later) != 1)} saved since by {', '.join(users)} and saved"
    )
    return out, msg, m.file_bytes()


def restore(ref: MapRef, seq: int) -> dict[str, Any]:
    """Write version ``seq``'s files as a new version of the map (a restore is a new version).

    Raises
    ------
    MapNotFoundError
        No such version (404).
    SaveConflictError
        I have unsaved edits on the map (409): save or discard them first.
    """
    auth.check_editable(ref.owner, ref.name)
    user = _editor_name()
    db = session()
    with _map_lock(ref):
        _recover_pending(ref)
        target = db.scalar(
            select(MapVersion).where(MapVersion.map == ref.id, MapVersion.seq == seq, MapVersion.state == DONE)
        )
        if target is None:
            raise MapNotFoundError(f"map {ref.id} has no version {seq}")
        if _open_rows(db, ref, user):
            raise SaveConflictError(
                f"you have unsaved edits on map {ref.id}: save or discard them before restoring a version"
            )
        files = _read_files(_data_dir() / target.folder)
        current = data_version(ref)
        v = _write_version(
            db, ref, user=user, kind="restore", files=files, applied=[], before=current,
            message=f"restored version {seq}", restored_from=seq, same_as=[_data_dir() / target.folder],
        )  # fmt: skip
    log.info("map %s: %s restored version %d as version %d", ref.id, user, seq, v.seq)
    return {"version": _version_dict(v), "message": f"version {seq} restored as version {v.seq}"}

"""Resumable uploads by the tus 1.0.0 protocol (core, creation, termination), state on disk.

An upload of an owner lives in ``DATA_DIR/<owner>/.uploads/``: ``<id>.json`` (length,
metadata, who created it, whether it was imported) and ``<id>.part`` (the bytes received,
in order). The offset *is* the size of ``<id>.part``: nothing is held in memory, so any
gunicorn worker (or a restarted server) answers for any upload, and a dropped connection
keeps every byte written before it dropped. A ``PATCH`` holds an exclusive ``flock`` on the
part file (a second one at the same time gets 423, which tus clients retry), checks its
``Upload-Offset`` against the size on disk (409 when they differ: a chunk out of order or
repeated) and moves the body to the file: under gunicorn inside the kernel (``splice``
through a pipe as large as allowed, :func:`splice_pipe`), elsewhere through one reused
4 MiB buffer.

The bytes become a map only by an explicit import (:func:`import_uploads`): one upload
holding a zip, or several uploads holding the files of a map folder (each with a
``relativePath`` metadata value, as Uppy sends for a folder picked in the browser).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import io
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from pymapmanager.errors import (
    ConflictError,
    InvalidMapError,
    InvalidParameterError,
    MapExistsError,
    MapManagerError,
    MapNotFoundError,
    TooLargeError,
    UnsafeArchiveError,
)

from ..config import Settings
from .uploads import ImportResult, import_folder, import_zip, owner_dir

__all__ = [
    "TUS_EXTENSIONS",
    "IMPORT_TASK",
    "TUS_VERSION",
    "ImportJob",
    "UploadBusyError",
    "RequestBody",
    "UploadInfo",
    "append",
    "create_upload",
    "delete_upload",
    "get_job",
    "get_upload",
    "import_uploads",
    "parse_metadata",
    "prune_uploads",
    "run_import_job",
    "start_import",
]

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KEY = re.compile(r"^[!-+\--~]+$")  # printable ASCII without space and comma
_CHUNK = 4 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_MORE", 4)
#: the pipe size :func:`splice_pipe` last got (None: not asked yet)
_pipe_size: int | None = None


def _pipe_max_size() -> int:
    """``/proc/sys/fs/pipe-max-size``: the largest pipe a process without
    ``CAP_SYS_RESOURCE`` may ask for (1 MiB by default); 0 when it cannot be read."""
    try:
        return int(Path("/proc/sys/fs/pipe-max-size").read_text().strip())
    except (OSError, ValueError):
        return 0


def splice_pipe() -> tuple[int, int, int]:
    """A pipe for moving a request body from the socket to a file: ``(r, w, size)``.

    As large as the kernel allows, up to :data:`_CHUNK`: each ``splice`` moves at most a
    pipe's worth, and the default pipe (64 KiB) made a 1 GB upload cost some 33,000 system
    calls. Asking for more than ``pipe-max-size`` fails (``EPERM``) without
    ``CAP_SYS_RESOURCE`` (root in a container usually lacks it), so the size asked for
    falls back to that limit, then halves, down to what the pipe already has. The size
    that worked is remembered for the next requests (none is when every size was refused,
    e.g. over the user's quota of pipe pages for a while: the next request asks again).
    """
    global _pipe_size
    r, w = os.pipe()
    try:
        have = fcntl.fcntl(w, _F_GETPIPE_SZ)
    except OSError:
        return r, w, 1 << 16
    if _pipe_size is not None:
        wanted = [_pipe_size]
    else:
        wanted = [_CHUNK]
        limit = _pipe_max_size()
        if have < limit < _CHUNK:
            wanted.append(limit)
        size = min(_CHUNK, limit or _CHUNK) // 2
        while size > have:
            wanted.append(size)
            size //= 2
    for size in wanted:
        if size <= have:
            break
        try:
            got = fcntl.fcntl(w, _F_SETPIPE_SZ, size)
        except OSError:  # over the limit, or over the user's pipe buffer quota
            continue
        have = got if got > 0 else size
        if _pipe_size is None:  # only a size the kernel granted is remembered
            _pipe_size = have
        break
    return r, w, have


class UploadBusyError(ConflictError):
    """Another request is writing to (or importing) this upload right now (423: retry)."""

    status = 423


@dataclass
class UploadInfo:
    """What ``<id>.json`` holds."""

    id: str
    owner: str
    length: int
    metadata: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    created: float = 0.0
    imported: str | None = None


def parse_metadata(header: str | None) -> dict[str, str]:
    """The ``Upload-Metadata`` header: ``key base64value,key2 base64value`` as a dict."""
    out: dict[str, str] = {}
    if not header:
        return out
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        if not _KEY.match(key) or key in out:
            raise InvalidParameterError(f"Upload-Metadata: bad or repeated key '{key[:40]}'")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidParameterError(
                f"Upload-Metadata: the value of '{key}' is not base64 of UTF-8 text"
            ) from None
    return out


def _dir(data_dir: Path, owner: str) -> Path:
    d = owner_dir(data_dir, owner) / ".uploads"
    d.mkdir(exist_ok=True)
    return d


def _paths(data_dir: Path, owner: str, upload_id: str) -> tuple[Path, Path]:
    if not _ID.match(upload_id):
        raise MapNotFoundError(f"no upload {upload_id[:80]}")
    d = _dir(data_dir, owner)
    return d / f"{upload_id}.json", d / f"{upload_id}.part"


def _write_info(path: Path, info: UploadInfo) -> None:
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    os.replace(tmp, path)


def create_upload(
    data_dir: Path,
    owner: str,
    length: int,
    metadata: dict[str, str],
    settings: Settings,
    user: str | None = None,
) -> UploadInfo:
    """Start an upload of ``length`` bytes (413 over ``settings.upload_max_bytes``)."""
    if length < 0:
        raise InvalidParameterError("Upload-Length must be 0 or more")
    if length > settings.upload_max_bytes:
        raise TooLargeError(
            f"the upload of {length} bytes is over the limit of {settings.upload_max_bytes} bytes"
        )
    prune_uploads(data_dir, owner, settings.upload_expiry_hours)
    upload_id = secrets.token_urlsafe(18)
    meta_path, part = _paths(data_dir, owner, upload_id)
    info = UploadInfo(upload_id, owner, length, metadata, user, time.time())
    part.touch(exist_ok=False)
    _write_info(meta_path, info)
    log.info("upload %s of %s: %d bytes (%s)", upload_id, owner, length, metadata.get("filename"))
    return info


def get_upload(data_dir: Path, owner: str, upload_id: str) -> tuple[UploadInfo, int]:
    """The upload's info and offset (404 when there is no such upload)."""
    meta_path, part = _paths(data_dir, owner, upload_id)
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MapNotFoundError(f"no upload {upload_id}") from None
    info = UploadInfo(**raw)
    try:
        offset = part.stat().st_size
    except FileNotFoundError:  # imported: the bytes were consumed
        offset = info.length
    return info, offset


@contextmanager
def _locked(part: Path, upload_id: str) -> Iterator[int]:
    try:
        fd = os.open(part, os.O_WRONLY)
    except FileNotFoundError:
        raise ConflictError(f"upload {upload_id} was already imported") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusyError(f"upload {upload_id} is busy (another request is using it)") from None
        yield fd
    finally:
        os.close(fd)


class RequestBody:
    """A request body of known length, read into a caller's buffer (no copies, no allocation).

    Under gunicorn (``environ["gunicorn.socket"]`` and its ``LengthReader``), bytes are
    received straight from the connection's socket into the buffer: gunicorn's own reader
    copies every byte four to six times through ``BytesIO`` buffers, which made an upload
    several times slower than a file copy. Bytes gunicorn had already read ahead are used
    first, and gunicorn's count of what is left of the body is kept up to date after every
    receive, so the connection stays usable for the next request (keep-alive) however the
    read ends. Anywhere else (the werkzeug server, test clients) the WSGI input stream is
    read with ``readinto`` when it has one, else ``read``.
    """

    def __init__(self, environ: dict[str, Any], length: int | None, stream: IO[bytes] | None = None) -> None:
        self.length = length
        self._stream: Any = stream if stream is not None else environ.get("wsgi.input")
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._pending = b""
        inp = environ.get("wsgi.input")
        sock = environ.get("gunicorn.socket")
        reader: Any = getattr(inp, "reader", None)
        unreader: Any = getattr(reader, "unreader", None)
        buf = getattr(inp, "buf", None)
        if (
            length is not None
            and isinstance(sock, socket.socket)
            and type(reader).__name__ == "LengthReader"
            and getattr(reader, "length", None) == length
            and hasattr(unreader, "take_buffered")
            and hasattr(unreader, "unread")
            and isinstance(buf, io.BytesIO)
            and buf.getbuffer().nbytes == 0
        ):
            ahead = unreader.take_buffered()
            if len(ahead) > length:  # never the case without pipelining, but keep it exact
                unreader.unread(ahead[length:])
                ahead = ahead[:length]
            reader.length -= len(ahead)
            self._pending = ahead
            self._sock, self._reader = sock, reader

    @property
    def direct(self) -> bool:
        """Whether the bytes come straight from gunicorn's socket."""
        return self._sock is not None

    def splice_to(self, fd: int, count: int) -> int | None:
        """Move up to ``count`` bytes from the socket to the file ``fd`` inside the kernel.

        ``os.splice`` through a pipe: the bytes never come up to Python (but the few that
        gunicorn read ahead with the headers). None when this body cannot (not gunicorn's
        socket, TLS, no ``splice``);
        else how many bytes were moved (fewer when the connection dropped).
        """
        sock = self._sock
        if sock is None or not hasattr(os, "splice") or type(sock) is not socket.socket:
            return None
        moved = 0
        if self._pending:  # what gunicorn read ahead with the headers
            head, self._pending = self._pending[:count], self._pending[count:]
            view = memoryview(head)
            while view:
                view = view[os.write(fd, view):]
            moved = len(head)
        count = moved + min(count - moved, self._reader.length)
        r, w, pipe_size = splice_pipe()
        try:
            while moved < count:
                try:
                    n = os.splice(sock.fileno(), w, min(pipe_size, count - moved), flags=_SPLICE_FLAGS)
                except OSError:  # reset by the peer, timed out: what arrived stays
                    n = 0
                if not n:
                    break
                self._reader.length -= n
                left = n
                while left:
                    left -= os.splice(r, fd, left, flags=_SPLICE_FLAGS)
                moved += n
        finally:
            os.close(r)
            os.close(w)
        return moved

    def readinto(self, view: memoryview) -> int:
        """Fill (part of) ``view``; 0 at the end of the body or when the connection dropped."""
        if self._pending:
            n = min(len(view), len(self._pending))
            view[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        if self._sock is not None:
            left = self._reader.length
            if left <= 0:
                return 0
            try:
                n = self._sock.recv_into(view, min(len(view), left), socket.MSG_WAITALL)
            except OSError:  # reset by the peer, timed out: what arrived stays
                return 0
            self._reader.length -= n
            return n
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            got = readinto(view)
            return int(got or 0)
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def append(
    data_dir: Path,
    owner: str,
    upload_id: str,
    offset: int,
    body: RequestBody,
) -> int:
    """Write the body of a ``PATCH`` at ``offset``; return the new offset.

    The body goes to the part file inside the kernel (:meth:`RequestBody.splice_to`), or
    else through one reused buffer of :data:`_CHUNK` bytes (memory stays bounded whatever
    the chunk size), without a flush or fsync per chunk:
    the offset is the file's size, which the kernel keeps right across workers and a
    restarted server; only a crash of the machine could lose the tail, which the client
    then sends again (tus ``HEAD``). Nothing is fsynced here, nor by the import.

    Raises
    ------
    ConflictError
        ``offset`` is not where the upload is (409), or the upload was imported.
    UploadBusyError
        Another request holds the upload (423).
    InvalidParameterError
        The chunk goes beyond the upload's length (400).
    """
    info, _ = get_upload(data_dir, owner, upload_id)
    if info.imported:
        raise ConflictError(f"upload {upload_id} was already imported as {info.imported}")
    content_length = body.length
    _meta, part = _paths(data_dir, owner, upload_id)
    with _locked(part, upload_id) as fd:
        size = os.fstat(fd).st_size
        if offset != size:
            raise ConflictError(f"Upload-Offset is {offset} but the upload is at {size}")
        remaining = info.length - size
        if content_length is not None and content_length > remaining:
            raise InvalidParameterError(
                f"the chunk of {content_length} bytes goes beyond the upload's length "
                f"({remaining} bytes remain)"
            )
        os.lseek(fd, size, os.SEEK_SET)
        want = remaining if content_length is None else content_length
        spliced = body.splice_to(fd, want) if content_length is not None else None
        if spliced is not None:
            return size + spliced
        buf = memoryview(bytearray(min(_CHUNK, max(want, 1))))
        written = 0
        while written < want:
            n = body.readinto(buf[: min(len(buf), want - written)])
            if not n:  # the connection dropped: what arrived stays, the client resumes after it
                break
            view = buf[:n]
            while view:
                k = os.write(fd, view)
                view = view[k:]
            written += n
        if content_length is None and written == remaining and remaining > 0:
            if body.readinto(memoryview(bytearray(1))):
                raise InvalidParameterError("the chunk goes beyond the upload's length")
        return size + written


def delete_upload(data_dir: Path, owner: str, upload_id: str) -> None:
    """Termination: remove the upload's files (423 while a request writes to it)."""
    meta_path, part = _paths(data_dir, owner, upload_id)
    if not meta_path.exists():
        raise MapNotFoundError(f"no upload {upload_id}")
    if part.exists():
        with _locked(part, upload_id):
            part.unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)


def prune_uploads(data_dir: Path, owner: str, expiry_hours: float) -> int:
    """Remove uploads older than ``expiry_hours``; how many were removed."""
    d = _dir(data_dir, owner)
    limit = time.time() - expiry_hours * 3600
    removed = 0
    for meta in d.glob("*.json"):
        try:
            created = float(json.loads(meta.read_text(encoding="utf-8")).get("created", 0))
        except (OSError, ValueError):
            continue
        if created < limit:
            meta.with_suffix(".part").unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            removed += 1
    return removed


def _name_of(info: UploadInfo) -> str | None:
    """The file's path in the map folder (``relativePath``), else its name."""
    m = {k: v for k, v in info.metadata.items() if v not in ("", "null", "undefined")}
    return m.get("relativePath") or m.get("filename") or m.get("name")


def _is_zip(info: UploadInfo) -> bool:
    name = _name_of(info) or ""
    return (name.lower().endswith(".zip") and "/" not in name) or info.metadata.get("filetype") in (
        "application/zip",
        "application/x-zip-compressed",
    )


def import_uploads(
    data_dir: Path, owner: str, upload_ids: list[str], settings: Settings, *, overwrite: bool = False
) -> ImportResult:
    """Turn finished uploads into a map: one zip, or the files of one map folder.

    Each upload must be complete and not imported yet (409 otherwise; 423 while another
    request imports it). The files of a folder upload are named by their ``relativePath``
    metadata (``<map>/stackdb/...``). A map that is not valid is refused (400, problems file
    by file) and its uploads removed; a name already taken (409) keeps them, so the import
    can be asked again with ``overwrite``.
    """
    if not upload_ids:
        raise InvalidParameterError("no uploads to import")
    if len(set(upload_ids)) != len(upload_ids):
        raise InvalidParameterError("an upload is listed twice")
    infos: list[UploadInfo] = []
    for uid in upload_ids:
        info, offset = get_upload(data_dir, owner, uid)
        if info.imported:
            raise ConflictError(f"upload {uid} was already imported as {info.imported}")
        if offset != info.length:
            raise ConflictError(f"upload {uid} is not finished ({offset} of {info.length} bytes)")
        infos.append(info)
    with ExitStack() as stack:
        for info in infos:
            stack.enter_context(_locked(_paths(data_dir, owner, info.id)[1], info.id))
        try:
            if len(infos) == 1 and _is_zip(infos[0]):
                part = _paths(data_dir, owner, infos[0].id)[1]
                res = import_zip(part, data_dir, owner, settings, overwrite=overwrite)
            else:
                files = []
                for info in infos:
                    rel = _name_of(info)
                    if not rel:
                        raise InvalidParameterError(
                            f"upload {info.id} has no relativePath or filename metadata"
                        )
                    files.append((rel, _paths(data_dir, owner, info.id)[1]))
                res = import_folder(files, data_dir, owner, overwrite=overwrite)
        except MapExistsError:
            raise
        except (InvalidMapError, UnsafeArchiveError, InvalidParameterError):
            for info in infos:
                _paths(data_dir, owner, info.id)[1].unlink(missing_ok=True)
                info.imported = "(refused)"
                _write_info(_paths(data_dir, owner, info.id)[0], info)
            raise
        for info in infos:
            meta_path, part = _paths(data_dir, owner, info.id)
            part.unlink(missing_ok=True)
            info.imported = res.id
            _write_info(meta_path, info)
    return res


# --------------------------------------------------------------------------- imports as jobs

#: the Celery task's name (registered by ``app.celery_worker``)
IMPORT_TASK = "pmm.import_uploads"
_JOB = re.compile(r"^job-[A-Za-z0-9_-]{16,64}$")


@dataclass
class ImportJob:
    """An import running apart from the request that asked for it (``<job>.json``).

    ``state``: ``queued``, ``running``, ``done`` (``result`` is the map) or ``failed``
    (``error``: ``status``, ``message`` and, for a map that is not valid, ``problems``).
    """

    id: str
    owner: str
    uploads: list[str]
    overwrite: bool = False
    user: str | None = None
    state: str = "queued"
    created: float = 0.0
    updated: float = 0.0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    host: str = ""
    pid: int = 0

    def to_json(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.id, "owner": self.owner, "uploads": list(self.uploads), "state": self.state,
            "created": self.created, "updated": self.updated, "result": self.result, "error": self.error,
        }  # fmt: skip


def _job_path(data_dir: Path, owner: str, job_id: str) -> Path:
    if not _JOB.match(job_id):
        raise MapNotFoundError(f"no import job {job_id[:80]}")
    return _dir(data_dir, owner) / f"{job_id}.json"


def _save_job(data_dir: Path, job: ImportJob) -> None:
    job.updated = time.time()
    path = _job_path(data_dir, job.owner, job.id)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(asdict(job)), encoding="utf-8")
    os.replace(tmp, path)


def get_job(data_dir: Path, owner: str, job_id: str) -> ImportJob:
    """The job (404 when there is none). A job left ``running`` by a process of this host
    that is gone (a killed worker) is reported ``failed``."""
    path = _job_path(data_dir, owner, job_id)
    try:
        job = ImportJob(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise MapNotFoundError(f"no import job {job_id}") from None
    if job.state == "running" and job.host == socket.gethostname() and job.pid and not _alive(job.pid):
        job.state = "failed"
        job.error = {"status": 500, "error": "Interrupted",
                     "message": "the import was interrupted (the server process ended): import again"}  # fmt: skip
        _save_job(data_dir, job)
    return job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_import(
    data_dir: Path, owner: str, upload_ids: list[str], *, overwrite: bool = False, user: str | None = None
) -> ImportJob:
    """Check that the uploads can be imported (as :func:`import_uploads` does first) and
    record a queued job for them; :func:`run_import_job` does the import."""
    if not upload_ids:
        raise InvalidParameterError("no uploads to import")
    if len(set(upload_ids)) != len(upload_ids):
        raise InvalidParameterError("an upload is listed twice")
    for uid in upload_ids:
        info, offset = get_upload(data_dir, owner, uid)
        if info.imported:
            raise ConflictError(f"upload {uid} was already imported as {info.imported}")
        if offset != info.length:
            raise ConflictError(f"upload {uid} is not finished ({offset} of {info.length} bytes)")
    now = time.time()
    job = ImportJob(f"job-{secrets.token_urlsafe(18)}", owner, list(upload_ids), overwrite, user, "queued", now, now)
    _save_job(data_dir, job)
    log.info("import job %s of %s: uploads %s", job.id, owner, ", ".join(upload_ids))
    return job


def run_import_job(data_dir: Path, owner: str, job_id: str, settings: Settings) -> ImportJob:
    """Run a queued import (in a thread of the web worker, or a Celery worker); never raises
    for the import's own failures: they are the job's ``error``."""
    from .maps import clean_message

    job = get_job(data_dir, owner, job_id)
    if job.state != "queued":
        return job
    job.state, job.host, job.pid = "running", socket.gethostname(), os.getpid()
    _save_job(data_dir, job)
    try:
        res = import_uploads(data_dir, owner, job.uploads, settings, overwrite=job.overwrite)
    except MapManagerError as e:
        job.state = "failed"
        job.error = {"status": e.status, "error": type(e).__name__, "message": clean_message(str(e), data_dir)}
        details = getattr(e, "details", None)
        if isinstance(details, dict):
            job.error |= {k: v for k, v in details.items() if k not in job.error}
    except Exception:  # a bug: logged with its traceback, the user sees a plain message
        log.exception("import job %s of %s failed", job_id, owner)
        job.state = "failed"
        job.error = {"status": 500, "error": "Internal Server Error", "message": "the import failed (server error)"}
    else:
        job.state, job.result = "done", res.to_dict()
    _save_job(data_dir, job)
    log.info("import job %s of %s: %s", job_id, owner, job.state)
    return job


def upload_json(info: UploadInfo, offset: int) -> dict[str, Any]:
    """The upload as the API shows it."""
    return {
        "id": info.id,
        "owner": info.owner,
        "length": info.length,
        "offset": offset,
        "metadata": info.metadata,
        "imported": info.imported,
    }

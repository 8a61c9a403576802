"""A Python client of the PyMapManager server's API (``/api/v1``), over httpx.

>>> from pymapmanager.client import Client
>>> c = Client("http://lab-server:8050", token="pmm_...")      # doctest: +SKIP
>>> c.list_maps()                                               # doctest: +SKIP
>>> c.values("alice", "F27A_1", "pDist")["values"]             # doctest: +SKIP
>>> c.upload("path/to/F27A_1")        # a map folder or a zip   # doctest: +SKIP
>>> c.download("alice", "F27A_1", "here/")                     # doctest: +SKIP

Uploads go through the server's resumable tus endpoint in chunks: an interrupted upload
(a dropped connection, a server restart, a killed script) resumes where it stopped, from
the same or a later run (the upload's address is kept in a small state file). Neither the
client nor the server holds the file in memory. The library never imports the web stack:
this module needs only httpx.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import os
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from .errors import InvalidParameterError, MapManagerError

__all__ = ["ApiError", "Client", "Progress", "default_state_file", "zip_map_folder"]

log = logging.getLogger(__name__)

#: ``progress(done_bytes, total_bytes)``
Progress = Callable[[int, int], None]

TUS = {"Tus-Resumable": "1.0.0"}
#: bytes per PATCH: large, so that the per-request work is small next to the transfer; a
#: chunk is never held in memory (it goes from the file to the socket by ``sendfile``)
CHUNK = 64 << 20


class ApiError(MapManagerError):
    """The server answered with an error; ``status`` is its HTTP status.

    Parameters
    ----------
    status : int
        The HTTP status.
    message : str
        The server's message (its JSON ``message``), or the response text.
    problems : list of dict, optional
        Why an upload is not a valid map, file by file (``file``, ``line``, ``problem``).
    """

    def __init__(self, status: int, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.problems = list(problems or [])


def default_state_file() -> Path:
    """Where unfinished uploads are remembered.

    Returns
    -------
    Path
        ``$XDG_STATE_HOME/pymapmanager/uploads.json`` (``~/.local/state`` without it).
    """
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pymapmanager" / "uploads.json"


def zip_map_folder(folder: str | Path, dest: str | Path) -> Path:
    """Zip a map folder as ``<name>/...`` into ``dest`` (file by file, never in memory).

    Images are stored, text deflated; hidden files (``.*``) are left out. Entries are
    sorted and dated from the files, so the same folder gives the same zip (which lets an
    interrupted upload of it resume).

    Parameters
    ----------
    folder : str or Path
        The map folder (holding ``<folder name>.txt``).
    dest : str or Path
        The zip file to write.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    InvalidParameterError
        ``folder`` is not a map folder.
    """
    folder = Path(folder)
    dest = Path(dest)
    if not (folder / f"{folder.name}.txt").is_file():
        raise InvalidParameterError(f"{folder} is not a map folder (no {folder.name}.txt)")
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for dirpath, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for n in sorted(names):
                p = Path(dirpath) / n
                if n.startswith(".") or p.is_symlink() or not p.is_file():
                    continue
                rel = p.relative_to(folder).as_posix()
                stored = p.suffix.lower() in (".tif", ".tiff", ".png", ".jpg", ".zip")
                zf.write(p, f"{folder.name}/{rel}", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return dest


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class Client:
    """The API of one server, as one user (an API token) or anonymously.

    Parameters
    ----------
    server : str
        The server's base URL, e.g. ``http://lab-server:8050`` (with its URL prefix, if any).
    token : str, optional
        An API token (made on the server's "My maps" page or by ``mapmanager user token``).
    timeout : float
        Seconds to wait for the server on each request.
    retries : int
        How many times an upload chunk is retried after a network error (resuming from
        the offset the server reports).
    state_file : Path, optional
        Where unfinished uploads are remembered (default :func:`default_state_file`).
    transport : httpx.BaseTransport, optional
        For tests (e.g. ``httpx.WSGITransport``).
    """

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        state_file: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.retries = retries
        self.state_file = Path(state_file) if state_file is not None else default_state_file()
        headers = {"User-Agent": "pymapmanager-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=timeout, transport=transport
        )
        # chunks go by sendfile on a plain http.client connection, unless a test transport or
        # a proxy stands in the way (then through httpx, 1 MiB at a time)
        self._raw: _RawPatcher | None = None
        self._raw_ok = transport is None
        self._headers = headers
        self._timeout = timeout

    def close(self) -> None:
        """Close the connections."""
        self._http.close()
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _check(resp: httpx.Response) -> httpx.Response:
        if resp.status_code < 400:
            return resp
        raise _api_error(resp.status_code, resp.text, resp.reason_phrase)

    def _get(self, path: str, **params: Any) -> Any:
        q = {k: v for k, v in params.items() if v is not None}
        return self._check(self._http.get(f"/api/v1{path}", params=q)).json()

    def whoami(self) -> dict[str, Any]:
        """Who the token belongs to.

        Returns
        -------
        dict of str to object
            ``{"name", "is_admin"}`` of the token's user.

        Raises
        ------
        ApiError
            The server answered with an error (401 without a valid token).
        """
        result: dict[str, Any] = self._check(self._http.get("/auth/whoami")).json()
        return result

    # ------------------------------------------------------------------ reading

    def list_maps(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Every map the token may read.

        Parameters
        ----------
        owner : str, optional
            Only this owner's maps.

        Returns
        -------
        list of dict
            The catalog's summary of each map.

        Raises
        ------
        ApiError
            The server answered with an error (its HTTP status and message).
        """
        result: list[dict[str, Any]] = self._get("/maps", owner=owner)["maps"]
        return result

    def info(self, owner: str, name: str) -> dict[str, Any]:
        """The map's description.

        Parameters
        ----------
        owner, name : str
            The map.

        Returns
        -------
        dict of str to object
            Sessions, channels, images, data version...

        Raises
        ------
        ApiError
            The server answered with an error (its HTTP status and message).
        """
        result: dict[str, Any] = self._get(f"/maps/{owner}/{name}")
        return result

    def statistics(self, owner: str, name: str) -> list[str]:
        """The statistics :meth:`values` accepts.

        Parameters
        ----------
        owner, name : str
            The map.

        Returns
        -------
        list of str
            Their names.

        Raises
        ------
        ApiError
            The server answered with an error (its HTTP status and message).
        """
        result: list[str] = self._get(f"/maps/{owner}/{name}/statistics")["statistics"]
        return result

    def values(
        self,
        owner: str,
        name: str,
        stat: str,
        *,
        roi: str | None = None,
        segment: int | None = None,
        include_bad: bool = False,
    ) -> dict[str, Any]:
        """Map values of a statistic (as :func:`pymapmanager.map_values`).

        Parameters
        ----------
        owner, name : str
            The map.
        stat : str
            The statistic.
        roi : str, optional
            The ROI type (default: the map's default).
        segment : int, optional
            One map segment (default: all).
        include_bad : bool
            Keep objects marked bad.

        Returns
        -------
        dict of str to object
            ``runs`` x ``sessions`` in ``values`` (None where absent), with the rows,
            runs and segments.

        Raises
        ------
        ApiError
            The server answered with an error (its HTTP status and message).
        """
        result: dict[str, Any] = self._get(
            f"/maps/{owner}/{name}/values", stat=stat, roi=roi, segment=segment,
            include_bad="true" if include_bad else None,
        )  # fmt: skip
        return result

    def annotations(self, owner: str, name: str, session: int, roi: str | None = None) -> dict[str, Any]:
        """Every object of one session.

        Parameters
        ----------
        owner, name : str
            The map.
        session : int
            The session.
        roi : str, optional
            One ROI type, or ``"all"`` (default: the map's default type).

        Returns
        -------
        dict of str to object
            The session's objects (positions, runs, dynamics...).

        Raises
        ------
        ApiError
            The server answered with an error (its HTTP status and message).
        """
        result: dict[str, Any] = self._get(f"/maps/{owner}/{name}/sessions/{session}/annotations", roi=roi)
        return result

    # ------------------------------------------------------------------ download

    def download(
        self,
        owner: str,
        name: str,
        dest: str | Path,
        *,
        extract: bool = True,
        progress: Progress | None = None,
    ) -> Path:
        """Download a map as a zip into the folder ``dest``; return the map folder (or the zip).

        The zip is streamed to disk; with ``extract`` it is unpacked into ``dest/<name>/``
        (which must not exist) and removed.

        Parameters
        ----------
        owner, name : str
            The map.
        dest : str or Path
            The folder to download into (made when missing).
        extract : bool
            Unpack the zip (else keep ``dest/<name>.zip``).
        progress : callable, optional
            Called as ``progress(bytes_done, bytes_total)`` while downloading.

        Returns
        -------
        Path
            The map folder (or the zip, without ``extract``).

        Raises
        ------
        InvalidParameterError
            ``dest/<name>`` exists already, or the zip holds an entry outside it.
        ApiError
            The server answered with an error.
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / name
        if extract and target.exists():
            raise InvalidParameterError(f"{target} exists already")
        zpath = dest / f"{name}.zip"
        part = dest / f".{name}.zip.part"
        done = 0
        with self._http.stream("GET", f"/api/v1/maps/{owner}/{name}/download") as resp:
            if resp.status_code >= 400:
                resp.read()
                self._check(resp)
            total = int(resp.headers.get("Content-Length") or 0)
            with open(part, "wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        os.replace(part, zpath)
        if not extract:
            return zpath
        _extract(zpath, dest, name)
        zpath.unlink()
        return target

    # ------------------------------------------------------------------ upload

    def upload(
        self,
        path: str | Path,
        owner: str | None = None,
        *,
        overwrite: bool = False,
        chunk_size: int = CHUNK,
        progress: Progress | None = None,
        importing: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Upload a map folder or a zip of one; return the server's answer (``id`` etc.).

        After the bytes, the server imports the map as a job (checks, extraction,
        validation): this call waits for it, telling ``importing(state)`` each new state
        (``queued``, ``running``, ``done``, ``failed``).

        A folder is zipped first (into a temporary file). The zip goes up in chunks by the
        tus protocol; when an earlier call was interrupted, this one goes on from where
        the server has it.

        Parameters
        ----------
        path : str or Path
            A map folder or a zip of one.
        owner : str, optional
            Whose map it becomes (default: the token's user).
        overwrite : bool
            Replace a map of the same name.
        chunk_size : int
            Bytes per request.
        progress : callable, optional
            Called as ``progress(bytes_done, bytes_total)`` while uploading.
        importing : callable, optional
            Called as ``importing(state)`` with each new state of the import job
            (``queued``, ``running``, ...) while the server imports the upload.

        Returns
        -------
        dict of str to object
            The server's answer (``id``...).

        Raises
        ------
        InvalidParameterError
            ``path`` is neither a map folder nor a file.
        ApiError
            The server refused: 400 with ``problems`` when the map is not valid, 409 when
            the name exists and ``overwrite`` is false.
        """
        path = Path(path)
        owner = owner or str(self.whoami()["name"])
        if path.is_dir():
            with tempfile.TemporaryDirectory(prefix="pmm-upload-") as tmp:
                zpath = zip_map_folder(path, Path(tmp) / f"{path.name}.zip")
                return self._upload_zip(zpath, owner, overwrite, chunk_size, progress, importing)
        if not path.is_file():
            raise InvalidParameterError(f"{path}: no such map folder or zip")
        return self._upload_zip(path, owner, overwrite, chunk_size, progress, importing)

    def _key(self, zpath: Path, owner: str) -> str:
        st = zpath.stat()
        h = hashlib.sha256()
        with open(zpath, "rb") as f:  # the first and last MiB: cheap, and changes with content
            h.update(f.read(1 << 20))
            f.seek(max(0, st.st_size - (1 << 20)))
            h.update(f.read(1 << 20))
        return f"{self.server}|{owner}|{zpath.name}|{st.st_size}|{h.hexdigest()}"

    @contextmanager
    def _state(self) -> Iterator[dict[str, str]]:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            state = {}
        yield state
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def _offset(self, url: str) -> int | None:
        resp = self._http.head(url, headers=TUS)
        if resp.status_code in (404, 410):
            return None
        self._check(resp)
        return int(resp.headers["Upload-Offset"])

    def _create(self, zpath: Path, owner: str) -> str:
        size = zpath.stat().st_size
        meta = f"filename {_b64(zpath.name)},filetype {_b64('application/zip')}"
        resp = self._check(
            self._http.post(
                f"/api/v1/uploads/{owner}",
                headers=TUS | {"Upload-Length": str(size), "Upload-Metadata": meta},
            )
        )
        return str(httpx.URL(self.server + "/").join(resp.headers["Location"]))

    def _upload_zip(
        self, zpath: Path, owner: str, overwrite: bool, chunk_size: int, progress: Progress | None,
        importing: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        size = zpath.stat().st_size
        key = self._key(zpath, owner)
        with self._state() as state:
            url = state.get(key)
        offset = self._offset(url) if url else None
        if url is None or offset is None:
            url = self._create(zpath, owner)
            offset = 0
            with self._state() as state:
                state[key] = url
        else:
            log.info("resuming the upload of %s at %d of %d bytes", zpath.name, offset, size)
        failures = 0
        with open(zpath, "rb") as f:
            while offset < size:
                n = min(chunk_size, size - offset)
                try:
                    status, new_offset = self._patch(url, f, offset, n)
                    if status in (409, 423):  # another offset on the server, or busy
                        raise httpx.TransportError(f"server says {status}")
                    offset = new_offset
                    failures = 0
                except httpx.TransportError as e:
                    failures += 1
                    if failures > self.retries:
                        raise ApiError(0, f"upload interrupted at {offset} of {size} bytes: {e}") from e
                    time.sleep(min(0.2 * 2**failures, 10.0))
                    log.warning("upload: %s; resuming", e)
                    got = self._retry(lambda: self._offset(url))
                    if got is None:
                        raise ApiError(404, "the upload expired on the server; start again") from e
                    offset = got
                    continue
                if progress is not None:
                    progress(offset, size)
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        resp = self._http.post(
            f"/api/v1/uploads/{owner}/import", json={"uploads": [upload_id], "overwrite": overwrite}
        )
        try:
            result = self._import_result(resp, importing)
        except ApiError as e:
            if not (e.status == 409 and "already exists" in str(e)):
                # done with these bytes whatever the verdict; a name taken keeps them for a
                # retry with overwrite
                with self._state() as state:
                    state.pop(key, None)
            raise
        with self._state() as state:
            state.pop(key, None)
        return result

    def _import_result(self, resp: httpx.Response, importing: Callable[[str], None] | None) -> dict[str, Any]:
        """The map an import request made: its 201 answer, or its job's (202) once finished.

        The job is polled (every 0.2 s at first, then up to every 2 s) until it is ``done``
        or ``failed``; a failed job raises :class:`ApiError` with the job's status, message
        and problems, as the synchronous answer would.
        """
        self._check(resp)
        body: dict[str, Any] = resp.json()
        if resp.status_code != 202:
            return body
        status_url = str(body.get("status_url") or resp.headers.get("Location") or "")
        delay = 0.2
        last = ""
        while True:
            state = str(body.get("state"))
            if state != last:
                last = state
                log.info("import job %s: %s", body.get("id"), state)
                if importing is not None:
                    importing(state)
            if state == "done":
                result: dict[str, Any] = body["result"]
                return result
            if state == "failed":
                err = body.get("error") or {}
                raise ApiError(int(err.get("status") or 500), str(err.get("message") or "the import failed"),
                               err.get("problems"))  # fmt: skip
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            body = self._check(self._retry(lambda: self._http.get(status_url))).json()

    def _patch(self, url: str, f: Any, offset: int, n: int) -> tuple[int, int]:
        """PATCH ``n`` bytes of ``f`` from ``offset``; (status, the server's new offset).

        Raises :class:`httpx.TransportError` for a network failure (the caller resumes) and
        :class:`ApiError` for an error answer other than 409 and 423.
        """
        headers = TUS | {
            "Upload-Offset": str(offset), "Content-Length": str(n),
            "Content-Type": "application/offset+octet-stream",
        }  # fmt: skip
        if self._raw_ok and _no_proxy(url):
            if self._raw is None:
                self._raw = _RawPatcher(self._timeout)
            status, got, text = self._raw.patch(url, self._headers | headers, f, offset, n)
        else:
            resp = self._http.patch(url, content=_file_part(f, offset, n), headers=headers)
            status, got, text = resp.status_code, resp.headers.get("Upload-Offset"), resp.text
        if status in (409, 423):
            return status, offset
        if status >= 400:
            raise _api_error(status, text, "")
        if got is None or not got.isdigit():
            raise ApiError(status, "the server did not say where the upload is (Upload-Offset)")
        return status, int(got)

    def _retry(self, fn: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                time.sleep(min(0.2 * 2 ** (attempt + 1), 10.0))
        return None  # pragma: no cover


def _api_error(status: int, text: str, reason: str) -> ApiError:
    """The error of an answer: its JSON ``message`` (and ``problems``), else its text."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return ApiError(status, str(body["message"]), body.get("problems"))
    return ApiError(status, text.strip()[:300] or reason)


def _no_proxy(url: str) -> bool:
    """Whether ``url`` is reached directly (no proxy from the environment applies)."""
    parts = httpx.URL(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(parts.host))


class _RawPatcher:
    """Upload chunks with ``socket.sendfile``: one kept-alive ``http.client`` connection.

    httpx sends a body from Python buffers (a read and a send per piece, with its own
    bookkeeping), which held an upload on loopback to a fraction of a file copy; here the
    kernel moves the file's pages to the socket. Over TLS ``sendfile`` falls back to
    sending from a buffer, which is still one copy less than httpx.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._where: tuple[str, str, int] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self, url: httpx.URL) -> http.client.HTTPConnection:
        where = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        if self._conn is None or where != self._where:
            self.close()
            cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(where[1], where[2], timeout=self.timeout)
            self._where = where
        return self._conn

    def patch(
        self, url: str, headers: dict[str, str], f: Any, offset: int, n: int
    ) -> tuple[int, str | None, str]:
        """Send one chunk; (status, ``Upload-Offset``, body text)."""
        u = httpx.URL(url)
        conn = self._connection(u)
        target = u.raw_path.decode("ascii")
        try:
            conn.putrequest("PATCH", target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            assert conn.sock is not None
            sent = conn.sock.sendfile(f, offset, n)
            if sent != n:
                raise InvalidParameterError("the file got shorter while it was being uploaded")
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            if resp.will_close:
                self.close()
            return resp.status, resp.getheader("Upload-Offset"), text
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise httpx.TransportError(f"{type(e).__name__}: {e}") from e


def _file_part(f: Any, offset: int, n: int, piece: int = 1 << 20) -> Iterator[bytes]:
    """``n`` bytes of the open file ``f`` from ``offset``, 1 MiB at a time (a chunk is never
    held whole in memory)."""
    f.seek(offset)
    left = n
    while left > 0:
        data = f.read(min(piece, left))
        if not data:
            raise InvalidParameterError("the file got shorter while it was being uploaded")
        left -= len(data)
        yield data


def _extract(zpath: Path, dest: Path, name: str) -> None:
    """Unpack a downloaded map zip under ``dest``; refuse entries outside ``<name>/``."""
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0] != name:
                raise InvalidParameterError(f"unexpected entry in the downloaded zip: {info.filename}")
        for info in zf.infolist():
            if info.is_dir():
                continue
            target = dest.joinpath(*PurePosixPath(info.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "xb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)

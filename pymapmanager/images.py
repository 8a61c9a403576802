"""Image stacks of a map: reading planes, projections, contrast, tiles and crops.

A session's image is one TIFF per channel, ``raw/<stack>_ch<c>.tif`` (see ``docs/format.md``):
a 3D single-channel stack described everywhere here as **(plane, row, column)**, usually
``uint8`` or ``uint16`` and up to 2048 x 2048 x 80 or more. Single planes are on the hot path
of the web viewer, so :class:`ImageStack` never reads more of the file than it needs.

How a plane is read
-------------------
When a plane's pixels are stored uncompressed and in one block (the case for files written
by ImageJ/Fiji, tifffile, and most acquisition software), the plane is copied straight out of
a read-only memory map of the file at that block's offset; no TIFF page is decoded and no other
plane is touched. Otherwise (compressed, predictor, bit-packed, odd strip layout) the page
is decoded by tifffile (``TiffFile.asarray(key=z)``), which also reads only that page.

Measured (file in the page cache, median over planes) for a 1024 x 1024 ``uint16`` plane:
memory map + copy 0.12-0.18 ms, ``os.pread`` into an array ~0.13-0.3 ms,
``tif.pages[z].asarray()`` 0.25-0.45 ms, ``tifffile.imread(path, key=z)`` 0.3-0.6 ms.
For 2048 x 2048 planes read for the first time all three are within 15 % (~0.8-1 ms: the
copy dominates); the map wins on re-reads and on projections, where each plane is reduced
straight from the map without a copy (max projection of 2048 x 2048 x 72 ``uint16``:
~34 ms, against ~100-140 ms decoding page by page with tifffile). A read-only map of
the whole file also covers files whose pages are interleaved with their headers.

Tiles (for Leaflet with ``crs="Simple"``)
-----------------------------------------
The pyramid has levels ``0 .. max_level(shape)``. Level ``max_level`` is the full-resolution
image; every level below halves it, so level ``L`` shows the image reduced by
``f = 2 ** (max_level - L)``, and level 0 fits in one tile. Reduction is a **block mean**
over ``f x f`` blocks of full-resolution pixels (less aliasing and less noise than picking
every f-th pixel); blocks cut by the right or bottom edge average only the pixels inside
the image. Integer images are rounded half up back to their dtype.

Coordinates: row 0 is the **top** of the image, column 0 its **left**. Tile ``(tx, ty)``
of level ``L`` holds reduced pixels ``[ty*T, (ty+1)*T)`` (rows, downwards) and
``[tx*T, (tx+1)*T)`` (columns, rightwards), with ``T = tile_size``; that is full-resolution
rows ``[ty*T*f, (ty+1)*T*f)`` and columns ``[tx*T*f, (tx+1)*T*f)``. ``tx`` runs along
columns (x), ``ty`` along rows (y). Parts of a tile beyond the image are 0.

This is exactly Leaflet's tile numbering under ``L.CRS.Simple`` (tile y grows downwards)
when one map unit is one full-resolution pixel, the image occupies ``lat`` in
``[-rows, 0]`` and ``lng`` in ``[0, columns]`` (bounds ``[[-rows, 0], [0, columns]]``;
pixel ``(row, col)`` is at ``lat = -row, lng = col``), the Leaflet zoom of full resolution
is 0 and lower levels are negative zooms: use a ``TileLayer`` with
``zoomOffset=max_level``, ``minZoom=-max_level``, ``maxNativeZoom=0`` (``{z}`` in the URL
is then the level ``L``), ``tileSize=T`` and ``noWrap=True``.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import tifffile

from .errors import InvalidParameterError, MapFormatError, MapNotFoundError

__all__ = [
    "PROJECTIONS",
    "ImageStack",
    "PlaneRequest",
    "auto_contrast",
    "crop",
    "downsample",
    "image_histogram",
    "max_level",
    "open_stack",
    "read_plane",
    "thumbnail",
    "tile",
    "tile_grid",
    "to_uint8",
    "um_to_px",
]

logger = logging.getLogger(__name__)

#: Values of :attr:`PlaneRequest.projection`.
PROJECTIONS: tuple[str, ...] = ("none", "max", "sliding")

#: Errors tifffile (or the codecs it calls) raises on a damaged file (bad IFDs, offsets
#: past the end, tags of the wrong type, codecs failing): all become MapFormatError.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    tifffile.TiffFileError,
    ValueError,
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    RuntimeError,
    OverflowError,
    NotImplementedError,
    MemoryError,
)

#: :func:`auto_contrast` looks at no more pixels than this by default.
_CONTRAST_SAMPLES = 1 << 20

#: Pixels counted per ``bincount`` call (see :func:`_value_counts`).
_COUNT_CHUNK = 1 << 19


# --------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class _Layout:
    """What :class:`ImageStack` learned about a file when opening it."""

    shape: tuple[int, int, int]
    dtype: np.dtype[Any]  # native byte order
    file_dtype: np.dtype[Any]  # byte order of the file
    offsets: tuple[int, ...] | None  # byte offset of each plane, when directly readable
    complete: int  # planes whose data is inside the file (the others: file truncated)


class ImageStack:
    """A single-channel image stack in a TIFF file, read one plane at a time.

    The file is opened on first use (or by :meth:`open`) and stays open until
    :meth:`close`; use the stack as a context manager to close it. Reading is thread safe.

    Parameters
    ----------
    path : str or Path
        A TIFF file holding one 2D image (one plane) or one 3D stack
        (plane, row, column) of one channel.
    name : str, optional
        How messages name the file (e.g. ``raw/a_ch1.tif``, relative to the map folder);
        default the file name. Messages never show the full path.

    Attributes
    ----------
    path : Path
        The file.
    name : str
        The file as messages name it.

    Raises
    ------
    MapNotFoundError
        (on first use) The file does not exist.
    MapFormatError
        (on first use) The file is not a readable TIFF, or holds more than one channel,
        colour (RGB) pixels, more than three dimensions, or several images of different
        shapes.

    Examples
    --------
    >>> with ImageStack("raw/F27A_1_s4_ch1.tif") as stack:  # doctest: +SKIP
    ...     plane = stack.plane(10)  # (rows, columns)
    ...     lo, hi = auto_contrast(plane)
    ...     png_ready = to_uint8(plane, lo, hi)
    """

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.name
        self._lock = threading.RLock()
        self._tif: tifffile.TiffFile | None = None
        self._series: list[tifffile.TiffPageSeries] = []
        self._layout: _Layout | None = None
        self._mmap: np.memmap[Any, np.dtype[np.uint8]] | None = None

    # ----------------------------------------------------------------- opening, closing

    def open(self) -> ImageStack:
        """Open the file now (it is otherwise opened on first use).

        Returns
        -------
        ImageStack
            ``self``.
        """
        self._ensure_open()
        return self

    def close(self) -> None:
        """Close the file; the stack reopens it if used again."""
        with self._lock:
            if self._tif is not None:
                self._tif.close()
            self._tif = None
            self._series = []
            self._layout = None
            self._mmap = None

    @property
    def closed(self) -> bool:
        """Whether the file is currently closed."""
        return self._tif is None

    def __enter__(self) -> ImageStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._layout is None:
            return f"ImageStack({str(self.path)!r}, closed)"
        return f"ImageStack({str(self.path)!r}, shape={self.shape}, dtype={self.dtype})"

    def _ensure_open(self) -> _Layout:
        layout = self._layout
        if layout is not None:
            return layout
        with self._lock:
            if self._layout is None:
                self._open_file()
            assert self._layout is not None
            return self._layout

    def _open_file(self) -> None:
        path = self.path
        if not path.exists():
            raise MapNotFoundError(f"image file not found: {self.name}")
        if not path.is_file():
            raise MapFormatError(self.name, "is not a regular file")
        try:
            tif = tifffile.TiffFile(path)
        except tifffile.TiffFileError as exc:
            raise MapFormatError(self.name, f"is not a readable TIFF file ({self._why(exc)})") from exc
        except _READ_ERRORS as exc:
            raise MapFormatError(self.name, f"cannot be read ({self._why(exc)})") from exc
        try:
            series, layout = _inspect(tif, path, self.name)
        except MapFormatError:
            tif.close()
            raise
        except _READ_ERRORS as exc:
            tif.close()
            raise MapFormatError(self.name, f"is not a readable TIFF file ({self._why(exc)})") from exc
        mmap = None
        if layout.offsets is not None:
            try:
                mmap = np.memmap(path, dtype=np.uint8, mode="r")
            except (OSError, ValueError) as exc:  # e.g. no mmap on this file system
                logger.info("%s: cannot memory-map (%s); decoding pages instead", path, exc)
                layout = _Layout(layout.shape, layout.dtype, layout.file_dtype, None, layout.complete)
        self._tif, self._series, self._layout, self._mmap = tif, series, layout, mmap
        logger.debug(
            "opened %s: shape %s, %s, %s",
            path,
            layout.shape,
            layout.dtype,
            "memory map" if mmap is not None else "tifffile decoding",
        )

    # ----------------------------------------------------------------- description

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(planes, rows, columns)``; a 2D file has one plane."""
        return self._ensure_open().shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """Pixel type of the planes returned (native byte order)."""
        return self._ensure_open().dtype

    @property
    def num_planes(self) -> int:
        """Number of planes (z slices) in the file."""
        return self._ensure_open().shape[0]

    @property
    def is_memory_mapped(self) -> bool:
        """Whether planes are copied from a memory map (else decoded by tifffile)."""
        self._ensure_open()
        return self._mmap is not None

    # ----------------------------------------------------------------- reading

    def plane(self, z: int) -> np.ndarray:
        """Read one plane, and only that plane, from the file.

        Parameters
        ----------
        z : int
            Plane index, ``0 <= z < num_planes``.

        Returns
        -------
        ndarray, shape (rows, columns)
            A new array of :attr:`dtype`, owned by the caller.

        Raises
        ------
        MapNotFoundError
            ``z`` is out of range (the message gives the valid range).
        MapFormatError
            The file's data cannot be read.
        """
        self._check_z(z)
        return self._read(int(z), copy=True)

    def _check_z(self, z: int) -> None:
        n = self.num_planes
        if isinstance(z, bool) or not isinstance(z, int | np.integer):
            raise InvalidParameterError(f"plane index must be an integer, got {z!r}")
        if not 0 <= z < n:
            raise MapNotFoundError(
                f"plane {z} does not exist in {self.name}: valid planes are 0..{n - 1}"
            )

    def _read(self, z: int, *, copy: bool) -> np.ndarray:
        """Plane ``z``; a read-only view of the memory map when ``copy`` is False."""
        layout = self._ensure_open()
        _, rows, cols = layout.shape
        if z >= layout.complete:
            raise MapFormatError(
                self.name, "the file ends before this plane's data (file truncated?)", plane=z
            )
        mm = self._mmap
        if mm is not None and layout.offsets is not None:
            start = layout.offsets[z]
            view = (
                mm[start : start + rows * cols * layout.file_dtype.itemsize]
                .view(layout.file_dtype)
                .reshape(rows, cols)
            )
            if copy or view.dtype != layout.dtype:
                return np.array(view, dtype=layout.dtype, order="C")
            return view
        with self._lock:
            if self._tif is None:  # closed meanwhile by another thread
                self._open_file()
            try:
                if len(self._series) > 1:
                    data = self._series[z].asarray()
                else:
                    tif = self._tif
                    assert tif is not None
                    key = None if layout.shape[0] == 1 else z
                    data = tif.asarray(key=key, series=self._series[0])
            except _READ_ERRORS as exc:
                raise MapFormatError(self.name, f"cannot be read ({self._why(exc)})", plane=z) from exc
        data = np.asarray(data)
        if data.size != rows * cols:
            raise MapFormatError(self.name, f"holds {data.size} pixels, not {rows} x {cols}", plane=z)
        data = data.reshape(rows, cols)
        if data.dtype != layout.dtype:
            data = data.astype(layout.dtype)
        return data

    def _why(self, exc: BaseException) -> str:
        """An exception's text without the file's full path."""
        return str(exc).replace(str(self.path), self.name) or type(exc).__name__

    def check(self, *, decode: bool = False) -> None:
        """Check the file's header and plane layout (and decode every plane).

        Every plane's data must lie inside the file (a truncated file is found without
        reading pixels). With ``decode`` every plane is read as well.

        Parameters
        ----------
        decode : bool
            Also read every plane.

        Raises
        ------
        MapFormatError
            The file is not a readable single-channel TIFF, or a plane is cut off or
            cannot be decoded; the message names the plane.

        Examples
        --------
        >>> import tempfile, pathlib, numpy as np, tifffile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a_ch1.tif"
        >>> tifffile.imwrite(p, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
        >>> with tifffile.TiffFile(p) as t:
        ...     cut = t.pages[-1].dataoffsets[0] + 10  # inside the last plane's pixels
        >>> _ = p.write_bytes(p.read_bytes()[:cut])
        >>> ImageStack(p, name="raw/a_ch1.tif").check()
        Traceback (most recent call last):
        ...
        pymapmanager.errors.MapFormatError: raw/a_ch1.tif: plane 2: the file ends before this plane's data (file truncated?)
        """
        layout = self._ensure_open()
        if layout.complete < layout.shape[0]:
            raise MapFormatError(
                self.name, "the file ends before this plane's data (file truncated?)", plane=layout.complete
            )
        if decode:
            for z in range(layout.shape[0]):
                self._read(z, copy=False)

    def max_projection(self) -> np.ndarray:
        """Maximum over all planes, computed one plane at a time.

        Returns
        -------
        ndarray, shape (rows, columns)
            Same dtype as the stack.
        """
        return self._reduce(0, self.num_planes, "max")

    def projection(self, z: int, k: int, mode: str = "max") -> np.ndarray:
        """Sliding-z projection of planes ``z - k .. z + k``, clipped to the stack.

        Parameters
        ----------
        z : int
            Centre plane, ``0 <= z < num_planes``.
        k : int
            Half width, ``k >= 0``; ``k = 0`` gives plane ``z`` itself.
        mode : {"max", "mean"}
            Maximum (same dtype as the stack) or mean (``float32``).

        Returns
        -------
        ndarray, shape (rows, columns)

        Raises
        ------
        MapNotFoundError
            ``z`` is out of range.
        InvalidParameterError
            ``k`` is negative or not an integer, or ``mode`` is unknown.
        """
        if mode not in ("max", "mean"):
            raise InvalidParameterError(f"projection mode must be 'max' or 'mean', got {mode!r}")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise InvalidParameterError(
                f"projection half width k must be an integer >= 0, got {k!r}"
            )
        self._check_z(z)
        first = max(0, int(z) - int(k))
        stop = min(self.num_planes, int(z) + int(k) + 1)
        return self._reduce(first, stop, mode)

    def _reduce(self, first: int, stop: int, mode: str) -> np.ndarray:
        if mode == "max":
            acc = self._read(first, copy=True)
            for z in range(first + 1, stop):
                np.maximum(acc, self._read(z, copy=False), out=acc)
            return acc
        total = self._read(first, copy=False).astype(np.float64)
        for z in range(first + 1, stop):
            total += self._read(z, copy=False)
        total /= stop - first
        return total.astype(np.float32)

    def histogram(
        self,
        z: int | None = None,
        bins: int = 256,
        value_range: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Histogram of one plane, or of the whole stack one plane at a time.

        Parameters
        ----------
        z : int or None
            Plane index, or None for every plane.
        bins : int
            Number of equal-width bins.
        value_range : (float, float), optional
            Lower and upper edge; default the data's minimum and maximum, as
            :func:`numpy.histogram`.

        Returns
        -------
        counts : ndarray of int64, shape (bins,)
        edges : ndarray of float64, shape (bins + 1,)
            Identical to ``numpy.histogram(data, bins, value_range)``.
        """
        if z is not None:
            return image_histogram(self.plane(z), bins=bins, value_range=value_range)
        _check_bins(bins)
        n = self.num_planes
        if _is_small_int(self.dtype):
            counts: np.ndarray | None = None
            offset = 0
            for i in range(n):
                c, offset = _value_counts(self._read(i, copy=False))
                counts = c if counts is None else counts + c
            assert counts is not None
            return _histogram_from_counts(counts, offset, bins, value_range)
        if value_range is None:  # as numpy.histogram: the data's range, in its dtype
            lows, highs = [], []
            for i in range(n):
                plane = self._read(i, copy=False)
                lows.append(np.min(plane))
                highs.append(np.max(plane))
            value_range = (np.min(lows), np.max(highs))
        total = np.zeros(bins, dtype=np.int64)
        edges = np.zeros(bins + 1)
        for i in range(n):
            c, edges = np.histogram(self._read(i, copy=False), bins=bins, range=value_range)
            total += c
        return total, edges


def _inspect(
    tif: tifffile.TiffFile, path: Path, name: str
) -> tuple[list[tifffile.TiffPageSeries], _Layout]:
    """Check that ``tif`` holds one single-channel 2D or 3D image and find its planes."""
    all_series = list(tif.series)
    if not all_series:
        raise MapFormatError(name, "contains no image")
    for s in all_series:
        if "S" in s.axes or s.keyframe.samplesperpixel > 1:
            raise MapFormatError(
                name,
                f"has {s.keyframe.samplesperpixel} samples per pixel (colour/RGB, shape "
                f"{s.shape}); expected a single-channel grayscale image",
            )
    first = all_series[0]
    if len(all_series) > 1:
        # Files written one page at a time by tifffile give one 2D series per page:
        # equal 2D images, one per page, are the planes of a stack. Anything else is not.
        same = all(
            s.ndim == 2 and s.shape == first.shape and s.dtype == first.dtype and len(s) == 1
            for s in all_series
        )
        if not same:
            shapes = ", ".join(str(s.shape) for s in all_series[:4])
            more = ", ..." if len(all_series) > 4 else ""
            raise MapFormatError(
                name,
                f"contains {len(all_series)} images of different shapes or types "
                f"({shapes}{more}); expected one 3D stack (plane, row, column)",
            )
    if first.dtype is None or first.dtype.kind not in "uif":
        raise MapFormatError(name, f"has an unsupported pixel type ({first.dtype})")
    if first.ndim not in (2, 3) or (first.ndim == 3 and len(all_series) > 1):
        raise MapFormatError(
            name,
            f"is a {first.ndim}D image (axes {first.axes}, shape {first.shape}); expected "
            "a 2D image or a 3D stack (plane, row, column) of one channel",
        )
    rows, cols = int(first.shape[-2]), int(first.shape[-1])
    if len(all_series) > 1:
        planes = len(all_series)
    else:
        planes = int(first.shape[0]) if first.ndim == 3 else 1
    dtype = np.dtype(first.dtype).newbyteorder("=")
    file_dtype = np.dtype(first.dtype).newbyteorder(tif.byteorder)
    plane_bytes = rows * cols * dtype.itemsize
    offsets, complete = _plane_offsets(all_series, planes, plane_bytes, path)
    return all_series, _Layout((planes, rows, cols), dtype, file_dtype, offsets, complete)


def _plane_offsets(
    all_series: list[tifffile.TiffPageSeries], planes: int, plane_bytes: int, path: Path
) -> tuple[tuple[int, ...] | None, int]:
    """Byte offset of every plane when all are stored uncompressed in one block each.

    Also returns how many planes (from the first) have all their data inside the file:
    fewer than ``planes`` means the file was cut short.
    """
    size = path.stat().st_size
    offsets: list[int] | None = None
    if len(all_series) == 1:
        series = all_series[0]
        start = series.dataoffset
        if start is not None:
            offsets = [start + z * plane_bytes for z in range(planes)]
        elif len(series) == planes:
            offsets = []
            for z in range(planes):
                page = series[z]
                if not isinstance(page, tifffile.TiffPage) or not page.is_final:
                    offsets = None
                    break
                offsets.append(int(page.dataoffsets[0]))
    else:
        offsets = []
        for s in all_series:
            start = s.dataoffset
            if start is None:
                offsets = None
                break
            offsets.append(int(start))
    if offsets is not None:
        complete = next((z for z, o in enumerate(offsets) if o + plane_bytes > size), planes)
        return (tuple(int(o) for o in offsets) if complete == planes else None), complete
    return None, _complete_pages(all_series, planes, size)


def _complete_pages(all_series: list[tifffile.TiffPageSeries], planes: int, size: int) -> int:
    """Planes (from the first) whose pages' data (compressed or not) lie inside the file."""
    pages = [p for s in all_series for p in s.pages] if len(all_series) > 1 else list(all_series[0].pages)
    if len(pages) < planes:
        return len(pages)
    for z, page in enumerate(pages[:planes]):
        if page is None:
            return z
        offs = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        if any(o + c > size for o, c in zip(offs, counts, strict=False)):
            return z
    return planes


def open_stack(path: str | Path) -> ImageStack:
    """Open an image stack and check it now.

    Parameters
    ----------
    path : str or Path
        A 2D or 3D single-channel TIFF file.

    Returns
    -------
    ImageStack
        Opened; close it (or use it in a ``with`` block) when done.

    Raises
    ------
    MapNotFoundError
        The file does not exist.
    MapFormatError
        The file is not a single-channel 2D/3D TIFF (see :class:`ImageStack`).
    """
    return ImageStack(path).open()


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class PlaneRequest:
    """What to show of one session's image: a plane or a projection. Hashable (a cache key).

    Parameters
    ----------
    session : int
        Session index (``>= 0``); chooses the stack, with ``channel``.
    channel : int
        Channel number as in ``raw/<stack>_ch<c>.tif`` (``>= 1``).
    z : int
        Plane index (``>= 0``); the centre plane for ``"sliding"``, ignored for ``"max"``.
    projection : {"none", "max", "sliding"}
        ``"none"`` plane ``z``; ``"max"`` maximum over the whole stack;
        ``"sliding"`` maximum over planes ``z - k .. z + k`` (clipped to the stack).
    k : int
        Half width of the sliding projection (``>= 0``).
    """

    session: int
    channel: int
    z: int
    projection: Literal["none", "max", "sliding"] | str = "none"
    k: int = 0

    def validate(self) -> PlaneRequest:
        """Check every field (not the plane range, which needs the stack).

        Returns
        -------
        PlaneRequest
            ``self``, to allow ``req = PlaneRequest(...).validate()``.

        Raises
        ------
        InvalidParameterError
            A field has the wrong type or is out of range.
        """
        for name, minimum in (("session", 0), ("channel", 1), ("z", 0), ("k", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidParameterError(f"{name} must be an integer, got {value!r}")
            if value < minimum:
                raise InvalidParameterError(f"{name} must be >= {minimum}, got {value}")
        if self.projection not in PROJECTIONS:
            raise InvalidParameterError(
                f"projection must be one of {', '.join(PROJECTIONS)}; got {self.projection!r}"
            )
        return self


def read_plane(stack: ImageStack, req: PlaneRequest) -> np.ndarray:
    """Read what ``req`` asks for from ``stack`` (the stack of ``req.session``/``req.channel``).

    Parameters
    ----------
    stack : ImageStack
        The stack of the requested session and channel (the caller chooses it).
    req : PlaneRequest
        The plane or projection.

    Returns
    -------
    ndarray, shape (rows, columns)
        The stack's dtype.

    Raises
    ------
    InvalidParameterError
        ``req`` is invalid.
    MapNotFoundError
        ``req.z`` is beyond the stack (not checked for ``"max"``).
    """
    req.validate()
    if req.projection == "max":
        return stack.max_projection()
    if req.projection == "sliding":
        return stack.projection(req.z, req.k, "max")
    return stack.plane(req.z)


# --------------------------------------------------------------------------- contrast


def _is_small_int(dtype: np.dtype[Any]) -> bool:
    return dtype.kind in "ui" and dtype.itemsize <= 2


def _value_counts(image: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of every value of an 8/16-bit integer image: ``counts[v - offset]``."""
    a = np.asarray(image)
    bits = 8 * a.dtype.itemsize
    flat = a.reshape(-1)
    offset = 0
    if a.dtype.kind == "i":  # flip the sign bit to index an unsigned histogram
        flat = flat.view(np.dtype(f"u{a.dtype.itemsize}")) ^ (1 << (bits - 1))
        offset = -(1 << (bits - 1))
    # bincount converts its input to intp first: chunks keep that copy in cache
    # (2048 x 2048 uint16: 5 ms in chunks, 12 ms at once)
    counts = np.zeros(1 << bits, dtype=np.int64)
    for start in range(0, flat.size, _COUNT_CHUNK):
        counts += np.bincount(flat[start : start + _COUNT_CHUNK], minlength=1 << bits)
    return counts, offset


def _check_percentiles(low: float, high: float) -> None:
    if not 0 <= low <= high <= 100:
        raise InvalidParameterError(
            f"percentiles must satisfy 0 <= low <= high <= 100, got low={low}, high={high}"
        )


def auto_contrast(
    image: np.ndarray,
    low: float = 0.5,
    high: float = 99.5,
    max_samples: int | None = _CONTRAST_SAMPLES,
) -> tuple[float, float]:
    """Display range from percentiles of the pixel values.

    Parameters
    ----------
    image : ndarray, shape (rows, columns) or any
        Pixel values (not modified). NaN is ignored.
    low, high : float
        Percentiles (0..100) that map to black and white.
    max_samples : int or None
        Images with more pixels are subsampled on a regular grid (every ``s``-th row and
        column) to about this many pixels; None uses every pixel.

    Returns
    -------
    lo, hi : float
        Pixel values at the two percentiles, each an actual pixel value (numpy's
        ``method="inverted_cdf"``); ``(0.0, 0.0)`` for an image without values.

    Raises
    ------
    InvalidParameterError
        The percentiles are not ``0 <= low <= high <= 100``.

    Notes
    -----
    8- and 16-bit integer images are counted with one ``bincount`` (about 1 ms for
    1024 x 1024 ``uint16``) instead of sorting.
    """
    _check_percentiles(low, high)
    a = np.asarray(image)
    if max_samples is not None and a.size > max_samples and a.ndim >= 2:
        step = math.ceil(math.sqrt(a.size / max_samples))
        a = a[..., ::step, ::step]
    if a.size == 0:
        return 0.0, 0.0
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if _is_small_int(a.dtype):
        counts, offset = _value_counts(a)
        cdf = np.cumsum(counts)
        n = int(cdf[-1])
        result = []
        for q in (low, high):
            rank = max(math.ceil(n * q / 100.0), 1)  # 1-based rank in sorted order
            result.append(float(np.searchsorted(cdf, rank, side="left") + offset))
        return result[0], result[1]
    values = a.ravel()
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
        if values.size == 0:
            return 0.0, 0.0
    lo, hi = np.percentile(values, [low, high], method="inverted_cdf")
    return float(lo), float(hi)


def to_uint8(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map pixel values linearly to 0..255 for display.

    ``out = clip(round_half_up((image - lo) * 255 / (hi - lo)), 0, 255)``: ``lo`` and below
    give 0, ``hi`` and above give 255. When ``hi <= lo`` the map is a step: values ``<= lo``
    give 0 and values above give 255. NaN gives 0.

    Parameters
    ----------
    image : ndarray, shape (rows, columns) or any
        Pixel values of any real type (not modified).
    lo, hi : float
        Values shown as black and white (e.g. from :func:`auto_contrast`).

    Returns
    -------
    ndarray of uint8, same shape as ``image``

    Raises
    ------
    InvalidParameterError
        The pixels are not numbers, or ``lo`` or ``hi`` is not finite.

    Notes
    -----
    Computed in ``float32`` (exact for integers up to 2**24), in place on one temporary:
    about 0.5 ms for 1024 x 1024 ``uint16``, which beats a 65536-entry lookup table
    (building it and indexing cost ~1.3 ms).
    """
    a = np.asarray(image)
    lo, hi = float(lo), float(hi)
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if a.dtype.kind not in "uif":
        raise InvalidParameterError(f"cannot display pixels of type {a.dtype}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidParameterError(f"display range must be finite, got lo={lo}, hi={hi}")
    if a.dtype == np.uint8 and lo == 0.0 and hi == 255.0:
        return a.copy()
    if hi <= lo:
        out = np.greater(a, lo).view(np.uint8)
        out *= 255
        return out
    work = a.astype(np.float32)  # a new array, ours to modify
    work -= np.float32(lo)
    work *= np.float32(255.0 / (hi - lo))
    work += np.float32(0.5)
    if a.dtype.kind == "f":
        np.nan_to_num(work, copy=False, nan=0.0)
    np.clip(work, 0.0, 255.0, out=work)
    return work.astype(np.uint8)


def image_histogram(
    image: np.ndarray,
    bins: int = 256,
    value_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of an image, fast for 8/16-bit integer images.

    Parameters
    ----------
    image : ndarray, shape (rows, columns) or any
        Pixel values (not modified).
    bins : int
        Number of equal-width bins.
    value_range : (float, float), optional
        Lower and upper edge; default the image's minimum and maximum.

    Returns
    -------
    counts : ndarray of int64, shape (bins,)
    edges : ndarray of float64, shape (bins + 1,)
        The same as ``numpy.histogram(image, bins, value_range)``.
    """
    _check_bins(bins)
    a = np.asarray(image)
    if _is_small_int(a.dtype) and a.size:
        counts, offset = _value_counts(a)
        return _histogram_from_counts(counts, offset, bins, value_range)
    c, edges = np.histogram(a, bins=bins, range=value_range)
    return c.astype(np.int64), edges


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise InvalidParameterError(f"bins must be a positive integer, got {bins!r}")


def _histogram_from_counts(
    counts: np.ndarray, offset: int, bins: int, value_range: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram`` of the values ``offset + i`` occurring ``counts[i]`` times."""
    present = np.flatnonzero(counts)
    values = present + offset
    if value_range is None:
        value_range = (float(values[0]), float(values[-1])) if values.size else (0.0, 1.0)
    c, edges = np.histogram(values, bins=bins, range=value_range, weights=counts[present])
    return c.astype(np.int64), edges


# --------------------------------------------------------------------------- resampling


def _check_image_2d(image: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 2:
        raise InvalidParameterError(f"{what} needs a 2D image (rows, columns), got shape {a.shape}")
    return a


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Reduce an image by the mean of ``factor x factor`` blocks.

    Parameters
    ----------
    image : ndarray, shape (rows, columns)
        Pixel values (not modified).
    factor : int
        Block size, ``>= 1``.

    Returns
    -------
    ndarray, shape (ceil(rows / factor), ceil(columns / factor))
        Same dtype. Blocks cut by the bottom or right edge average only the pixels inside
        the image. Integer means are rounded half up; ``factor = 1`` returns a copy.
    """
    a = _check_image_2d(image, "downsample")
    f = _positive_int(factor, "factor")
    if f == 1:
        return a.copy()
    rows, cols = a.shape
    out_r, out_c = -(-rows // f), -(-cols // f)
    if a.size == 0:
        return np.zeros((out_r, out_c), dtype=a.dtype)
    if a.dtype.kind == "f":
        acc_type: type[np.generic] = np.float64
    elif a.dtype.kind == "u" and a.dtype.itemsize <= 2 and f <= 256:
        acc_type = np.uint32  # f*f*65535 < 2**32
    else:
        acc_type = np.int64
    # sum rows of each block: (out_r, cols)
    full_r = rows // f
    sums = np.empty((out_r, cols), dtype=acc_type)
    if full_r:
        sums[:full_r] = a[: full_r * f].reshape(full_r, f, cols).sum(axis=1, dtype=acc_type)
    if out_r > full_r:
        sums[full_r] = a[full_r * f :].sum(axis=0, dtype=acc_type)
    # then columns: add the f column phases (fast for small f, unlike a reduction over
    # a short inner axis)
    full_c = cols // f
    block = np.zeros((out_r, out_c), dtype=acc_type)
    for i in range(f):
        block[:, :full_c] += sums[:, i : full_c * f : f]
    if out_c > full_c:
        block[:, full_c] = sums[:, full_c * f :].sum(axis=1)
    # number of image pixels in each block
    n_r = np.full(out_r, f, dtype=np.int64)
    n_r[-1] = rows - (out_r - 1) * f
    n_c = np.full(out_c, f, dtype=np.int64)
    n_c[-1] = cols - (out_c - 1) * f
    if a.dtype.kind == "f":
        if n_r[-1] == f and n_c[-1] == f:
            mean = block / (f * f)
        else:
            mean = block / np.outer(n_r, n_c)
        return mean.astype(a.dtype)
    if n_r[-1] == f and n_c[-1] == f:
        n = f * f
        out = (block.astype(np.int64) + n // 2) // n
    else:
        n_block = np.outer(n_r, n_c)
        out = (block.astype(np.int64) + n_block // 2) // n_block
    return out.astype(a.dtype)


def _shape_2d(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise InvalidParameterError(f"shape must end with (rows, columns), got {shape}")
    rows, cols = int(shape[-2]), int(shape[-1])
    if rows < 0 or cols < 0:
        raise InvalidParameterError(f"shape must not be negative, got {shape}")
    return rows, cols


def max_level(shape: tuple[int, ...], tile_size: int = 256) -> int:
    """Level of full resolution in the tile pyramid (level 0 fits in one tile).

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` or ``(planes, rows, columns)``.
    tile_size : int
        Tile side in pixels.

    Returns
    -------
    int
        The smallest ``L >= 0`` with ``max(rows, columns) <= tile_size * 2**L``;
        e.g. 3 for 2048 x 2048 with 256-pixel tiles.
    """
    t = _positive_int(tile_size, "tile_size")
    rows, cols = _shape_2d(shape)
    longest = max(rows, cols, 1)
    level = 0
    while t << level < longest:
        level += 1
    return level


def _level_factor(shape: tuple[int, ...], level: int, tile_size: int) -> int:
    top = max_level(shape, tile_size)
    if isinstance(level, bool) or not isinstance(level, int | np.integer):
        raise InvalidParameterError(f"level must be an integer, got {level!r}")
    if not 0 <= level <= top:
        raise MapNotFoundError(f"tile level {level} does not exist: valid levels are 0..{top}")
    return 1 << (top - int(level))


def tile_grid(shape: tuple[int, ...], level: int, tile_size: int = 256) -> tuple[int, int]:
    """Number of tiles at one pyramid level.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` or ``(planes, rows, columns)`` at full resolution.
    level : int
        ``0 .. max_level(shape, tile_size)``.
    tile_size : int
        Tile side in pixels.

    Returns
    -------
    ny, nx : int
        Tiles along rows (``ty`` in ``0..ny-1``) and along columns (``tx`` in ``0..nx-1``).

    Raises
    ------
    MapNotFoundError
        ``level`` is outside the pyramid.
    """
    f = _level_factor(shape, level, tile_size)
    rows, cols = _shape_2d(shape)
    reduced_r, reduced_c = -(-rows // f), -(-cols // f)
    return max(1, -(-reduced_r // tile_size)), max(1, -(-reduced_c // tile_size))


def tile(image: np.ndarray, level: int, tx: int, ty: int, tile_size: int = 256) -> np.ndarray:
    """One tile of the image pyramid, for Leaflet with ``crs="Simple"``.

    See the module documentation for the coordinate convention: row 0 at the top,
    ``tx`` along columns, ``ty`` along rows, level ``max_level(image.shape)`` at full
    resolution, each lower level reduced 2x by block mean.

    Parameters
    ----------
    image : ndarray, shape (rows, columns)
        Full-resolution image (not modified), e.g. a plane or its :func:`to_uint8`.
    level : int
        Pyramid level, ``0 .. max_level(image.shape, tile_size)``.
    tx, ty : int
        Tile column and row, within :func:`tile_grid`.
    tile_size : int
        Tile side in pixels.

    Returns
    -------
    ndarray, shape (tile_size, tile_size)
        Same dtype as ``image``: ``downsample(image, f)[ty*T:(ty+1)*T, tx*T:(tx+1)*T]``
        with ``f = 2**(max_level - level)``, padded with 0 beyond the image.

    Raises
    ------
    MapNotFoundError
        The level or tile is outside the pyramid.
    InvalidParameterError
        ``image`` is not 2D or ``tile_size`` is not positive.
    """
    a = _check_image_2d(image, "tile")
    t = _positive_int(tile_size, "tile_size")
    f = _level_factor(a.shape, level, t)
    ny, nx = tile_grid(a.shape, level, t)
    for name, value, n in (("tx", tx, nx), ("ty", ty, ny)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidParameterError(f"{name} must be an integer, got {value!r}")
        if not 0 <= value < n:
            raise MapNotFoundError(
                f"tile {name}={value} does not exist at level {level}: valid 0..{n - 1}"
            )
    span = t * f
    r0, c0 = int(ty) * span, int(tx) * span
    region = a[r0 : r0 + span, c0 : c0 + span]
    reduced = downsample(region, f) if f > 1 else region
    out = np.zeros((t, t), dtype=a.dtype)
    out[: reduced.shape[0], : reduced.shape[1]] = reduced
    return out


def thumbnail(image: np.ndarray, max_size: int = 256) -> np.ndarray:
    """A small copy of the image, keeping its aspect ratio.

    Parameters
    ----------
    image : ndarray, shape (rows, columns)
        Pixel values (not modified).
    max_size : int
        Longest side of the result.

    Returns
    -------
    ndarray, shape (round(rows * s), round(columns * s)) with ``s = max_size / max(rows, columns)``
        Same dtype; every side at least 1. Images already small enough are returned as a copy
        (never enlarged). Reduced by block mean by the integer factor
        ``max(rows, columns) // max_size``, then to the exact size by nearest neighbour.
    """
    a = _check_image_2d(image, "thumbnail")
    m = _positive_int(max_size, "max_size")
    rows, cols = a.shape
    longest = max(rows, cols)
    if longest <= m or a.size == 0:
        return a.copy()
    s = m / longest
    out_r, out_c = max(1, round(rows * s)), max(1, round(cols * s))
    f = longest // m
    reduced = downsample(a, f) if f > 1 else a
    rr, rc = reduced.shape
    ri = np.minimum(((np.arange(out_r) + 0.5) * (rr / out_r)).astype(np.intp), rr - 1)
    ci = np.minimum(((np.arange(out_c) + 0.5) * (rc / out_c)).astype(np.intp), rc - 1)
    return reduced[ri[:, None], ci[None, :]]


# --------------------------------------------------------------------------- crops, units


def crop(image: np.ndarray, row: float, col: float, half_size: int) -> np.ndarray:
    """A square window centred on one pixel, zero-padded where it leaves the image.

    Parameters
    ----------
    image : ndarray, shape (rows, columns)
        Pixel values (not modified).
    row, col : float
        Centre pixel; rounded to the nearest integer (e.g. the output of :func:`um_to_px`).
    half_size : int
        Half the window side, ``>= 1``.

    Returns
    -------
    ndarray, shape (2 * half_size, 2 * half_size)
        Same dtype; ``out[i, j] = image[r - half_size + i, c - half_size + j]`` where that
        is inside the image, else 0, with ``(r, c)`` the rounded centre, found at
        ``out[half_size, half_size]``.

    Raises
    ------
    InvalidParameterError
        The image is not 2D, ``half_size`` is not a positive integer, or the centre is
        not finite.
    """
    a = _check_image_2d(image, "crop")
    h = _positive_int(half_size, "half_size")
    if not (math.isfinite(row) and math.isfinite(col)):
        raise InvalidParameterError(f"crop centre must be finite, got row={row}, col={col}")
    r, c = round(float(row)), round(float(col))
    out = np.zeros((2 * h, 2 * h), dtype=a.dtype)
    rows, cols = a.shape
    r0, r1 = max(r - h, 0), min(r + h, rows)
    c0, c1 = max(c - h, 0), min(c + h, cols)
    if r0 < r1 and c0 < c1:
        out[r0 - (r - h) : r1 - (r - h), c0 - (c - h) : c1 - (c - h)] = a[r0:r1, c0:c1]
    return out


def um_to_px(
    x_um: float | np.ndarray, y_um: float | np.ndarray, dx: float, dy: float
) -> tuple[Any, Any]:
    """Convert a position in µm (as in the db2 table) to pixel column and row.

    Parameters
    ----------
    x_um, y_um : float or ndarray
        Position in µm; ``x`` runs along columns, ``y`` along rows (downwards).
    dx, dy : float
        µm per pixel along x (columns) and y (rows): the header's ``dx`` and ``dy``.

    Returns
    -------
    col, row : float or ndarray of float64
        ``x_um / dx`` and ``y_um / dy`` (not rounded), the shape of the inputs.

    Raises
    ------
    InvalidParameterError
        ``dx`` or ``dy`` is not a positive finite number.
    """
    for name, value in (("dx", dx), ("dy", dy)):
        if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name} must be a positive number of µm, got {value!r}")
    col = np.asarray(x_um, dtype=np.float64) / float(dx)
    row = np.asarray(y_um, dtype=np.float64) / float(dy)
    if col.ndim == 0 and row.ndim == 0:
        return float(col), float(row)
    return col, row

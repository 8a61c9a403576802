"""Obtain, patch and run the old ``pymapmanager`` 0.0.5 (PyPI, 2018) in a throwaway place.

The project's library replaces that package; the benchmark (``bench/bench_library.py``)
and the compatibility test (``tests/unit/test_oldpmm_compat.py``, through
``tests/oldpmm_support.py``) both need the old code running. Nothing of it is ever
copied into the repository: it is downloaded with ``pip download`` into a work folder
(``bench/.work/``, git-ignored, or a temporary folder), and four source fixes are applied
there with ``sed`` so that it runs on today's Python, numpy and pandas:

1. ``open(..., 'rU')`` -> ``'r'``         (mode ``U`` was removed in Python 3.11)
2. ``np.NAN`` -> ``np.nan``              (removed in numpy 2)
3. ``.ix[`` -> ``.loc[``                 (removed in pandas 1.0; the index is a RangeIndex
                                         and the key a boolean mask, so both mean the same)
4. ``from scipy.misc import imsave`` and ``import scipy.misc`` commented out (removed in
   scipy 1.2; only used to export PNGs, never by ``mmMap`` loading or map values)

Every changed line is checked to be one of these four fixes, and nothing else changes.
Downloads, patched copies and virtual environments are cached in the work folder, keyed
by version (and, for environments, by the requirement list).

Run as a script, this file is also the *worker* executed by the old package's interpreter
(with ``PYTHONPATH`` pointing at the patched copy)::

    <python> oldpmm.py {probe|values|bench} REQUEST.json RESULT.json

It imports only the standard library at module level so that any interpreter can run it;
the old package's many ``print`` calls are sent to ``os.devnull`` and results are returned
as JSON in ``RESULT.json``.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger("oldpmm")

OLD_VERSION = "0.0.5"
#: sha256 of pymapmanager-0.0.5.tar.gz on PyPI (files on PyPI never change)
SDIST_SHA256 = {"0.0.5": "a1804515feaf24ecaf1d35958180a13580097eaf8ebc749445bff732cd27519c"}

#: the four source fixes: (what, sed expressions, regex a changed line must match after it)
SED_FIXES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("open(..., 'rU') -> 'r'", (r"s/'rU'/'r'/g",), r"'r'"),
    ("np.NAN -> np.nan", (r"s/np\.NAN/np.nan/g",), r"np\.nan"),
    (".ix[ -> .loc[", (r"s/\.ix\[/.loc[/g",), r"\.loc\["),
    (
        "comment out 'from scipy.misc import imsave' / 'import scipy.misc'",
        (
            r"s/^\([[:space:]]*\)\(from scipy\.misc import imsave\)/\1# \2/",
            r"s/^\([[:space:]]*\)\(import scipy\.misc\)/\1# \2/",
        ),
        r"^\s*# (from scipy\.misc import imsave|import scipy\.misc)",
    ),
)
_RECIPE = hashlib.sha256(repr(SED_FIXES).encode()).hexdigest()[:8]

#: what the old package needs to import ``mmMap`` (it imports requests through mmio and
#: tifffile through mmStack; scipy was a dependency in 2018; matplotlib/pillow are not needed)
OLD_REQUIREMENTS = ("numpy", "pandas", "scipy", "tifffile", "requests")
#: installed at the same version as in the running interpreter when it has them, so that
#: a comparison measures the code, not different numpy/pandas releases
PINNED_LIKE_HERE = ("numpy", "pandas", "tifffile")

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK_DIR = BENCH_DIR / ".work"
WORK_DIR_ENV = "PYMAPMANAGER_OLDPMM_DIR"


class OldPackageError(RuntimeError):
    """The old package could not be obtained, patched, installed or run."""


# --------------------------------------------------------------------------- obtaining


def work_dir(default: Path = DEFAULT_WORK_DIR) -> Path:
    """The cache folder: ``$PYMAPMANAGER_OLDPMM_DIR`` when set, else ``default``."""
    env = os.environ.get(WORK_DIR_ENV)
    return Path(env) if env else default


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` (parallel test workers share a cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, the READY markers still protect us
        yield
        return
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: Sequence[str | os.PathLike[str]], what: str, timeout: float = 900, **kw: Any) -> str:
    """Run a command; :class:`OldPackageError` with its output when it fails."""
    try:
        p = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise OldPackageError(f"{what} failed: {e}") from e
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-15:])
        raise OldPackageError(f"{what} failed (exit {p.returncode}):\n{tail}")
    return p.stdout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_sdist(dest: Path, version: str = OLD_VERSION, python: str = sys.executable) -> Path:
    """``pip download --no-deps`` the old package's source distribution into ``dest``."""
    name = f"pymapmanager-{version}.tar.gz"
    target = dest / name
    want = SDIST_SHA256.get(version)
    if target.is_file() and (want is None or _sha256(target) == want):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    log.info("downloading pymapmanager==%s from PyPI", version)
    _run(
        [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--disable-pip-version-check", "-q", "-d", dest, f"pymapmanager=={version}"],
        f"pip download pymapmanager=={version}",
    )  # fmt: skip
    if not target.is_file():
        raise OldPackageError(f"pip download did not produce {target}")
    if want is not None and _sha256(target) != want:
        raise OldPackageError(f"{target}: sha256 differs from the known PyPI file")
    return target


def _apply_fixes(pkg: Path) -> dict[str, int]:
    """Apply :data:`SED_FIXES` with ``sed -i`` to every module of ``pkg``; verify the diff.

    Returns the number of changed lines per fix.
    """
    files = sorted(pkg.glob("*.py"))
    before = {f: f.read_text(encoding="utf-8", errors="replace").splitlines() for f in files}
    cmd: list[str | os.PathLike[str]] = ["sed", "-i.orig"]  # -i.orig: GNU and BSD sed
    for _, exprs, _ in SED_FIXES:
        for expr in exprs:
            cmd += ["-e", expr]
    _run([*cmd, *files], "sed (patching the old package)")
    for f in files:
        f.with_name(f.name + ".orig").unlink(missing_ok=True)
    counts = {what: 0 for what, _, _ in SED_FIXES}
    for f in files:
        after = f.read_text(encoding="utf-8", errors="replace").splitlines()
        if len(after) != len(before[f]):
            raise OldPackageError(f"patching {f.name} changed its number of lines")
        for old, new in zip(before[f], after, strict=True):
            if old == new:
                continue
            hits = [what for what, _, pat in SED_FIXES if re.search(pat, new)]
            if not hits:
                diff = "\n".join(difflib.unified_diff([old], [new], lineterm=""))
                raise OldPackageError(f"unexpected change in {f.name}:\n{diff}")
            for what in hits:
                counts[what] += 1
    leftovers = []
    for f in files:
        for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            code = line.split("#", 1)[0]
            if (
                "'rU'" in code
                or "np.NAN" in code
                or ".ix[" in code
                or re.match(r"\s*(from scipy\.misc import|import scipy\.misc)", code)
            ):
                leftovers.append(f"{f.name}:{i}: {line.strip()}")
    if leftovers:
        raise OldPackageError("fixes did not apply everywhere:\n" + "\n".join(leftovers))
    missing = [what for what, n in counts.items() if n == 0]
    if missing:
        raise OldPackageError(f"fixes found nothing to change (wrong version?): {missing}")
    return counts


def prepare_source(work: Path | None = None, version: str = OLD_VERSION) -> Path:
    """A patched copy of the old package; returns the folder to put on ``PYTHONPATH``.

    Cached as ``<work>/pymapmanager-<version>-<recipe>/`` (``READY.json`` marks a
    complete copy; anything else there is rebuilt).
    """
    work = work or work_dir()
    root = work / f"pymapmanager-{version}-{_RECIPE}"
    ready = root / "READY.json"
    with _locked(work):
        if ready.is_file():
            return root / "src"
        if root.exists():
            shutil.rmtree(root)
        sdist = download_sdist(work / "downloads", version)
        stage = Path(tempfile.mkdtemp(prefix=".extract-", dir=work))
        try:
            with tarfile.open(sdist) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(stage, filter="data")
                else:  # pragma: no cover - Python < 3.11.4
                    tf.extractall(stage)
            top = stage / f"pymapmanager-{version}"
            if not (top / "pymapmanager" / "mmMap.py").is_file():
                raise OldPackageError(f"{sdist.name} does not hold pymapmanager/mmMap.py")
            root.mkdir(parents=True)
            shutil.move(str(top / "pymapmanager"), root / "src" / "pymapmanager")
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        for cache in (root / "src").rglob("__pycache__"):
            shutil.rmtree(cache)
        counts = _apply_fixes(root / "src" / "pymapmanager")
        ready.write_text(json.dumps({"version": version, "sdist_sha256": _sha256(sdist),
                                     "fixes": counts}, indent=1))  # fmt: skip
        log.info("patched pymapmanager %s in %s: %s", version, root, counts)
    return root / "src"


def _installed_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def old_requirements() -> list[str]:
    """:data:`OLD_REQUIREMENTS`, numpy/pandas/tifffile pinned to this interpreter's versions."""
    reqs = []
    for name in OLD_REQUIREMENTS:
        v = _installed_version(name) if name in PINNED_LIKE_HERE else None
        reqs.append(f"{name}=={v}" if v else name)
    return reqs


def ensure_venv(work: Path | None = None, requirements: Sequence[str] | None = None) -> Path:
    """A cached virtual environment with the old package's dependencies; returns its python."""
    work = work or work_dir()
    reqs = list(requirements) if requirements is not None else old_requirements()
    key = hashlib.sha256(json.dumps([sys.version_info[:2], sorted(reqs)]).encode()).hexdigest()[:10]
    venv = work / f"venv-oldpmm-{key}"
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = venv / bindir / ("python.exe" if os.name == "nt" else "python")
    ready = venv / "READY.json"
    with _locked(work):
        if ready.is_file() and python.exists():
            return python
        if venv.exists():
            shutil.rmtree(venv)
        log.info("creating %s with %s (once; cached)", venv, " ".join(reqs))
        _run([sys.executable, "-m", "venv", venv], "python -m venv")
        _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs],
             "pip install " + " ".join(reqs))  # fmt: skip
        ready.write_text(json.dumps({"requirements": reqs}, indent=1))
    return python


@dataclass(frozen=True)
class OldPackage:
    """A runnable old package: the patched copy and the interpreter that runs it."""

    src: Path
    python: Path

    def env(self) -> dict[str, str]:
        """Environment for the worker: the patched copy first on ``PYTHONPATH``."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.src)
        env.pop("PYTHONHOME", None)
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def run(self, command: str, request: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
        """Run the worker ``command`` with the old package; its JSON result."""
        with tempfile.TemporaryDirectory(prefix="oldpmm-run-") as tmp:
            req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
            req.write_text(json.dumps(request))
            _run([self.python, Path(__file__).resolve(), command, req, res],
                 f"old pymapmanager ({command})", timeout=timeout, env=self.env(), cwd=tmp)  # fmt: skip
            result: dict[str, Any] = json.loads(res.read_text())
        return result

    def probe(self) -> dict[str, Any]:
        """Import the old package; its version and file (raises when it does not import)."""
        return self.run("probe", {}, timeout=300)


def obtain(
    work: Path | None = None,
    *,
    python: str | Path | None = None,
    version: str = OLD_VERSION,
) -> OldPackage:
    """The patched old package, run by ``python`` when it can import it, else by a venv.

    With ``python`` None, a cached virtual environment with :data:`OLD_REQUIREMENTS` is
    used (the benchmark's choice). With an interpreter given (the test passes its own),
    that interpreter is tried first; when it lacks something the old package imports, the
    cached environment is used instead, and the reason is logged.
    """
    work = work or work_dir()
    src = prepare_source(work, version)
    if python is not None:
        pkg = OldPackage(src, Path(python))
        try:
            info = pkg.probe()
        except OldPackageError as e:
            log.warning("old package does not import with %s; using a venv instead: %s", python, e)
        else:
            log.info("old package %s runs with %s", info.get("version"), python)
            return pkg
    pkg = OldPackage(src, ensure_venv(work))
    pkg.probe()
    return pkg


# --------------------------------------------------------------------------- timing


def time_calls(
    call: Callable[..., object], reps: int, setup: Callable[[], Any] | None = None
) -> list[float]:
    """Seconds per call over ``reps`` repetitions: ``call()``, or ``call(setup())`` (setup not timed).

    Like ``timeit``: garbage is collected once before the batch and the collector is off
    during it. (Collecting before *every* call would also flush the processor's caches
    each time, which slows sub-millisecond calls several-fold and measures the collector,
    not the code.) Both the benchmark and the old-package worker use this, so old and new
    are timed by the same scheme.
    """
    out: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            args = () if setup is None else (setup(),)
            t0 = time.perf_counter()
            call(*args)
            out.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return out


# --------------------------------------------------------------------------- comparing


def new_values(folder: str | Path, stats: Sequence[str]) -> dict[str, Any]:
    """What :func:`_worker_values` returns, computed with the *new* library."""
    import numpy as np

    import pymapmanager as pmm

    m = pmm.load_map(folder)
    out: dict[str, Any] = {
        "num_sessions": m.num_sessions,
        "num_map_segments": m.num_map_segments,
        "objects_per_session": [len(t) for t in m.db2],
        "values": {},
    }
    segs: list[int | None] = [None, *range(m.num_map_segments)]
    for stat in stats:
        out["values"][stat] = {
            str(s): np.asarray(pmm.map_values(m, stat, segment=s).values).tolist() for s in segs
        }
    return out


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Differences between two results of :func:`new_values` / the ``values`` worker."""
    import numpy as np

    diffs = []
    for key in ("num_sessions", "num_map_segments", "objects_per_session"):
        if old[key] != new[key]:
            diffs.append(f"{key}: old {old[key]} new {new[key]}")
    for stat, by_seg in new["values"].items():
        for seg, nv in by_seg.items():
            ov = old["values"].get(stat, {}).get(seg)
            if ov is None:
                diffs.append(f"{stat} segment {seg}: missing in the old result")
                continue
            a = np.asarray(ov, dtype=float).reshape(len(ov), -1)
            b = np.asarray(nv, dtype=float).reshape(len(nv), -1)
            if a.shape != b.shape:
                diffs.append(f"{stat} segment {seg}: shape old {a.shape} new {b.shape}")
            elif not np.array_equal(a, b, equal_nan=True):
                bad = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))))
                r, c = (int(x) for x in bad[0])
                diffs.append(
                    f"{stat} segment {seg}: {len(bad)} cells differ, first at run {r} session "
                    f"{c}: old {a[r, c]!r} new {b[r, c]!r}"
                )
    return diffs


# --------------------------------------------------------------------------- worker side
# Everything below runs in the old package's interpreter (PYTHONPATH = patched copy).


def _import_old() -> Any:
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        import pymapmanager
    if getattr(pymapmanager, "__version__", None) != OLD_VERSION or not hasattr(
        pymapmanager, "mmMap"
    ):
        raise OldPackageError(
            f"imported {pymapmanager.__file__}, not the old pymapmanager {OLD_VERSION}"
        )
    return pymapmanager


def _worker_probe(req: dict[str, Any]) -> dict[str, Any]:
    import numpy
    import pandas

    pmm = _import_old()
    return {
        "version": pmm.__version__,
        "file": pmm.__file__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scipy_imported": "scipy" in sys.modules,
    }


def _old_map_values(m: Any, stat: str, segment: int | None) -> Any:
    return m.getMapValues2(stat, roiType=["spineROI"], segmentID=segment, plotBad=False)


def _worker_values(req: dict[str, Any]) -> dict[str, Any]:
    pmm = _import_old()
    m = pmm.mmMap(req["map"])
    out: dict[str, Any] = {
        "num_sessions": int(m.numSessions),
        "num_map_segments": int(m.numMapSegments),
        "objects_per_session": [int(s.numObj) for s in m.stacks],
        "values": {},
    }
    segs: list[int | None] = [None, *range(int(m.numMapSegments))]
    for stat in req["stats"]:
        out["values"][stat] = {str(s): _old_map_values(m, stat, s).tolist() for s in segs}
    return out


def _pickled_size(m: Any) -> tuple[int, str]:
    import pickle

    try:
        return len(pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)), "pickle.dumps(mmMap)"
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
        parts = {
            "stackdb": [s.stackdb for s in m.stacks],
            "objMap": m.objMap,
            "segMap": m.segMap,
            "table": m.table,
        }
        return (
            len(pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL)),
            f"mmMap does not pickle ({type(e).__name__}); pickled stackdb frames + objMap/segMap + header",
        )


def _old_load_values(load: Callable[[str], Any], path: str, stat: str) -> Any:
    return _old_map_values(load(path), stat, None)


def _worker_bench(req: dict[str, Any]) -> dict[str, Any]:
    pmm = _import_old()
    path, reps = req["map"], req["reps"]
    load = pmm.mmMap
    out: dict[str, Any] = {"values_first": {}, "values_warm": {}, "shapes": {}}
    out["load"] = time_calls(partial(load, path), reps["load"])
    first = req["stats"][0]
    out["load_values"] = time_calls(partial(_old_load_values, load, path, first), reps["load"])
    for stat in req["stats"]:
        out["values_first"][stat] = time_calls(
            partial(_old_map_values, stat=stat, segment=None),
            reps["values_first"],
            setup=partial(load, path),
        )
        m = load(path)
        v = _old_map_values(m, stat, None)
        out["shapes"][stat] = [list(v.shape), [int(c) for c in (v == v).sum(axis=0)]]
        out["values_warm"][stat] = time_calls(
            partial(_old_map_values, m, stat, None), reps["values_warm"]
        )
    out["pickle_bytes"], out["pickle_what"] = _pickled_size(load(path))
    return out


_WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "probe": _worker_probe,
    "values": _worker_values,
    "bench": _worker_bench,
}


def main(argv: Sequence[str]) -> int:
    """Worker entry point: ``oldpmm.py COMMAND REQUEST.json RESULT.json``."""
    if len(argv) != 3 or argv[0] not in _WORKERS:
        print(
            f"usage: oldpmm.py {{{'|'.join(_WORKERS)}}} REQUEST.json RESULT.json", file=sys.stderr
        )
        return 2
    command, req_path, res_path = argv
    req = json.loads(Path(req_path).read_text())
    warnings.simplefilter("ignore")  # the old code triggers pandas/numpy deprecation warnings
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        result = _WORKERS[command](req)
    Path(res_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

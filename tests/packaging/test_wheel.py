"""The package as PyPI would get it: ``python -m build``, ``twine check``, and a wheel
installed into a fresh virtual environment that starts the dashboard and runs ``mapmanager``.

The sdist is built from the source tree and the wheel from the sdist (what ``python -m
build`` does), so a file missing from either shows. The fresh environment installs the
wheel and its dependencies with pip (pip's cache is reused; this is the only network use).
The dashboard runs from there under gunicorn on a free loopback port, from a folder
outside the source tree, so nothing can come from the repository.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pymapmanager
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

PACKAGES = ("pymapmanager", "app", "pages", "callbacks")


def _run(cmd: list[str], timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)  # type: ignore[call-overload]
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p  # type: ignore[no-any-return]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) made by ``python -m build``."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)])
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, list(out.iterdir())
    return sdists[0], wheels[0]


def _package_files() -> set[str]:
    """Every file of the installed packages in the source tree (bytecode aside)."""
    out = set()
    for pkg in PACKAGES:
        for p in (REPO / pkg).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                out.add(p.relative_to(REPO).as_posix())
    return out


def test_twine_check_passes(dists: tuple[Path, Path]) -> None:
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)])


def test_metadata(dists: tuple[Path, Path]) -> None:
    import trove_classifiers

    with zipfile.ZipFile(dists[1]) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode())
    assert meta["Version"] == pymapmanager.__version__  # the one place it is defined
    assert dists[1].name == f"pymapmanager-{pymapmanager.__version__}-py3-none-any.whl"
    assert meta["License-Expression"] == "GPL-3.0-or-later"
    classifiers = meta.get_all("Classifier") or []
    assert classifiers and not [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert meta.get_all("Project-URL")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requires = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert len(requires) == len(project["dependencies"])
    assert meta.get_content_type() == "text/plain" and "## Command line" in meta.get_payload()


def _long_description(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode())
    assert meta["Description-Content-Type"] == "text/markdown"
    return str(meta.get_payload())


def _targets(markdown: str) -> tuple[list[str], list[str]]:
    """(image sources, link targets) of a Markdown text, as a CommonMark parser reads it."""
    from markdown_it import MarkdownIt

    images: list[str] = []
    links: list[str] = []

    def walk(tokens: list[Any]) -> None:
        for tok in tokens:
            if tok.type == "image":
                images.append(str(tok.attrGet("src")))
            elif tok.type == "link_open":
                links.append(str(tok.attrGet("href")))
            elif tok.type in ("html_inline", "html_block"):
                images.extend(re.findall(r"<img[^>]+src=[\"']([^\"']+)", tok.content))
                links.extend(re.findall(r"<a[^>]+href=[\"']([^\"']+)", tok.content))
            walk(tok.children or [])

    walk(MarkdownIt("commonmark").enable("table").parse(markdown))
    return images, links


def test_long_description_images_and_links_work_on_pypi(dists: tuple[Path, Path]) -> None:
    """PyPI shows the README without the repository: a relative image or link would be broken.

    Images are absolute URLs of files in the project's repository (the ``Source`` URL,
    default branch): each must name a file of this source tree, so a renamed picture fails here.
    """
    text = _long_description(dists[1])
    assert text == (REPO / "README.md").read_text(encoding="utf-8")
    images, links = _targets(text)
    assert images, "the README shows no picture"
    source = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Source"]
    raw = source.replace("https://github.com/", "https://raw.githubusercontent.com/").rstrip("/") + "/HEAD/"
    for src in images:
        assert src.startswith(raw), f"{src}: not a file of {source} (relative paths do not show on PyPI)"
        assert (REPO / src.removeprefix(raw)).is_file(), f"{src}: no such file in the source tree"
    relative = [h for h in links if not re.match(r"^(https?:|mailto:|#)", h)]
    assert not relative, f"relative links do not work on PyPI: {relative}"


def test_wheel_holds_every_package_file_and_the_assets(dists: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(dists[1]) as z:
        names = set(z.namelist())
        top = z.read(next(n for n in names if n.endswith("top_level.txt"))).decode().split()
    missing = sorted(_package_files() - names)
    assert not missing, f"files of the packages not in the wheel: {missing}"
    for asset in ("app/assets/pmm.css", "app/assets/10-pmm-state.js", "app/assets/70-pmm-dash.js", "pymapmanager/py.typed"):
        assert asset in names, asset
    assert not [n for n in names if n.startswith(("tests/", "docs/", "bench/"))]
    # the dashboard's packages are top-level names (docs/developer.md, "Packaging and releases", says why)
    assert sorted(top) == sorted(PACKAGES)


def test_sdist_holds_the_sources(dists: tuple[Path, Path]) -> None:
    with tarfile.open(dists[0]) as t:
        root = f"pymapmanager-{pymapmanager.__version__}/"
        names = {n.removeprefix(root) for n in t.getnames()}
    for f in ("README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml"):
        assert f in names, f
    missing = sorted(f for f in _package_files() if f not in names)
    assert not missing, f"files of the packages not in the sdist: {missing}"


# --------------------------------------------------------------------------- installed


@pytest.fixture(scope="module")
def venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; its ``bin`` folder."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", str(root)])
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          str(dists[1])], env=_clean_env())  # fmt: skip
    return root / "bin"


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder outside the source tree (nothing may be imported from the repo)."""
    return tmp_path_factory.mktemp("outside")


def test_installed_command_line(venv: Path, outside: Path) -> None:
    p = _run([str(venv / "mapmanager"), "--version"], cwd=outside, env=_clean_env())
    assert p.stdout.strip() == f"mapmanager {pymapmanager.__version__}"
    where = _run([str(venv / "python"), "-c", "import app, pymapmanager; print(app.__file__); print(pymapmanager.__file__)"],
                 cwd=outside, env=_clean_env()).stdout.split()  # fmt: skip
    assert all(str(venv.parent) in w for w in where), where
    demo = outside / "data" / "public" / "demo"
    _run([str(venv / "mapmanager"), "demo", str(demo), "--sessions", "3", "--channels", "1", "--shape", "4x64x64"],
         cwd=outside, env=_clean_env())  # fmt: skip
    info = json.loads(_run([str(venv / "mapmanager"), "info", str(demo), "--json"], cwd=outside, env=_clean_env()).stdout)
    assert info["num_sessions"] == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


@pytest.fixture(scope="module")
def served(venv: Path, outside: Path) -> Iterator[str]:
    """gunicorn from the fresh environment on a free port (its config from the package)."""
    data = outside / "served"
    from pymapmanager.synthetic import generate_map

    generate_map(data / "public", name="demo", sessions=2, channels=1, shape=(4, 64, 64), seed=5)
    port = _free_port()
    env = _clean_env(BIND=f"127.0.0.1:{port}", DATA_DIR=str(data), CREATE_DEMO="0", WEB_CONCURRENCY="1",
                     GUNICORN_THREADS="2", ACCESS_LOG="0")  # fmt: skip
    log = (outside / "gunicorn.log").open("w")
    proc = subprocess.Popen([str(venv / "gunicorn"), "--config", "python:app.gunicorn_conf", "app.wsgi:server"],
                            cwd=outside, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # until it answers (workers import dash, pandas...), or it died
            if proc.poll() is not None:
                break
            try:
                if _get(url + "/api/v1/status")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if proc.poll() is not None or _get(url + "/api/v1/status")[0] != 200:
            pytest.fail("the installed dashboard did not start:\n" + (outside / "gunicorn.log").read_text()[-3000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_installed_dashboard_serves_pages_api_and_assets(served: str) -> None:
    status, body, ctype = _get(served + "/")
    assert status == 200 and "text/html" in ctype
    page = body.decode()
    assets = sorted(p for p in (REPO / "app" / "assets").rglob("*") if p.is_file())
    for p in assets:
        if p.suffix in (".css", ".js") and p.parent.name == "assets":
            assert p.name in page, f"{p.name} not in the page: Dash did not find the packaged assets"
    status, body, _ = _get(served + "/api/v1/status")
    assert status == 200 and json.loads(body)["version"] == pymapmanager.__version__
    for p in assets:
        rel = p.relative_to(REPO / "app" / "assets").as_posix()
        status, body, _ = _get(f"{served}/assets/{rel}")
        assert status == 200 and body == p.read_bytes(), rel
    status, body, _ = _get(served + "/api/v1/maps")
    assert status == 200 and [m["id"] for m in json.loads(body)["maps"]] == ["public/demo"]
    status, body, ctype = _get(served + "/map/public/demo")
    assert status == 200 and "text/html" in ctype

"""Build the documentation site: ``./dev docs`` runs this (output in ``docs/_build/html``).

1. Screenshots of the dashboard for the user guide are taken by the browser test module
   ``tests/browser/test_screenshots.py`` (a real Chromium on generated demo maps) into
   ``docs/_build/screenshots/``: always by default, only the missing ones with
   ``--screenshots auto``, never with ``--screenshots never``.
2. Sphinx builds the site with every warning an error (``-W``), from a fresh environment
   (``-E``, so a warning is never hidden by an earlier build). The build also creates the
   app to render the REST API from its OpenAPI document (``docs/_ext/pmm_docs.py``) and
   runs every example notebook (myst-nb).

Exit status: 0 when the site was built, else non-zero with the reason on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = DOCS / "_build"
SCREENSHOTS = BUILD / "screenshots"
SCREENSHOT_TEST = "tests/browser/test_screenshots.py"

log = logging.getLogger("docs")

_SHOT = re.compile(r"_build/screenshots/([\w.-]+\.png)")


def referenced_screenshots() -> list[str]:
    """Every screenshot file name the pages refer to (``_build/screenshots/<name>.png``)."""
    names: set[str] = set()
    for page in DOCS.rglob("*.md"):
        if BUILD in page.parents:
            continue
        names.update(_SHOT.findall(page.read_text(encoding="utf-8")))
    return sorted(names)


def missing_screenshots() -> list[str]:
    """The referenced screenshots that are not in :data:`SCREENSHOTS`."""
    return [n for n in referenced_screenshots() if not (SCREENSHOTS / n).is_file()]


def take_screenshots() -> int:
    """Run the screenshot test module; its exit status."""
    log.info("taking the guide's screenshots (%s)", SCREENSHOT_TEST)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", SCREENSHOT_TEST]
    return subprocess.call(cmd, cwd=ROOT)


def sphinx(out: Path, doctrees: Path, builder: str = "html") -> int:
    """``sphinx-build -W --keep-going -E``; its exit status."""
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", builder,
           "-d", str(doctrees), str(DOCS), str(out)]  # fmt: skip
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")  # quiet notebook kernels
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./dev docs", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=BUILD / "html", help="output folder (default docs/_build/html)")
    p.add_argument("--doctrees", type=Path, default=None, help="Sphinx's cache (default beside --out)")
    p.add_argument("--screenshots", choices=("always", "auto", "never"), default="always",
                   help="take the guide's screenshots: always (default), when missing, never")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="docs: %(message)s")

    if args.screenshots == "always" or (args.screenshots == "auto" and missing_screenshots()):
        rc = take_screenshots()
        if rc != 0:
            log.error("the screenshot tests failed (exit %d): see above", rc)
            return rc
    missing = missing_screenshots()
    if missing:
        log.error("screenshots missing in %s: %s (taken by %s; needs Chromium)",
                  SCREENSHOTS, ", ".join(missing), SCREENSHOT_TEST)  # fmt: skip
        return 1
    doctrees = args.doctrees or args.out.parent / (args.out.name + ".doctrees")
    rc = sphinx(args.out, doctrees)
    if rc != 0:
        log.error("the site did not build (every warning is an error): see above")
        return rc
    log.info("built %s", args.out / "index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())

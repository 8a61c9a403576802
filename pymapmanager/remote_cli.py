"""``mapmanager post`` and ``mapmanager pull``: maps to and from a PyMapManager server.

``mapmanager post FOLDER|ZIP --server URL --token T [--owner NAME] [--overwrite]``
    Upload a map folder (zipped on the fly) or a zip, resumably; prints the new map's id.
``mapmanager pull OWNER/MAP --server URL --token T DEST``
    Download a map into ``DEST/MAP/``.

``--server`` and ``--token`` default to the environment's ``MAPMANAGER_SERVER`` and
``MAPMANAGER_TOKEN`` (a token on the command line is visible to other users of the machine).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

__all__ = ["add_remote_commands"]


def _progress(label: str) -> Any:
    if not sys.stderr.isatty():
        return None
    state = {"last": -1}

    def show(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if pct != state["last"]:
            state["last"] = pct
            sys.stderr.write(f"\r{label} {pct:3d}% ({done >> 20} of {total >> 20} MiB)")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return show


def _importing(state: str) -> None:
    """The server's import job, as it goes (checks, extraction, validation)."""
    words = {"queued": "waiting to import", "running": "importing (checking and validating the map)"}
    if state in words:
        sys.stderr.write(f"mapmanager: {words[state]}...\n")
        sys.stderr.flush()


def _client(args: argparse.Namespace) -> Any:
    from .client import Client
    from .errors import InvalidParameterError

    server = args.server or os.environ.get("MAPMANAGER_SERVER")
    token = args.token or os.environ.get("MAPMANAGER_TOKEN")
    if not server:
        raise InvalidParameterError("give the server: --server URL (or MAPMANAGER_SERVER)")
    return Client(server, token)


def _report_problems(e: Any) -> None:
    for p in getattr(e, "problems", []) or []:
        where = p.get("file") or "-"
        if p.get("line") is not None:
            where += f":{p['line']}"
        sys.stderr.write(f"mapmanager:   {where}: {p.get('problem')}\n")


def cmd_post(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager post PATH``: upload a map folder or zip to the server."""
    from .client import ApiError

    with _client(args) as c:
        try:
            res = c.upload(args.path, args.owner, overwrite=args.overwrite, progress=_progress("uploading"),
                           importing=_importing)  # fmt: skip
        except ApiError as e:
            sys.stderr.write(f"mapmanager: error: {e}\n")
            _report_problems(e)
            return 1
    kept = f" (the old one kept as version {res['replaced_version']})" if res.get("replaced_version") else ""
    out.write(f"posted {res['id']}{kept}\n")
    return 0


def cmd_pull(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager pull OWNER/MAP DEST``: download a map from the server."""
    from .errors import InvalidParameterError

    owner, sep, name = args.map.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise InvalidParameterError(f"'{args.map}' is not a map id (OWNER/MAP)")
    with _client(args) as c:
        folder = c.download(owner, name, args.dest, progress=_progress("downloading"))
    out.write(f"pulled {owner}/{name} to {folder}\n")
    return 0


def add_remote_commands(sub: Any) -> None:
    """Add ``post`` and ``pull`` to the ``mapmanager`` subcommands.

    Parameters
    ----------
    sub : argparse subparsers
        The ``mapmanager`` parser's subcommands (``add_subparsers()``).
    """
    s = sub.add_parser("post", help="upload a map folder or zip to a server")
    s.add_argument("path", help="a map folder or a zip of one")
    s.add_argument("--server", default=None, help="server URL (default $MAPMANAGER_SERVER)")
    s.add_argument("--token", default=None, help="API token (default $MAPMANAGER_TOKEN)")
    s.add_argument("--owner", default=None, help="whose maps (default: the token's user)")
    s.add_argument("--overwrite", action="store_true", help="replace a map of that name (kept as a version)")
    s.set_defaults(func=cmd_post)

    s = sub.add_parser("pull", help="download a map from a server")
    s.add_argument("map", metavar="OWNER/MAP")
    s.add_argument("dest", help="folder to put the map in")
    s.add_argument("--server", default=None, help="server URL (default $MAPMANAGER_SERVER)")
    s.add_argument("--token", default=None, help="API token (default $MAPMANAGER_TOKEN)")
    s.set_defaults(func=cmd_pull)

"""``mapmanager user ...`` and ``mapmanager group ...``: accounts of the web app's database.

Hooked into the library's command line through the entry-point group
``pymapmanager.cli_plugins`` (see ``pyproject.toml``), so :mod:`pymapmanager` never imports
this. Every command honours ``DATA_DIR`` and ``DATABASE_URL`` as the server does, and
migrates the database first (as a server start would).

```
mapmanager user add NAME [--admin] [--password-stdin]
mapmanager user passwd NAME [--password-stdin]
mapmanager user remove NAME
mapmanager user list
mapmanager user token NAME [--label TEXT]     prints a new API token (shown once)
mapmanager group add NAME
mapmanager group remove NAME
mapmanager group list
mapmanager group members NAME [--add USER ...] [--remove USER ...]
```
Without ``--password-stdin`` the password is asked twice on the terminal (never echoed).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["plugin"]


@contextmanager
def _db() -> Iterator[Any]:
    from .config import Settings
    from .db import database_url, engine_for, session_scope, upgrade

    s = Settings.from_env()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine_for(database_url(s.data_dir, s.database_url))
    try:
        upgrade(engine, s.data_dir)
        from sqlalchemy.orm import sessionmaker

        with session_scope(sessionmaker(engine, expire_on_commit=False)) as db:
            yield db
    finally:
        engine.dispose()


def _read_password(args: argparse.Namespace) -> str:
    from pymapmanager.errors import InvalidParameterError

    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InvalidParameterError("no password on standard input")
        return password
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise InvalidParameterError("the two passwords differ")
    return first


def _user_add(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    password = _read_password(args)
    with _db() as db:
        users.create_user(db, args.name, password, admin=args.admin)
    out.write(f"user {args.name} added{' (admin)' if args.admin else ''}\n")
    return 0


def _user_passwd(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    password = _read_password(args)
    with _db() as db:
        users.set_password(db, args.name, password)
    out.write(f"password of {args.name} changed (their other sessions are logged out)\n")
    return 0


def _user_remove(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        users.remove_user(db, args.name)
    out.write(f"user {args.name} removed (their map folders stay in DATA_DIR/{args.name}/)\n")
    return 0


def _user_list(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        for u in users.list_users(db):
            groups = ",".join(users.group_names_of(db, u.id))
            out.write(f"{u.name}\t{'admin' if u.is_admin else 'user'}\t{groups}\n")
    return 0


def _user_token(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        token = users.create_token(db, args.name, args.label or "command line")
    out.write(token + "\n")
    return 0


def _group_add(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        users.create_group(db, args.name)
    out.write(f"group {args.name} added\n")
    return 0


def _group_remove(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        users.remove_group(db, args.name)
    out.write(f"group {args.name} removed\n")
    return 0


def _group_list(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        for g, members in users.list_groups(db):
            out.write(f"{g.name}\t{','.join(members)}\n")
    return 0


def _group_members(args: argparse.Namespace, out: TextIO) -> int:
    from .auth import users

    with _db() as db:
        for name in args.add or []:
            users.add_member(db, args.name, name)
        for name in args.remove or []:
            users.remove_member(db, args.name, name)
        members = dict((g.name, m) for g, m in users.list_groups(db)).get(args.name)
        if members is None:
            from pymapmanager.errors import MapNotFoundError

            raise MapNotFoundError(f"no group {args.name}")
    for m in members:
        out.write(m + "\n")
    return 0


def plugin(sub: Any) -> None:
    """Add ``user`` and ``group`` to the ``mapmanager`` subcommands (``sub``: argparse subparsers)."""
    u = sub.add_parser("user", help="users of the web app (DATA_DIR / DATABASE_URL)")
    us = u.add_subparsers(dest="user_command", required=True, parser_class=type(u))
    s = us.add_parser("add", help="add a user")
    s.add_argument("name")
    s.add_argument("--admin", action="store_true", help="may see and manage every map")
    s.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    s.set_defaults(func=_user_add)
    s = us.add_parser("passwd", help="change a user's password")
    s.add_argument("name")
    s.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    s.set_defaults(func=_user_passwd)
    s = us.add_parser("remove", help="remove a user (their maps stay on disk)")
    s.add_argument("name")
    s.set_defaults(func=_user_remove)
    s = us.add_parser("list", help="list users: name, role, groups")
    s.set_defaults(func=_user_list)
    s = us.add_parser("token", help="print a new API token for a user")
    s.add_argument("name")
    s.add_argument("--label", default="", help="what the token is for")
    s.set_defaults(func=_user_token)

    g = sub.add_parser("group", help="groups of users that maps are shared with")
    gs = g.add_subparsers(dest="group_command", required=True, parser_class=type(g))
    s = gs.add_parser("add", help="add a group")
    s.add_argument("name")
    s.set_defaults(func=_group_add)
    s = gs.add_parser("remove", help="remove a group (its shares go too)")
    s.add_argument("name")
    s.set_defaults(func=_group_remove)
    s = gs.add_parser("list", help="list groups and their members")
    s.set_defaults(func=_group_list)
    s = gs.add_parser("members", help="list a group's members, or add/remove some")
    s.add_argument("name")
    s.add_argument("--add", nargs="+", metavar="USER", help="users to put in the group")
    s.add_argument("--remove", nargs="+", metavar="USER", help="users to take out")
    s.set_defaults(func=_group_members)

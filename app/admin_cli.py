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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Command:
    """One ``mapmanager user|group <name>`` command: its arguments and what it does.

    ``run(db, args, password)`` does the work in a database session and returns what to
    print; the parser, the password prompt and the session are the same for every command.
    """

    name: str
    help: str
    run: Callable[[Any, argparse.Namespace, str], str]
    takes_name: bool = True
    password: bool = False
    options: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()


def _users() -> Any:
    from .auth import users  # not at import: the library's command line loads this plugin

    return users


def _user_add(db: Any, a: argparse.Namespace, password: str) -> str:
    _users().create_user(db, a.name, password, admin=a.admin)
    return f"user {a.name} added{' (admin)' if a.admin else ''}\n"


def _user_passwd(db: Any, a: argparse.Namespace, password: str) -> str:
    _users().set_password(db, a.name, password)
    return f"password of {a.name} changed (their other sessions are logged out)\n"


def _user_remove(db: Any, a: argparse.Namespace, _pw: str) -> str:
    _users().remove_user(db, a.name)
    return f"user {a.name} removed (their map folders stay in DATA_DIR/{a.name}/)\n"


def _user_list(db: Any, a: argparse.Namespace, _pw: str) -> str:
    users = _users()
    return "".join(
        f"{u.name}\t{'admin' if u.is_admin else 'user'}\t{','.join(users.group_names_of(db, u.id))}\n"
        for u in users.list_users(db)
    )


def _user_token(db: Any, a: argparse.Namespace, _pw: str) -> str:
    return _users().create_token(db, a.name, a.label or "command line") + "\n"


def _group_add(db: Any, a: argparse.Namespace, _pw: str) -> str:
    _users().create_group(db, a.name)
    return f"group {a.name} added\n"


def _group_remove(db: Any, a: argparse.Namespace, _pw: str) -> str:
    _users().remove_group(db, a.name)
    return f"group {a.name} removed\n"


def _group_list(db: Any, a: argparse.Namespace, _pw: str) -> str:
    return "".join(f"{g.name}\t{','.join(m)}\n" for g, m in _users().list_groups(db))


def _group_members(db: Any, a: argparse.Namespace, _pw: str) -> str:
    from pymapmanager.errors import MapNotFoundError

    users = _users()
    for name in a.add or []:
        users.add_member(db, a.name, name)
    for name in a.remove or []:
        users.remove_member(db, a.name, name)
    members = dict((g.name, m) for g, m in users.list_groups(db)).get(a.name)
    if members is None:
        raise MapNotFoundError(f"no group {a.name}")
    return "".join(m + "\n" for m in members)


_PASSWORD_STDIN = (("--password-stdin",), {"action": "store_true", "help": "read the password from stdin"})

USER_COMMANDS = (
    _Command("add", "add a user", _user_add, password=True,
             options=((("--admin",), {"action": "store_true", "help": "may see and manage every map"}),
                      _PASSWORD_STDIN)),
    _Command("passwd", "change a user's password", _user_passwd, password=True, options=(_PASSWORD_STDIN,)),
    _Command("remove", "remove a user (their maps stay on disk)", _user_remove),
    _Command("list", "list users: name, role, groups", _user_list, takes_name=False),
    _Command("token", "print a new API token for a user", _user_token,
             options=((("--label",), {"default": "", "help": "what the token is for"}),)),
)  # fmt: skip

GROUP_COMMANDS = (
    _Command("add", "add a group", _group_add),
    _Command("remove", "remove a group (its shares go too)", _group_remove),
    _Command("list", "list groups and their members", _group_list, takes_name=False),
    _Command("members", "list a group's members, or add/remove some", _group_members,
             options=((("--add",), {"nargs": "+", "metavar": "USER", "help": "users to put in the group"}),
                      (("--remove",), {"nargs": "+", "metavar": "USER", "help": "users to take out"}))),
)  # fmt: skip


def _handler(cmd: _Command) -> Callable[[argparse.Namespace, TextIO], int]:
    """The ``func`` of one command: password first (if any), then the work in one session."""

    def handle(args: argparse.Namespace, out: TextIO) -> int:
        password = _read_password(args) if cmd.password else ""
        with _db() as db:
            text = cmd.run(db, args, password)
        out.write(text)
        return 0

    return handle


def _add_commands(sub: Any, noun: str, help: str, commands: tuple[_Command, ...]) -> None:
    """``mapmanager <noun> <command> ...`` for each of ``commands``."""
    p = sub.add_parser(noun, help=help)
    cs = p.add_subparsers(dest=f"{noun}_command", required=True, parser_class=type(p))
    for cmd in commands:
        s = cs.add_parser(cmd.name, help=cmd.help)
        if cmd.takes_name:
            s.add_argument("name")
        for flags, kwargs in cmd.options:
            s.add_argument(*flags, **kwargs)
        s.set_defaults(func=_handler(cmd))


def plugin(sub: Any) -> None:
    """Add ``user`` and ``group`` to the ``mapmanager`` subcommands (``sub``: argparse subparsers)."""
    _add_commands(sub, "user", "users of the web app (DATA_DIR / DATABASE_URL)", USER_COMMANDS)
    _add_commands(sub, "group", "groups of users that maps are shared with", GROUP_COMMANDS)

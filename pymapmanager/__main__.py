"""``python -m pymapmanager``: the ``mapmanager`` command line."""

from .cli import main

if __name__ == "__main__":  # importing this module (docs, pkgutil) must not run the command
    raise SystemExit(main())

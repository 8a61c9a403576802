"""What a map folder is: the one rule for finding maps (pooling, the catalog, the command line)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["is_map_folder"]


def is_map_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a map folder.

    A map folder is a folder ``X`` holding its header ``X.txt``. Hidden folders (a leading
    dot: the ``.<map>.previous`` backups a save keeps, maps being generated or saved) and
    ``*.previous`` folders are not maps.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "m1").mkdir(); (root / "m1" / "m1.txt").write_text("")
    0
    >>> (root / ".m1.previous").mkdir(); (root / ".m1.previous" / ".m1.previous.txt").write_text("")
    0
    >>> is_map_folder(root / "m1"), is_map_folder(root / ".m1.previous"), is_map_folder(root)
    (True, False, False)
    """
    p = Path(path)
    return (
        not p.name.startswith(".")
        and not p.name.endswith(".previous")
        and p.is_dir()
        and (p / f"{p.name}.txt").is_file()
    )

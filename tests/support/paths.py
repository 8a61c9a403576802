"""Where the repository and the real map in ``../shared`` are."""

from pathlib import Path

#: the repository's root folder
REPO = Path(__file__).resolve().parents[2]
#: the real map beside the repository (read only; never copied into the project)
F27A_1 = REPO.parent / "shared" / "data" / "maps" / "F27A_1"

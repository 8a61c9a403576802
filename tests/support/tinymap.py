"""A tiny hand-written map whose values are worked out by hand in the tests.

Three sessions; two segments in sessions 0 and 1, one (segment 0) in session 2.
Objects (db2 rows) per session:

session 0: 0 pivot(seg0)  1 spine A(seg0, pDist 1.0)  2 spine B(seg0, 2.0, bad)  3 spine C(seg1, 3.0)
session 1: 0 pivot(seg0)  1 spine A(seg0, 1.5)        2 spine C(seg1, 3.5)        3 spine D(seg0, 4.0)
session 2: 0 pivot(seg0)  1 spine A(seg0, 1.25)       2 spine D(seg0, 4.5)        3 other E(seg0, 5.0)

Runs of spines: A: 1,1,1   B: 2,-,-   C: 3,2,-   D: -,3,2
"""

from __future__ import annotations

from pathlib import Path

NAME = "tiny"

DB2_COLS = "Idx,roiType,roiTypeNum,x,y,z,channel,parentID,cPnt,sDist,pDist,isBad,note,"

ROWS = {
    0: [
        "0,pivotPnt,3,1,1,1,1,0,0,0,0,,,",
        "1,spineROI,0,2,2,2,1,0,1,1,1.0,,,",
        "2,spineROI,0,3,3,3,1,0,2,2,2.0,1,bad one,",
        "3,spineROI,0,4,4,4,1,1,3,3,3.0,0,,",
    ],
    1: [
        "0,pivotPnt,3,1,1,1,1,0,0,0,0,,,",
        "1,spineROI,0,2,2,2,1,0,1,1,1.5,,,",
        "2,spineROI,0,4,4,4,1,1,3,3,3.5,,,",
        "3,spineROI,0,5,5,5,1,0,4,4,4.0,,,",
    ],
    2: [
        "0,pivotPnt,3,1,1,1,1,0,0,0,0,,,",
        "1,spineROI,0,2,2,2,1,0,1,1,1.25,,,",
        "2,spineROI,0,5,5,5,1,0,4,4,4.5,,,",
        "3,otherROI,4,6,6,6,1,0,5,5,5.0,,,",
    ],
}

N = "NAN"
# blocks: idx, next, nextTP, prev, prevTP, blank, runIdx, dynType, forced, nodeType, segmentID, splitIdx
OBJMAP_BLOCKS = [
    [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]],  # idx
    [[0, 0, N], [1, 1, N], [N, N, N], [2, 2, N]],  # next
    [[1, 2, N], [1, 2, N], [N, N, N], [1, 2, N]],  # nextTP
    [[N, 0, 0], [N, 1, 1], [N, 3, 3], [N, N, N]],  # prev
    [[N, 0, 1], [N, 0, 1], [N, 0, 1], [N, N, N]],  # prevTP
    [[N, N, N]] * 4,  # blank
    [[N, N, N]] * 4,  # runIdx
    [[N, N, N]] * 4,  # dynType
    [[N, N, N]] * 4,  # forced
    [[3, 3, 3], [0, 0, 0], [0, 0, 0], [0, 0, 4]],  # nodeType
    [[0, 0, 0], [0, 0, 0], [0, 1, 0], [1, 0, 0]],  # segmentID
    [[N, N, N]] * 4,  # splitIdx
]

SEGMAP_BLOCKS = [
    [[0, 0, 0], [1, 1, N]],  # idx
    [[0, 0, N], [1, N, N]],  # next
    [[1, 2, N], [1, N, N]],  # nextTP
    [[N, 0, 0], [N, 1, N]],  # prev
    [[N, 0, 1], [N, 0, N]],  # prevTP
    [[N, N, N]] * 2,
    [[N, N, N]] * 2,
    [[N, N, N]] * 2,
    [[N, N, N]] * 2,
    [[N, N, N]] * 2,
    [[N, N, N]] * 2,
]

HEADER_ROWS = [
    ("hsStack", ["tiny_s0_ch1", "tiny_s1_ch1", "tiny_s2_ch1"]),
    ("hsdb", ["tiny_s0_db2", "tiny_s1_db2", "tiny_s2_db2"]),
    ("date", ["20200101", "20200103", "20200110"]),
    ("time", ["10:00:00", "10:00:00", "10:00:00"]),
    ("numChannels", ["1", "1", "1"]),
    ("defaultChannel", ["1", "1", "1"]),
    ("px", ["64", "64", "64"]),
    ("py", ["64", "64", "64"]),
    ("pz", ["8", "8", "8"]),
    ("dx", ["0.5", "0.5", "0.5"]),
    ("dy", ["0.5", "0.5", "0.5"]),
    ("dz", ["1", "1", "1"]),
    ("numSeg", ["2"]),
    ("numObj", ["12"]),
    ("importedStackName", ["a", "b", "c"]),
    ("condStr", ["c", "c", "e1"]),
    ("days", ["0", "2", "9"]),
    ("hours", ["0", "48", "216"]),
    ("mapCond", ["mc1"]),
]
WIDTH = 5


def _link_text(blocks: list[list[list[object]]], names: str) -> str:
    rows = len(blocks[0])
    lines = [f"rows={rows};cols=3;blocks={len(blocks)};blockNames={names};"]
    for block in blocks:
        for row in block:
            lines.append("\t".join(str(v) for v in row))
    return "\n".join(lines) + "\n"


def header_text() -> str:
    """The header file's text."""
    lines = ["\t" * WIDTH]
    for name, cells in HEADER_ROWS:
        cells = cells + [""] * (WIDTH - len(cells))
        lines.append("\t".join([name, *cells]))
    return "\n".join(lines) + "\n"


def write_tiny_map(parent: Path, *, eol: str = "\r", with_segmap: bool = True) -> Path:
    """Write the tiny map into ``parent/tiny``; returns the map folder."""
    folder = parent / NAME
    (folder / "stackdb").mkdir(parents=True)
    (folder / f"{NAME}.txt").write_bytes(header_text().encode())
    names12 = "idx,next,nextTP,prev,prevTP,blank,runIdx,dynType,forced,nodeType,segmentID,splitIdx"
    (folder / f"{NAME}_objMap.txt").write_bytes(_link_text(OBJMAP_BLOCKS, names12).encode())
    if with_segmap:
        names11 = names12.rsplit(",", 1)[0]
        (folder / f"{NAME}_segMap.txt").write_bytes(_link_text(SEGMAP_BLOCKS, names11).encode())
    for j, rows in ROWS.items():
        meta = f"stack=tiny_s{j};stackdb=tiny_s{j}_db2;version=20151224;voxelx=0.5;voxely=0.5;voxelz=1;"
        text = eol.join([meta, DB2_COLS, *rows]) + eol
        (folder / "stackdb" / f"tiny_s{j}_db2.txt").write_bytes(text.encode())
        ints = ["idx,sLen3d,ubssSum,"] + [f"{i}.000000,{i + j * 0.5:.6f},{100 * (i + 1) + j:.6f}," for i in range(4)]
        (folder / "stackdb" / f"tiny_s{j}_Int1.txt").write_bytes(
            (eol.join([f"stack=tiny_s{j};", *ints]) + eol).encode()
        )
    return folder

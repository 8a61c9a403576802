"""The mapmanager command line: output formats, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pymapmanager.cli import main
from tests.support.tinymap import write_tiny_map


def run(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(args, out)
    return code, out.getvalue()


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    return write_tiny_map(tmp_path)


def test_info_json(tiny: Path) -> None:
    code, text = run(["info", str(tiny), "--json"])
    assert code == 0
    info = json.loads(text)
    assert info["name"] == "tiny"
    assert info["num_sessions"] == 3
    assert info["num_channels"] == 1
    assert info["num_map_segments"] == 2
    assert info["num_objects"] == 12
    s1 = info["sessions"][1]
    assert s1["stack"] == "tiny_s1" and s1["date"] == "20200103" and s1["days"] == 2.0
    assert s1["condition"] == "c" and s1["shape"] == [8, 64, 64] and s1["voxel"] == [0.5, 0.5, 1.0]


def test_info_text(tiny: Path) -> None:
    code, text = run(["info", str(tiny)])
    assert code == 0
    assert "sessions: 3" in text and "tiny_s2" in text and "e1" in text


def test_values_csv(tiny: Path) -> None:
    code, text = run(["values", str(tiny), "--stat", "pDist"])
    assert code == 0
    assert text.splitlines() == ["run,0,1,2", "0,1,1.5,1.25", "2,3,3.5,", "3,,4,4.5"]


def test_values_csv_filters(tiny: Path) -> None:
    code, text = run(["values", str(tiny), "--stat", "pDist", "--segment", "1", "--include-bad"])
    assert code == 0
    assert text.splitlines() == ["run,0,1,2", "2,3,3.5,"]
    code, text = run(["values", str(tiny), "--stat", "pDist", "--include-bad", "--segment", "all"])
    assert text.splitlines()[2] == "1,2,,"


def test_values_json(tiny: Path) -> None:
    code, text = run(["values", str(tiny), "--stat", "days", "--format", "json"])
    assert code == 0
    d = json.loads(text)
    assert d["runs"] == [0, 2, 3]
    assert d["values"] == [[0.0, 2.0, 9.0], [0.0, 2.0, None], [None, 2.0, 9.0]]


def test_dynamics_json(tiny: Path) -> None:
    code, text = run(["dynamics", str(tiny), "--json"])
    assert code == 0
    d = json.loads(text)
    assert d["per_cell"]["added"] == [0, 1, 0]
    assert d["per_cell"]["subtracted"] == [0, 1, 0]
    assert d["per_cell"]["persistent"] == [2, 1, 2]
    seg0 = [r for r in d["summary"] if r["segment"] == 0]
    assert [r["n"] for r in seg0] == [1, 2, 2]
    assert seg0[1]["pct_added"] == 100.0


def test_stats(tiny: Path) -> None:
    code, text = run(["stats", str(tiny)])
    names = text.split()
    assert code == 0
    assert {"session", "days", "pDist", "x", "ubssSum_int1", "sLen3d_int1"} <= set(names)
    assert "roiType" not in names  # text columns are not statistics


def test_validate(tiny: Path) -> None:
    code, text = run(["validate", str(tiny)])
    assert code == 0 and "ok" in text
    p = tiny / "stackdb/tiny_s0_db2.txt"
    p.write_bytes(p.read_bytes().replace(b"2.0,1,bad one", b"zz,1,bad one"))
    p2 = tiny / "stackdb/tiny_s1_Int1.txt"
    p2.write_bytes(p2.read_bytes().replace(b"201.000000", b"nope"))
    code, text = run(["validate", str(tiny)])
    assert code == 1
    lines = text.splitlines()
    assert len(lines) == 2
    assert "tiny_s0_db2.txt:5: column 'pDist'" in lines[0]
    assert "tiny_s1_Int1.txt:4: column 'ubssSum'" in lines[1]


def test_validate_structural_problem(tiny: Path) -> None:
    (tiny / "tiny_objMap.txt").write_text("")
    code, text = run(["validate", str(tiny)])
    assert code == 1
    assert text.strip().endswith("tiny_objMap.txt: the file is empty")


def test_copy_round_trip(tiny: Path, tmp_path: Path) -> None:
    dest = tmp_path / "copy" / "tiny"
    code, text = run(["copy", str(tiny), str(dest)])
    assert code == 0
    for p in tiny.rglob("*"):
        if p.is_file():
            assert (dest / p.relative_to(tiny)).read_bytes() == p.read_bytes()


def test_errors_are_one_line_without_traceback(tiny: Path) -> None:
    exe = [sys.executable, "-m", "pymapmanager"]
    for args, needle in [
        (["info", str(tiny / "missing")], "no such map folder"),
        (["values", str(tiny), "--stat", "nope"], "no statistic 'nope'"),
        (["values", str(tiny), "--stat", "pDist", "--segment", "7"], "no map segment 7"),
        (["values", str(tiny), "--stat", "roiType"], "is text, not a number"),
        (["values", str(tiny), "--stat", "pDist", "--segment", "x"], "segment must be a number"),
        (["demo", str(tiny), "--shape", "3x4"], "shape must be ZxYxX"),
    ]:
        r = subprocess.run(exe + args, capture_output=True, text=True, check=False)
        assert r.returncode != 0, args
        assert r.stderr.count("\n") == 1, r.stderr
        assert needle in r.stderr
        assert "Traceback" not in r.stderr


def test_values_unknown_roi_is_an_error(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["values", str(tiny), "--stat", "pDist", "--roi", "spinROI"])
    err = capsys.readouterr().err
    assert code == 1 and out == ""
    assert "has no ROI type 'spinROI'" in err and "spineROI" in err
    code, out = run(["values", str(tiny), "--stat", "pDist", "--roi", "all"])
    assert code == 1 and out == "" and "'all' is not a type" in capsys.readouterr().err
    code, out = run(["dynamics", str(tiny), "--roi", "nope"])
    assert code == 1 and "has no ROI type 'nope'" in capsys.readouterr().err


def test_validate_report_on_stdout_and_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pymapmanager.synthetic.maps import generate_map

    p = generate_map(tmp_path, name="v", sessions=2, channels=1, shape=(3, 16, 16))
    code, out = run(["validate", str(p), "--images"])
    assert code == 0 and out.startswith("v: ok")
    tif = p / "raw" / "v_s1_ch1.tif"
    tif.write_bytes(tif.read_bytes()[: tif.stat().st_size // 2])
    code, out = run(["validate", str(p)])
    assert code == 1 and "raw/v_s1_ch1.tif: plane" in out and str(tmp_path) not in out
    (p / "v.txt").rename(p / "w.txt")
    code, out = run(["validate", str(p)])
    assert code == 1 and "v.txt: the map header is missing" in out
    assert "mapmanager: error" not in capsys.readouterr().err  # the report is the output


def test_info_on_broken_map_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_tiny_map(tmp_path)
    text = (folder / "tiny.txt").read_text().replace("numChannels\t1", "numChannels\tinf")
    (folder / "tiny.txt").write_text(text)
    code, _ = run(["info", str(folder)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "numChannels must be a whole number" in err
    assert "Traceback" not in err and str(tmp_path) not in err

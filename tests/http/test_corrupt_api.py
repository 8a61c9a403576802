"""Seeded corruptions (``tests/support/corrupt.py``) through every API route and the
catalog: never a 5xx, never a server path or a raw control character in a body."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map
from tests.http.test_broken_maps import assert_clean, routes
from tests.support.corrupt import corrupted_copy, corruptions

COUNT = 60


@pytest.mark.parametrize("seed", [11])
def test_corrupted_maps_never_give_5xx(tmp_path: Path, seed: int) -> None:
    clean = generate_map(tmp_path / "clean", name="fz", sessions=2, channels=1, shape=(6, 40, 48), seed=4)
    data = tmp_path / "data"
    (data / "public").mkdir(parents=True)
    app = create_app(Settings(data_dir=data, secret_key="t", create_demo=False, testing=True))
    client = app.server.test_client()
    seen: set[int] = set()
    for label, apply in corruptions(clean, COUNT, seed=seed):
        shutil.rmtree(data / "public" / "fz", ignore_errors=True)
        corrupted_copy(clean, data / "public", apply)
        r = client.get("/api/v1/maps")
        assert r.status_code == 200, label
        assert_clean(r.get_data(), data)
        for url in routes("fz"):
            r = client.get(url)
            seen.add(r.status_code)
            assert r.status_code in (200, 404, 422), (label, url, r.status_code, r.get_data()[:300])
            if r.mimetype == "application/json":
                assert_clean(r.get_data(), data)
    assert 422 in seen and 200 in seen

"""The viewer's image URLs (``planeUrl`` in app/assets/10-pmm-state.js) and the server's
image query (:class:`app.services.images.ImageParams`) agree: every URL the browser builds,
for every projection, contrast, channel and tiled or not, reads back through
``ImageParams.from_query`` as the parameters meant, uses no name the server does not know,
and has the path of :func:`plane_url` / :func:`tile_url_template`."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.services.images import ImageParams
from tests.conftest import IN_CI

STATE_JS = Path(__file__).resolve().parents[2] / "app" / "assets" / "10-pmm-state.js"
BASE = "/api/v1/maps/public/demo/sessions/3"

# every combination the viewer can ask for: [tiled, projection, k, contrast, channel]
SCRIPT = """
const V = require(process.argv[1]);
const out = [];
for (const tiled of [false, true]) for (const projection of ["none", "max", "sliding"])
for (const k of [2, 5]) for (const contrast of [null, [10.5, 2000.25]]) for (const channel of [1, 2]) {
  const st = V.create();
  st.setMetas([{session: 3, planes: 20, rows: 2048, columns: 2048, has_images: true, tiled: tiled,
    image_url: "__BASE__/planes/", tile_url: "__BASE__/tiles/", max_level: 3, channels: [1, 2],
    version: "v 1&2", default_z: 7}]);
  st.set({projection: projection, k: k, contrast: contrast ? {[channel]: contrast} : {}});
  out.push({tiled, projection, k, contrast, channel, z: st.zOf(3), url: st.planeUrl(3, channel)});
}
console.log(JSON.stringify(out));
""".replace("__BASE__", BASE)


def _cases() -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is not installed (./dev test installs Debian's nodejs)")
        pytest.skip("node is not installed")
    r = subprocess.run(
        [node, "-e", SCRIPT, str(STATE_JS)], capture_output=True, text=True, check=True
    )
    cases: list[dict[str, object]] = json.loads(r.stdout)
    return cases


def test_every_viewer_image_url_reads_back_as_meant() -> None:
    known = {f.name for f in fields(ImageParams)}
    cases = _cases()
    assert len(cases) == 48
    for c in cases:
        url = str(c["url"])
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        assert set(query) <= known, (url, set(query) - known)
        params = ImageParams.from_query(query)
        proj = str(c["projection"])
        shown = 0 if proj == "max" else c["z"]
        contrast = c["contrast"]
        want = ImageParams(
            channel=int(c["channel"]),  # type: ignore[call-overload]
            projection=proj,
            k=int(c["k"]) if proj == "sliding" else None,  # type: ignore[call-overload]
            lo=contrast[0] if contrast else None,  # type: ignore[index]
            hi=contrast[1] if contrast else None,  # type: ignore[index]
            plane=shown if c["tiled"] else None,  # type: ignore[arg-type]
            v="v 1&2",
        )
        assert params == want, url
        if c["tiled"]:
            assert parts.path == f"{BASE}/tiles/{{z}}/{{x}}/{{y}}.png", url
        else:
            assert parts.path == f"{BASE}/planes/{shown}", url
        # and the server's own URL of those parameters is the same image
        server = urlsplit(want.query())
        assert dict(parse_qsl(server.query)) == query, url

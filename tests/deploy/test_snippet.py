"""The README's nginx snippet (for an institution's own nginx) is the configuration the
tests run: every directive of it is a line of the site template as tests/deploy renders it."""

from __future__ import annotations

import re

from tests.deploy.stack import REPO, render_site


def _directives(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.split("  #")[0].strip()
        if line and not line.startswith("#") and line != "}":
            out.append(line)
    return out


def test_readme_nginx_snippet_is_the_tested_template() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "one nginx snippet in the README"
    site = render_site({
        "LISTEN_PORT": "8080", "URL_PREFIX": "/mapmanager/", "APP_SERVERS": "server 127.0.0.1:8050;",
        "CLIENT_MAX_BODY_SIZE": "4g", "NGINX_CACHE_DIR": "/var/cache/nginx/pmm",
    })  # fmt: skip
    template = set(_directives(site))
    snippet = _directives(blocks[0])
    assert len(snippet) > 20
    missing = [d for d in snippet if d not in template]
    assert not missing, f"README snippet lines not in deploy/nginx/pymapmanager.conf.template: {missing}"
    # and the template's proxying directives are all in the snippet (nothing left out)
    wanted = [d for d in template if d.startswith(("proxy_", "client_", "location", "expires", "add_header"))]
    assert not [d for d in wanted if d not in snippet], [d for d in wanted if d not in snippet]

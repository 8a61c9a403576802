"""``create_app``: the application factory (no work at import time)."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

import dash
from flask import Flask, has_request_context, request

from .background import background_manager as _background_manager
from .config import Settings
from .extensions import SETTINGS_KEY, init_cache, init_counters
from .routes import MAP_PREFIX

__all__ = ["create_app"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]


def create_app(config: Settings | dict[str, Any] | None = None) -> dash.Dash:
    """Build the Dash app and its Flask server.

    Parameters
    ----------
    config : Settings or dict, optional
        Settings, or overrides of the environment's settings (``{"data_dir": ...}``).
        Default: :meth:`Settings.from_env`.
    """
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env().with_overrides(**(config or {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    server = Flask("pymapmanager_app", root_path=str(ROOT / "app"))
    server.config[SETTINGS_KEY] = settings
    server.config["SECRET_KEY"] = settings.resolved_secret_key()
    server.config["TESTING"] = settings.testing
    init_cache(server, settings)
    init_counters(server)
    # users, groups, tokens, sharing: migrate the app database, first admin, login, hardening
    from .auth.login import ensure_admin, init_auth
    from .db import database_url, init_db

    factory = init_db(server, database_url(settings.data_dir, settings.database_url), settings.data_dir)
    ensure_admin(factory, settings)
    dash_app: list[dash.Dash] = []
    init_auth(server, settings, lambda: list(dash_app[0].csp_hashes()) if dash_app else [])
    from .services.images import init_stack_pool
    from .services.maps import init_map_store

    init_stack_pool(server)
    init_map_store(server, settings.map_store_bytes)

    from .api import api_blueprint, docs_blueprint

    server.register_blueprint(api_blueprint, url_prefix=settings.url_prefix.rstrip("/") + "/api/v1")
    server.register_blueprint(docs_blueprint, url_prefix=settings.url_prefix.rstrip("/") + "/api")

    app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash types it as bool | Callable
        use_pages=True,
        pages_folder="",
        assets_folder=str(Path(__file__).resolve().parent / "assets"),
        # vendored bundles load only on the pages that use them (upload, API docs)
        assets_path_ignore=["^uppy$", "^swagger-ui$", "^apidocs$", "^plotly$"],
        url_base_pathname=settings.url_prefix,
        # Bootstrap's CSS is served from assets/ (no CDN: lab servers are often offline)
        suppress_callback_exceptions=False,
        title="PyMapManager",
        update_title="",
        # pooling page: long pools run as background callbacks (own process, progress bar)
        background_callback_manager=_background_manager(settings),
    )

    # the layout and callbacks are asked for while the scripts load (Dash's renderer asks
    # once they have run, and is given these answers): the first page (in the layout,
    # pages.shell) is made on the server meanwhile
    preload = "".join(
        f'<link rel="preload" href="{settings.url_prefix}{part}" as="fetch" crossorigin="anonymous">'
        for part in ("_dash-layout", "_dash-dependencies")
    )
    _add_to_head(app, preload)
    _without_polyfill(app)
    _preload_chunks(app, settings.url_prefix)
    _partial_plotly(app)

    import callbacks
    import pages
    from app.components.deferred import make_lazy

    make_lazy()
    pages.register(app)
    app.layout = pages.shell  # a function: each layout request makes the page it is for
    callbacks.register(app)
    dash_app.append(app)
    log.info("app created: data in %s, cache %s", settings.data_dir, "redis" if settings.redis_url else "filesystem")
    return app


#: The partial Plotly bundle (trace types scatter, scattergl and bar; built by
#: tools/plotly-bundle/build.sh), under the app's assets
PLOTLY_BUNDLE = ("vendor", "plotly", "plotly-pmm.min.js")


def _partial_plotly(app: dash.Dash) -> None:
    """Name :data:`PLOTLY_BUNDLE` in the pages' ``<meta name="pmm-plotly">``, with its
    content hash (a new bundle is a new address), for ``assets/05-pmm-store.js``: Dash's
    graphs then load it instead of plotly.py's full bundle. Without the file (it is in the
    package) the meta tag is left out and the graphs load the full bundle."""
    path = Path(app.config.assets_folder).joinpath(*PLOTLY_BUNDLE)
    if not path.is_file():
        log.warning("the partial Plotly bundle %s is missing: graphs load plotly.py's full bundle", path)
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    url = f"{app.get_asset_url('/'.join(PLOTLY_BUNDLE))}?v={digest}"
    _add_to_head(app, f'<meta name="pmm-plotly" content="{url}">')


def _add_to_head(app: dash.Dash, html: str) -> None:
    """Add ``html`` to every page's head, after Dash's meta tags."""
    app.index_string = app.index_string.replace("{%metas%}", "{%metas%}\n        " + html, 1)


#: Script chunks the component libraries load only once a component of theirs is drawn,
#: which the map page draws before its first planes are shown: dash-leaflet's GeoJSON (the
#: spines), dcc's dropdown and slider (the controls). Asked for when the component renders,
#: each was a round trip after the layout (150-300 ms on a busy 2-core machine, on the way
#: to the first planes); preloaded, they arrive with the other scripts.
MAP_PAGE_CHUNKS = (
    ("dash_leaflet", "async-GeoJSON.js"),
    ("dash.dcc", "async-dropdown.js"),
    ("dash.dcc", "async-slider.js"),
)


def _preload_chunks(app: dash.Dash, url_prefix: str) -> None:
    """Preload :data:`MAP_PAGE_CHUNKS` on the map pages (only there: a preload the page
    does not use is a console warning). A chunk its package does not ship (another
    version) is left out."""
    links = []
    for package, chunk in MAP_PAGE_CHUNKS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        if not any((Path(p) / chunk).is_file() for p in spec.submodule_search_locations):
            continue
        namespace = package.replace(".", "/")
        href = f"{url_prefix}_dash-component-suites/{namespace}/{chunk}"
        links.append(f'<link rel="preload" href="{href}" as="script">')
    if not links:
        return
    head = "\n        ".join(links)
    map_prefix = url_prefix + MAP_PREFIX.lstrip("/")
    interpolate = app.interpolate_index

    def index(**kwargs: Any) -> str:
        html = interpolate(**kwargs)
        if has_request_context() and request.path.startswith(map_prefix):
            html = html.replace("</head>", "    " + head + "\n    </head>", 1)
        return html

    app.interpolate_index = index  # type: ignore[method-assign,assignment]


def _without_polyfill(app: dash.Dash) -> None:
    """Leave Dash's Babel polyfill (core-js 2 and regenerator, 100 KB; it costs 50-120 ms of
    script evaluation on every first open) out of the page: the browsers Dash supports have
    what it adds, except the ``regeneratorRuntime`` global its bundles call, which
    ``assets/vendor/regenerator-runtime`` (npm's regenerator-runtime) defines."""
    make = app._generate_scripts_html

    def scripts() -> str:
        return "\n".join(line for line in make().split("\n") if "/deps/polyfill@" not in line)

    app._generate_scripts_html = scripts  # type: ignore[method-assign]

"""Login sessions (Flask-Login), API tokens, the login form's views, and request hardening.

* Sessions are Flask's signed cookie (``SECRET_KEY`` shared by every worker and host, see
  :meth:`app.config.Settings.resolved_secret_key`): ``HttpOnly``, ``SameSite=Lax``, and
  ``Secure`` when the request came over HTTPS (``request.is_secure``; behind a proxy only
  when ``PROXY_FIX`` says to trust its ``X-Forwarded-*`` headers). The session names the
  user and a nonce that changes with the password, so a new password logs out the others.
* ``Authorization: Bearer <token>`` authenticates API requests (no session is made);
  a token that is unknown or revoked is a 401, whatever the route.
* ``POST <prefix>auth/login`` (the form of the login page) checks a CSRF token (Flask-WTF)
  and is rate-limited per client address (Flask-Limiter: Redis storage when ``REDIS_URL``
  is set, memory otherwise). ``POST <prefix>auth/logout`` too (CSRF).
* Every state-changing request (POST, PUT, PATCH, DELETE: Dash callbacks, API writes) must
  come from this site: an ``Origin`` (or ``Referer``) naming another host is refused (403),
  and a request carrying a session cookie but neither header is refused too.
* Security headers on every response: a Content-Security-Policy fit for Dash (its inline
  scripts by hash), ``X-Content-Type-Options``, ``X-Frame-Options``/``frame-ancestors``,
  ``Referrer-Policy``.
* Passwords are never logged: nothing here logs a form or an Authorization header.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError

from pymapmanager.errors import MapManagerError

from ..config import Settings
from ..db import session as db_session
from ..db import session_scope
from ..db.models import Membership, User
from . import users
from .passwords import new_password

__all__ = [
    "INITIAL_PASSWORD_FILE",
    "LoginUser",
    "csrf_token",
    "ensure_admin",
    "init_auth",
    "limiter_of",
    "safe_next",
]

log = logging.getLogger(__name__)

INITIAL_PASSWORD_FILE = "initial-admin-password"
LIMITER_KEY = "pmm_limiter"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class LoginUser(UserMixin):
    """The logged-in user as Flask-Login holds it (one request long)."""

    user_id: int
    name: str
    is_admin: bool
    nonce: str
    group_ids: list[int] = field(default_factory=list)
    via_token: bool = False

    def get_id(self) -> str:
        """``<id>:<nonce>``: a changed password (new nonce) ends older sessions."""
        return f"{self.user_id}:{self.nonce}"


def _login_user_of(db: Session, u: User, via_token: bool = False) -> LoginUser:
    groups = list(db.scalars(select(Membership.group_id).where(Membership.user_id == u.id)))
    return LoginUser(u.id, u.name, bool(u.is_admin), u.session_nonce, groups, via_token)


def _load_user(user_key: str) -> LoginUser | None:
    uid, _, nonce = user_key.partition(":")
    if not uid.isdigit():
        return None
    db = db_session()
    u = db.get(User, int(uid))
    if u is None or u.session_nonce != nonce:
        return None
    return _login_user_of(db, u)


def _bearer() -> str | None:
    h = request.headers.get("Authorization", "")
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def _load_from_request(_req: Any) -> LoginUser | None:
    token = _bearer()
    if not token:
        return None
    db = db_session()
    u = users.user_for_token(db, token)
    return _login_user_of(db, u, via_token=True) if u is not None else None


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (
            has_request_context() and request.is_secure
        )


def csrf_token() -> str:
    """The CSRF token for a form of this session ('' outside a request)."""
    return generate_csrf() if has_request_context() else ""


def safe_next(target: str | None, prefix: str = "/") -> str:
    """``target`` when it is a path on this site, else the site's root (no open redirect)."""
    if not target:
        return prefix
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return prefix
    return target


def limiter_of(server: Flask) -> Limiter:
    """The server's rate limiter."""
    lim = server.extensions[LIMITER_KEY]
    assert isinstance(lim, Limiter)
    return lim


def _is_api(settings: Settings) -> bool:
    return request.path.startswith(settings.url_prefix.rstrip("/") + "/api/")


def _json_error(status: int, kind: str, message: str) -> Response:
    resp = jsonify({"error": kind, "message": message, "status": status})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="pymapmanager"'
    return resp


def _auth_blueprint(settings: Settings, limiter: Limiter) -> Blueprint:
    bp = Blueprint("auth", __name__)
    prefix = settings.url_prefix

    def back_to_login(error: str, next_url: str) -> BaseResponse:
        q = urlencode({"error": error, "next": next_url})
        return redirect(f"{prefix}login?{q}", code=303)

    @bp.post("/login")
    @limiter.limit(settings.login_limit, key_func=get_remote_address, methods=["POST"])
    def login() -> BaseResponse:
        """The login form's target: a session for a right user name and password."""
        form = request.form
        next_url = safe_next(form.get("next"), prefix)
        try:
            validate_csrf(form.get("csrf_token"))
        except (ValidationError, CSRFError):
            return back_to_login("expired", next_url)
        name = (form.get("username") or "").strip().lower()
        password = form.get("password") or ""
        db = db_session()
        u = users.authenticate(db, name, password)
        if u is None:
            db.rollback()
            log.info("failed login for user name %r from %s", name[:64], request.remote_addr)
            return back_to_login("bad", next_url)
        db.commit()
        login_user(_login_user_of(db, u), fresh=True)
        log.info("user %s logged in from %s", u.name, request.remote_addr)
        return redirect(next_url, code=303)

    @bp.post("/logout")
    def logout() -> BaseResponse:
        """End the session (CSRF token required)."""
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            abort(400, "the form expired: reload the page")
        logout_user()
        return redirect(prefix, code=303)

    @bp.get("/whoami")
    def whoami() -> Response:
        """Who the request is (for scripts checking their token)."""
        u: Any = current_user
        if not u.is_authenticated:
            return _json_error(401, "Unauthorized", "not logged in")
        resp = jsonify({"name": u.name, "is_admin": u.is_admin})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp


# --------------------------------------------------------------------------- request hardening


def _origin_ok() -> bool:
    origin = request.headers.get("Origin")
    here = request.host.lower()
    if origin is not None:
        return origin != "null" and (urlsplit(origin).netloc or "").lower() == here
    referer = request.headers.get("Referer")
    if referer:
        return (urlsplit(referer).netloc or "").lower() == here
    # neither header: scripts (curl, the Python client) send none; browsers always send Origin
    # on a POST, so a logged-in cookie session without it is not a browser of this site. A
    # session cookie that carries no login (only the CSRF token a page's layout made) gives a
    # forged request no power: test clients and scripts that fetched a page are not refused.
    logged_in = current_app.config["SESSION_COOKIE_NAME"] in request.cookies and "_user_id" in session
    return not logged_in or _bearer() is not None


#: API routes open to anonymous visitors even with ``ANONYMOUS_READ=0`` (health, the API's
#: description)
OPEN_API = ("/api/v1/status", "/api/v1/openapi.json", "/api/v1/docs")
#: the endpoints of Dash's pages (every other path is a page too: Dash routes them itself)
_PAGE_ENDPOINTS = ("/", "/<path:path>")


def _anonymous_barrier(settings: Settings) -> BaseResponse | None:
    """With ``ANONYMOUS_READ=0``: what an anonymous request gets instead of its answer.

    A page sends the browser to the login page, with ``next=`` back to where it was (303);
    an API route answers 401 (JSON), except the health check and the API's description.
    The login page itself, Dash's assets and callbacks, and the auth views stay open (the
    callbacks check access per map, and show an anonymous visitor nothing).
    """
    root = settings.url_prefix.rstrip("/")
    path = request.path
    rel = path[len(root):] if root and path.startswith(root) else path
    if rel.startswith("/api/"):
        if any(rel == p or rel.startswith(p + "/") for p in OPEN_API):
            return None
        return _json_error(401, "Unauthorized", "log in or send an API token")
    rule = request.url_rule
    if rule is None or rule.endpoint not in _PAGE_ENDPOINTS or rel.rstrip("/") == "/login":
        return None
    here = request.full_path if request.query_string else path
    q = urlencode({"next": safe_next(here, settings.url_prefix)})
    return redirect(f"{settings.url_prefix}login?{q}", code=303)


def _csp(script_hashes: list[str]) -> str:
    scripts = " ".join(script_hashes)  # Dash gives them quoted: 'sha256-...'
    return "; ".join(
        [
            "default-src 'self'",
            # Dash renders from its own bundles plus inline scripts allowed by hash;
            # plotly.js compiles some code at run time ('unsafe-eval')
            f"script-src 'self' 'unsafe-eval' {scripts}".strip(),
            "style-src 'self' 'unsafe-inline'",  # React sets style attributes
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def init_security(server: Flask, settings: Settings, script_hashes: Callable[[], list[str]]) -> None:
    """Cookies, proxy headers, the Origin check and the security headers."""
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"),
        SESSION_COOKIE_NAME="pmm_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=False,  # Origin is checked for every unsafe request instead
    )
    server.session_interface = _SessionInterface()
    if settings.proxy_fix > 0:
        n = settings.proxy_fix
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    csp_cache: list[str] = []

    @server.before_request
    def _guard() -> BaseResponse | None:
        if request.method in UNSAFE_METHODS and not _origin_ok():
            log.warning("refused %s %s: Origin %r is not this site", request.method, request.path,
                        request.headers.get("Origin"))  # fmt: skip
            if _is_api(settings):
                return _json_error(403, "Forbidden", "cross-site request refused")
            abort(403, "cross-site request refused")
        if _bearer() is not None and not current_user.is_authenticated:
            return _json_error(401, "Unauthorized", "the API token is not valid (unknown or revoked)")
        if not settings.anonymous_read and not current_user.is_authenticated:
            return _anonymous_barrier(settings)
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        # a page: its inline scripts as they are now (Dash adds some when it serves its first
        # page, e.g. the pages' title script: a policy computed before, by an API request,
        # blocked it and broke the first page after a start); other answers reuse the last
        if not csp_cache or resp.mimetype == "text/html":
            csp_cache[:] = [_csp(script_hashes())]
        h.setdefault("Content-Security-Policy", csp_cache[0])
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "SAMEORIGIN")
        h.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user and getattr(current_user, "is_authenticated", False):
            h.setdefault("Vary", "Cookie")
        return resp


# --------------------------------------------------------------------------- setup


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_admin(factory: sessionmaker[Session], settings: Settings) -> bool:
    """On first start (no admin at all) create ``admin``; True when it was made now.

    The password is ``ADMIN_PASSWORD``, else random: logged once and written to
    ``DATA_DIR/initial-admin-password`` (mode 0600).
    """
    try:
        with session_scope(factory) as db:
            if db.scalar(select(User.id).where(User.is_admin.is_(True)).limit(1)) is not None:
                return False
            if users.get_user(db, "admin") is not None:
                log.warning("no admin user: make one with `mapmanager user add NAME --admin`")
                return False
            password = settings.admin_password or new_password()
            users.create_user(db, "admin", password, admin=True, cheap_hash=settings.testing)
    except IntegrityError:  # another host made it first
        return False
    except MapManagerError as e:  # e.g. an ADMIN_PASSWORD that is too short
        raise MapManagerError(f"cannot create the first admin: {e}") from None
    if settings.admin_password:
        log.warning("created user 'admin' with the password from ADMIN_PASSWORD")
    else:
        path = settings.data_dir / INITIAL_PASSWORD_FILE
        _write_private(path, password + "\n")
        log.warning(
            "created user 'admin' with password %s (shown once; also in %s, readable by "
            "this account only; change it with `mapmanager user passwd admin`)",
            password,
            path,
        )
    return True


def init_auth(server: Flask, settings: Settings, script_hashes: Callable[[], list[str]]) -> None:
    """Login sessions, tokens, the auth views, the rate limiter and the request hardening."""
    lm = LoginManager()
    lm.init_app(server)
    lm.session_protection = "basic"
    lm.user_loader(_load_user)
    lm.request_loader(_load_from_request)
    limiter = Limiter(
        get_remote_address,
        app=server,
        storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2} if settings.redis_url else {},
        default_limits=[],
        key_prefix="pmm-limit",
        swallow_errors=True,  # a Redis that is down must not lock everyone out
        headers_enabled=True,
    )
    server.extensions[LIMITER_KEY] = limiter

    @server.errorhandler(429)
    def _too_many(e: Any) -> BaseResponse:
        if _is_api(settings):
            return _json_error(429, "Too Many Requests", "too many attempts: wait a minute")
        q = urlencode({"error": "limit", "next": safe_next(request.form.get("next"), settings.url_prefix)})
        return redirect(f"{settings.url_prefix}login?{q}", code=303)

    init_security(server, settings, script_hashes)
    server.register_blueprint(
        _auth_blueprint(settings, limiter), url_prefix=settings.url_prefix.rstrip("/") + "/auth"
    )

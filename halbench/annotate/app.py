"""The annotation web app (Flask): server-rendered pages, a little plain JavaScript.

Security model (a local tool that may be opened to a lab network with ``--host``):

- only holders of a personal link (``/login/<token>``) get in: its page has a button that
  POSTs the token (same-origin only, so another site cannot sign a browser in as someone
  else); that opens a **session** whose own random token (never the link's) is kept in an
  HttpOnly, SameSite=Strict cookie and looked up by its sha256 (no token is stored in
  clear); signing out deletes the session, ``halbench annotate revoke`` ends the link and
  every session at once, and a link may expire (``access``);
- every state-changing request needs the per-session CSRF token (an HMAC of the
  session token's hash under the store's secret) in ``X-CSRF-Token`` (or the ``csrf`` form
  field), and a same-origin ``Origin`` header when the browser sends one;
- images are served by item number only, from the path recorded when the run was
  loaded, and only when it lies in a folder the benchmark's items put images in and has
  an image suffix;
- model text reaches the page as JSON (Jinja's ``tojson``, which escapes ``<``, ``>``,
  ``&``, ``'``) and is put in the DOM with ``textContent``; a strict Content Security
  Policy forbids inline scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from halbench.annotate import TYPES
from halbench.annotate.access import Annotator, SignInError, hash_token
from halbench.annotate.store import AnnotationStore, StoreError

try:
    from flask import Flask, abort, g, jsonify, redirect, render_template, request, send_file
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    from halbench.errors import HalbenchError

    raise HalbenchError("the annotation app needs Flask: pip install 'halbench[annotate]'") from exc

COOKIE = "halbench_annotator"
_HERE = Path(__file__).resolve().parent
_IMAGE_TYPES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def csrf_token(store: AnnotationStore, token_hash: str) -> str:
    return hmac.new(store.csrf_secret().encode(), token_hash.encode(), hashlib.sha256).hexdigest()


def create_app(
    db: str | Path, *, secure_cookie: bool = False, clock: Callable[[], datetime] | None = None
) -> Flask:
    """The app over one store; ``clock`` (aware UTC) is for tests of link and session expiry."""
    store = AnnotationStore(db, clock=clock)
    app = Flask(
        "halbench.annotate",
        template_folder=str(_HERE / "templates"),
        static_folder=str(_HERE / "static"),
    )
    app.config["HALBENCH_STORE"] = store
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    def current() -> Annotator | None:
        session = request.cookies.get(COOKIE)
        return store.annotator_by_session(session) if session else None

    @app.before_request
    def _auth() -> Any:
        if request.endpoint in ("login", "login_post", "static"):
            return None
        who = current()
        if who is None:
            if request.path.startswith("/api/"):
                return jsonify(error="not signed in (or signed out): open your personal link"), 401
            return render_template("signin.html"), 401
        g.who = who
        g.csrf = csrf_token(store, hash_token(request.cookies[COOKIE]))  # per session
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin is not None and _origin(origin) != _origin(request.host_url):
                return jsonify(error="cross-origin request refused"), 403
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf") or ""
            if not hmac.compare_digest(sent, g.csrf):
                return jsonify(error="missing or wrong CSRF token"), 403
        return None

    @app.after_request
    def _headers(resp: Any) -> Any:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = (
            "same-origin"  # no-referrer would make forms send Origin: null
        )
        resp.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(StoreError)
    def _store_error(exc: StoreError) -> Any:
        return jsonify(error=str(exc)), exc.status

    @app.get("/login/<token>")
    def login(token: str) -> Any:
        """The personal link: a page whose button signs in (a POST, so no cross-site login)."""
        try:
            who = store.link_annotator(token)
        except SignInError as exc:
            return render_template("signin.html", bad=str(exc)), exc.status
        return render_template("signin.html", name=who.name, token=token)

    @app.post("/login")
    def login_post() -> Any:
        token = request.form.get("token", "")
        origin = request.headers.get("Origin")
        if origin is not None and _origin(origin) != _origin(request.host_url):
            return render_template("signin.html", bad="Sign-in from another site refused."), 403
        try:
            if not token:
                raise SignInError("This link is not valid.", 403)
            _, session, expires = store.sign_in(token)
        except SignInError as exc:
            return render_template("signin.html", bad=str(exc)), exc.status
        resp = redirect("/")
        max_age = max(1, int((expires - store.clock()).total_seconds()))
        resp.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="Strict",
            secure=secure_cookie,
            max_age=max_age,
        )
        return resp

    @app.post("/logout")
    def logout() -> Any:
        store.end_session(request.cookies[COOKIE])  # the old cookie no longer signs in
        resp = redirect("/")
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/")
    def index() -> Any:
        statuses = store.statuses(g.who)
        todo = [pk for pk, s in statuses.items() if s == "todo"]
        if not statuses:
            abort(404)
        return redirect(f"/item/{todo[0] if todo else next(iter(statuses))}")

    @app.get("/items")
    def items() -> Any:
        statuses = store.statuses(g.who)
        rows = [(r["pk"], r["item_id"], r["question"], statuses[r["pk"]]) for r in store.items()]
        done, total = store.progress(g.who)
        return render_template(
            "items.html", rows=rows, done=done, total=total, who=g.who, csrf=g.csrf
        )

    @app.get("/item/<int:pk>")
    def item(pk: int) -> Any:
        row = store.item(pk)
        order = [r["pk"] for r in store.items()]
        i = order.index(pk)
        done, total = store.progress(g.who)
        data = {
            "item": pk,
            "answer": row["answer"],
            "prev": order[i - 1] if i > 0 else None,
            "next": order[i + 1] if i + 1 < len(order) else None,
            "types": list(TYPES),
            **store.state(pk, g.who),
        }
        return render_template(
            "item.html",
            row=row,
            data=data,
            index=i + 1,
            total=total,
            done=done,
            who=g.who,
            csrf=g.csrf,
            has_image=bool(row["image"]),
            types=TYPES,
        )

    @app.get("/image/<int:pk>")
    def image(pk: int) -> Any:
        row = store.item(pk)
        roots = [Path(r) for r in json.loads(store.meta().get("image_roots", "[]"))]
        if not row["image"]:
            abort(404)
        path = Path(row["image"]).resolve()
        inside = any(path.is_relative_to(r) for r in roots)
        if not inside or path.suffix.lower() not in _IMAGE_TYPES:
            abort(403)
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype=mimetypes.guess_type(path.name)[0] or "image/jpeg")

    @app.get("/api/items/<int:pk>")
    def api_item(pk: int) -> Any:
        row = store.item(pk)
        return jsonify(answer=row["answer"], question=row["question"], **store.state(pk, g.who))

    @app.post("/api/items/<int:pk>/spans")
    def api_add_span(pk: int) -> Any:
        body = _json_body()
        span = store.add_span(
            pk, g.who, body.get("start"), body.get("end"), body.get("type"), body.get("correction")
        )
        return jsonify(span=span, progress=store.progress(g.who)), 201

    @app.delete("/api/spans/<int:span_id>")
    def api_delete_span(span_id: int) -> Any:
        pk = store.delete_span(span_id, g.who)
        return jsonify(deleted=span_id, item=pk, progress=store.progress(g.who))

    @app.post("/api/items/<int:pk>/verdict")
    def api_verdict(pk: int) -> Any:
        body = _json_body()
        clean = body.get("clean")
        if not isinstance(clean, bool):
            raise StoreError('"clean" must be true or false')
        store.set_verdict(pk, g.who, clean)
        return jsonify(store.state(pk, g.who) | {"progress": store.progress(g.who)})

    @app.post("/api/proposals/<int:proposal_id>/decision")
    def api_decide(proposal_id: int) -> Any:
        out = store.decide(proposal_id, g.who, _json_body().get("decision"))
        return jsonify(out | {"progress": store.progress(g.who)})

    @app.get("/api/progress")
    def api_progress() -> Any:
        done, total = store.progress(g.who)
        return jsonify(done=done, total=total, annotator=g.who.name)

    return app


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise StoreError("the request body must be a JSON object (Content-Type: application/json)")
    return body


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def serve(db: str | Path, host: str = "127.0.0.1", port: int = 8000) -> Any:
    """A threaded WSGI server for the app (werkzeug's); the caller runs ``serve_forever``."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """No access log: login URLs carry the annotator's token."""

    return make_server(host, port, create_app(db), threaded=True, request_handler=Quiet)

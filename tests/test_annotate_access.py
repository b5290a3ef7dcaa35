"""Annotator access: sessions apart from links, sign-out, revocation, link expiry (issue 13.4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import pytest

from tests.annotate_helpers import make_run

pytest.importorskip("flask")

from halbench.annotate.app import COOKIE, create_app  # noqa: E402
from halbench.annotate.load import load_run  # noqa: E402
from halbench.annotate.store import AnnotationStore  # noqa: E402
from halbench.cli import main  # noqa: E402
from halbench.errors import HalbenchError  # noqa: E402

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class Clock:
    """An injected clock: tests move ``now`` by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def db(tmp_path):
    return load_run(make_run(tmp_path)).db


def _add(db, name, **kw):
    store = AnnotationStore(db)
    try:
        return store.add_annotator(name, **kw)
    finally:
        store.close()


def _sign_in(app, token):
    """A fresh browser: open the link, press the button; (client, session cookie, CSRF)."""
    c = app.test_client()
    resp = c.post("/login", data={"token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    session = c.get_cookie(COOKIE).value
    page = c.get("/item/1").get_data(as_text=True)
    return c, session, page.split('name="csrf-token" content="')[1].split('"')[0]


def _with_cookie(app, session):
    """Another client that replays a cookie value (a copied or stolen cookie)."""
    c = app.test_client()
    c.set_cookie(COOKIE, session)
    return c


def test_the_cookie_is_a_session_token_not_the_link(db):
    token = _add(db, "alice")
    app = create_app(db)
    _, session, csrf = _sign_in(app, token)
    _, session2, csrf2 = _sign_in(app, token)
    assert len({token, session, session2}) == 3 and len({csrf, csrf2}) == 2
    raw = b"".join(p.read_bytes() for p in db.parent.glob("annotations.sqlite*"))
    assert session.encode() not in raw and token.encode() not in raw
    con = sqlite3.connect(db)
    stored = {r[0] for r in con.execute("SELECT token_sha256 FROM sessions")}
    con.close()
    assert stored == {hashlib.sha256(s.encode()).hexdigest() for s in (session, session2)}
    # the link token itself is no cookie
    assert _with_cookie(app, token).get("/api/progress").status_code == 401


def test_logout_ends_the_session(db):
    token = _add(db, "alice")
    app = create_app(db)
    c, session, csrf = _sign_in(app, token)
    _, other, _ = _sign_in(app, token)  # a second browser of the same annotator
    assert c.post("/logout", data={"csrf": csrf}).status_code == 302
    assert c.get_cookie(COOKIE) is None
    old = _with_cookie(app, session)
    assert old.get("/api/progress").status_code == 401
    assert old.get("/item/1").status_code == 401
    body = {"start": 0, "end": 1, "type": "object"}
    r = old.post("/api/items/1/spans", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401 and "open your personal link" in r.get_json()["error"]
    assert _with_cookie(app, other).get("/api/progress").status_code == 200  # only that one
    _, again, _ = _sign_in(app, token)  # the link still signs in: a new session
    assert again != session
    con = sqlite3.connect(db)
    actions = [r[0] for r in con.execute("SELECT action FROM events WHERE action LIKE 'sign%'")]
    con.close()
    assert actions == ["sign_in", "sign_in", "sign_out", "sign_in"]


def test_revoke_stops_link_and_sessions_at_once(db, capsys):
    tokens = {name: _add(db, name) for name in ("alice", "bob")}
    app = create_app(db)
    a1, s1, csrf1 = _sign_in(app, tokens["alice"])
    _, s2, _ = _sign_in(app, tokens["alice"])
    _, sb, _ = _sign_in(app, tokens["bob"])
    body = {"start": 0, "end": 1, "type": "object"}
    assert (
        a1.post("/api/items/1/spans", json=body, headers={"X-CSRF-Token": csrf1}).status_code == 201
    )

    assert main(["-q", "annotate", "revoke", "alice", "--db", str(db)]) == 0
    assert (
        "alice: revoked: the link no longer signs in; 2 open session(s) ended"
        in capsys.readouterr().out
    )

    for session in (s1, s2):
        assert _with_cookie(app, session).get("/api/progress").status_code == 401
    r = a1.post("/api/items/2/spans", json=body, headers={"X-CSRF-Token": csrf1})
    assert r.status_code == 401
    page = app.test_client().get(f"/login/{tokens['alice']}")
    assert page.status_code == 401 and "has been revoked" in page.get_data(as_text=True)
    resp = app.test_client().post("/login", data={"token": tokens["alice"]})
    assert resp.status_code == 401 and "Set-Cookie" not in resp.headers
    assert _with_cookie(app, sb).get("/api/progress").status_code == 200  # bob is untouched
    store = AnnotationStore(db)
    try:
        assert store.judgements()["demo-1"]["alice"]["spans"][0]["start"] == 0  # kept
        assert store.revoke("alice") == (0, True)
        with pytest.raises(
            HalbenchError, match=r"no annotator 'carol' in .*\(annotators: alice, bob\)"
        ):
            store.revoke("carol")
        new = store.new_link("alice")
    finally:
        store.close()
    assert app.test_client().get(f"/login/{tokens['alice']}").status_code == 403  # old link: gone
    c, _, _ = _sign_in(app, new)
    assert c.get("/api/progress").get_json()["annotator"] == "alice"


def test_revoke_cli_messages(db, capsys):
    _add(db, "alice")
    assert main(["-q", "annotate", "revoke", "zed", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"halbench: error: no annotator 'zed' in {db} (annotators: alice)"
    ]
    assert main(["-q", "annotate", "revoke", "alice", "--db", str(db.parent / "nope.sqlite")]) == 1
    assert "annotation store not found" in capsys.readouterr().err
    assert main(["-q", "annotate", "revoke", "alice", "--db", str(db)]) == 0
    assert main(["-q", "annotate", "revoke", "alice", "--db", str(db)]) == 0
    assert "alice: was already revoked; 0 open session(s) ended" in capsys.readouterr().out
    assert main(["-q", "annotate", "add-annotator", "alice", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "annotator 'alice' already exists" in err and "--new-link" in err
    args = [
        "-q",
        "annotate",
        "add-annotator",
        "alice",
        "--db",
        str(db),
        "--new-link",
        "--link-days",
        "7",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "/login/" in out and "the link expires at" in out and "no longer work" in out
    for bad in ("0", "-1", "nan", "inf", "99999"):
        args = ["-q", "annotate", "add-annotator", f"x{bad}", "--db", str(db), "--link-days", bad]
        assert main(args) == 1
        assert "--link-days must be more than 0" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["revoke", "add-annotator"])
def test_cli_help_has_description_and_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["annotate", command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    first = out.split("\n\n")[1]  # the paragraph after the usage lines
    assert first.startswith("Revoke an annotator" if command == "revoke" else "Create an annotator")
    assert "example:" in out and f"halbench annotate {command} alice --db " in out


def test_link_expiry_with_an_injected_clock(db):
    clock = Clock()
    store = AnnotationStore(db, clock=clock)
    token = store.add_annotator("alice", link_days=2)
    forever = store.add_annotator("bob")
    app = create_app(db, clock=clock)

    c = app.test_client()
    resp = c.post("/login", data={"token": token})
    assert resp.status_code == 302 and "Max-Age=172800" in resp.headers["Set-Cookie"]
    session = c.get_cookie(COOKIE).value
    clock.now = T0 + dt.timedelta(days=1)
    assert _with_cookie(app, session).get("/api/progress").status_code == 200
    resp = app.test_client().post("/login", data={"token": token})
    assert "Max-Age=86400" in resp.headers["Set-Cookie"]  # never past the link's expiry

    clock.now = T0 + dt.timedelta(days=2)  # the link's last second is over
    page = app.test_client().get(f"/login/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 401 and "This link expired on 2026-01-03 00:00 UTC" in text
    assert "Continue as" not in text
    assert app.test_client().post("/login", data={"token": token}).status_code == 401
    assert _with_cookie(app, session).get("/api/progress").status_code == 401  # session too
    assert store.annotator_by_token(token) is None

    # no --link-days: the link never expires; a session lasts 90 days
    clock.now = T0
    _, bob, _ = _sign_in(app, forever)
    clock.now = T0 + dt.timedelta(days=90) - dt.timedelta(seconds=1)
    assert _with_cookie(app, bob).get("/api/progress").status_code == 200
    clock.now = T0 + dt.timedelta(days=90)
    assert _with_cookie(app, bob).get("/api/progress").status_code == 401
    clock.now = T0 + dt.timedelta(days=3000)
    assert app.test_client().get(f"/login/{forever}").status_code == 200

    renewed = store.new_link("alice", link_days=1)  # expires at day 3001
    _sign_in(app, renewed)
    store.close()


V1_TOKEN = "mk8CdERhj6vnItvmknPVxC0c2aZEjibkAO33q5FU1Ng"

#: ``sqlite3 .dump`` of a store written by the code before sessions (commit 8befcd1):
#: two items, annotator alice (link V1_TOKEN), a span and a "no hallucination" verdict
V1_DUMP = """BEGIN TRANSACTION;
CREATE TABLE annotators (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL);
INSERT INTO "annotators" VALUES(1,'alice','5b634699348bf41525a4b4dae5c7e0fa0fdb371bb15b34b1210dd17cc78b62d2','2026-12-01T14:04:36+00:00');
CREATE TABLE decisions (
  proposal_id INTEGER NOT NULL REFERENCES proposals(id),
  annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected')), span_id INTEGER,
  at TEXT NOT NULL, PRIMARY KEY (proposal_id, annotator_id));
CREATE TABLE events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, annotator_id INTEGER, action TEXT NOT NULL,
  item_pk INTEGER, payload TEXT NOT NULL);
INSERT INTO "events" VALUES(1,'2026-12-01T14:04:36+00:00',NULL,'load_items',NULL,'{"added": 2}');
INSERT INTO "events" VALUES(2,'2026-12-01T14:04:36+00:00',NULL,'add_annotator',NULL,'{"name": "alice"}');
INSERT INTO "events" VALUES(3,'2026-12-01T14:04:36+00:00',1,'add_span',1,'{"id": 1, "start": 41, "end": 44, "text": "car", "type": "object", "correction": "tree", "created_at": "2026-12-01T14:04:36+00:00"}');
INSERT INTO "events" VALUES(4,'2026-12-01T14:04:36+00:00',1,'mark_clean',2,'{}');
CREATE TABLE items (
  pk INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, position INTEGER NOT NULL,
  question TEXT NOT NULL, answer TEXT NOT NULL, image TEXT, fields TEXT NOT NULL DEFAULT '{}');
INSERT INTO "items" VALUES(1,'demo-1',0,'Describe the image.','A red stop sign on a gray pole next to a car.',NULL,'{}');
INSERT INTO "items" VALUES(2,'demo-2',1,'Describe the image.','A white soccer ball on green grass.',NULL,'{}');
CREATE TABLE judge_items (
  item_pk INTEGER NOT NULL REFERENCES items(pk), judge TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('labelled', 'failed')), error TEXT, reply TEXT,
  created_at TEXT NOT NULL, PRIMARY KEY (item_pk, judge));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('csrf_secret','b60847acff65fc284d5f4513c9a3d1c700a6b890cc3e89d3d9632fffae55f4df');
INSERT INTO "meta" VALUES('run','/runs/old');
INSERT INTO "meta" VALUES('benchmark','demo');
INSERT INTO "meta" VALUES('model','test-model');
INSERT INTO "meta" VALUES('image_roots','[]');
CREATE TABLE proposals (
  id INTEGER PRIMARY KEY, item_pk INTEGER NOT NULL REFERENCES items(pk), judge TEXT NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
  correction TEXT, created_at TEXT NOT NULL);
CREATE TABLE spans (
  id INTEGER PRIMARY KEY, item_pk INTEGER NOT NULL REFERENCES items(pk),
  annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
  correction TEXT, created_at TEXT NOT NULL);
INSERT INTO "spans" VALUES(1,1,1,41,44,'car','object','tree','2026-12-01T14:04:36+00:00');
CREATE TABLE verdicts (
  item_pk INTEGER NOT NULL REFERENCES items(pk), annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  verdict TEXT NOT NULL CHECK (verdict IN ('clean')), updated_at TEXT NOT NULL,
  PRIMARY KEY (item_pk, annotator_id));
INSERT INTO "verdicts" VALUES(2,1,'clean','2026-12-01T14:04:36+00:00');
CREATE INDEX spans_item ON spans (item_pk, annotator_id);
COMMIT;"""


def test_a_store_made_before_sessions_still_opens(tmp_path):
    db = tmp_path / "annotations.sqlite"
    con = sqlite3.connect(db)
    con.executescript(V1_DUMP)
    con.close()
    store = AnnotationStore(db)
    store.close()
    store = AnnotationStore(db)  # twice: the migration is idempotent
    con = sqlite3.connect(db)
    columns = {r[1] for r in con.execute("PRAGMA table_info(annotators)")}
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert {"link_expires_at", "revoked_at"} <= columns and "sessions" in tables
    assert (
        store.meta()["csrf_secret"]
        == "b60847acff65fc284d5f4513c9a3d1c700a6b890cc3e89d3d9632fffae55f4df"
    )
    assert store.judgements() == {
        "demo-1": {
            "alice": {
                "status": "hallucinated",
                "spans": [
                    {"start": 41, "end": 44, "text": "car", "type": "object", "correction": "tree"}
                ],
            }
        },
        "demo-2": {"alice": {"status": "clean", "spans": []}},
    }
    store.close()
    app = create_app(db)
    c, session, csrf = _sign_in(app, V1_TOKEN)  # the link made before still signs in
    assert c.get("/api/progress").get_json() == {"done": 2, "total": 2, "annotator": "alice"}
    assert c.post("/logout", data={"csrf": csrf}).status_code == 302
    assert _with_cookie(app, session).get("/api/progress").status_code == 401
    store = AnnotationStore(db)
    try:
        assert store.revoke("alice") == (0, False)
    finally:
        store.close()
    assert app.test_client().get(f"/login/{V1_TOKEN}").status_code == 401

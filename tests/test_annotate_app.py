"""The annotation app's endpoints: auth, CSRF, validation, images, escaping, concurrency."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading

import pytest

from tests.annotate_helpers import ANSWERS, make_run

pytest.importorskip("flask")

from halbench.annotate.app import COOKIE, create_app, serve  # noqa: E402
from halbench.annotate.load import load_run  # noqa: E402
from halbench.annotate.store import AnnotationStore  # noqa: E402
from halbench.errors import HalbenchError  # noqa: E402
from halbench.registry import get_benchmark  # noqa: E402


@pytest.fixture
def db(tmp_path):
    loaded = load_run(make_run(tmp_path))
    return loaded.db


def _token(db, name):
    store = AnnotationStore(db)
    try:
        return store.add_annotator(name)
    finally:
        store.close()


def _session(db, token):
    """Sign in with a link token: the session token the cookie carries (never the link's)."""
    store = AnnotationStore(db)
    try:
        return store.sign_in(token)[1]
    finally:
        store.close()


def _client(app, token):
    c = app.test_client()
    assert c.get(f"/login/{token}").status_code == 200
    resp = c.post("/login", data={"token": token})
    assert resp.status_code == 302
    page = c.get("/item/1").get_data(as_text=True)
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    return c, csrf


@pytest.fixture
def app(db):
    return create_app(db)


def test_load_is_idempotent_and_refuses_changed_answers(tmp_path):
    run = make_run(tmp_path)
    first = load_run(run)
    again = load_run(run)
    assert (first.added, first.kept, first.total) == (6, 0, 6)
    assert (again.added, again.kept, again.total) == (0, 6, 6)
    assert first.db == run / "demo" / "annotations.sqlite"
    lines = (run / "demo" / "answers.jsonl").read_text().replace("soccer", "tennis")
    (run / "demo" / "answers.jsonl").write_text(lines)
    with pytest.raises(HalbenchError, match="different answer"):
        load_run(run)


def test_load_errors_name_the_problem(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(HalbenchError, match="no answers for benchmark 'pope'"):
        load_run(run, "pope")
    (run / "demo" / "answers.jsonl").write_text(
        '{"item_id": "nope", "question": "q", "answer": "a"}\n'
    )
    with pytest.raises(HalbenchError, match=r"answers.jsonl:1: item 'nope' is not in benchmark"):
        load_run(run)


def test_only_link_holders_get_in(app, db):
    c = app.test_client()
    assert c.get("/").status_code == 401
    assert c.get("/item/1").status_code == 401
    assert c.get("/image/1").status_code == 401
    assert c.get("/api/items/1").status_code == 401
    assert c.post("/api/items/1/spans", json={}).status_code == 401
    assert c.get("/login/not-a-token").status_code == 403
    token = _token(db, "alice")
    page = c.get(f"/login/{token}")
    assert page.status_code == 200 and "Continue as alice" in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers  # the link alone signs nobody in
    assert c.get("/").status_code == 401
    evil = c.post("/login", data={"token": token}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "Set-Cookie" not in evil.headers  # no cross-site login
    assert c.post("/login", data={"token": "wrong"}).status_code == 403
    resp = c.post("/login", data={"token": token})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert c.get("/").status_code == 302
    assert c.get("/api/progress").get_json() == {"done": 0, "total": 6, "annotator": "alice"}


def test_only_a_hash_of_the_token_is_stored(db):
    token = _token(db, "alice")
    raw = b"".join(p.read_bytes() for p in db.parent.glob("annotations.sqlite*"))
    assert token.encode() not in raw
    con = sqlite3.connect(db)
    (stored,) = con.execute("SELECT token_sha256 FROM annotators").fetchone()
    con.close()
    import hashlib

    assert stored == hashlib.sha256(token.encode()).hexdigest()


def test_model_text_is_escaped(app, db):
    c, _ = _client(app, _token(db, "alice"))
    page = c.get("/item/3")
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    items = c.get("/items").get_data(as_text=True)
    assert "<script>alert" not in items


def test_spans_are_saved_validated_and_attributed(app, db):
    c, csrf = _client(app, _token(db, "alice"))
    h = {"X-CSRF-Token": csrf}
    answer = ANSWERS["demo-1"]
    start = answer.index("car")
    resp = c.post(
        "/api/items/1/spans",
        json={"start": start, "end": start + 3, "type": "object", "correction": "tree"},
        headers=h,
    )
    assert resp.status_code == 201, resp.get_json()
    span = resp.get_json()["span"]
    assert span["text"] == "car" and span["correction"] == "tree"
    assert resp.get_json()["progress"] == [1, 6]
    state = c.get("/api/items/1").get_json()
    assert state["status"] == "hallucinated" and [s["text"] for s in state["spans"]] == ["car"]
    bad = [
        ({"start": 0, "end": 3, "type": "colour"}, 400, "type must be one of"),
        ({"start": 3, "end": 3, "type": "object"}, 400, "not inside"),
        ({"start": 0, "end": len(answer) + 1, "type": "object"}, 400, "not inside"),
        ({"start": -1, "end": 2, "type": "object"}, 400, "not inside"),
        ({"start": "0", "end": 2, "type": "object"}, 400, "integers"),
        ({"start": True, "end": 2, "type": "object"}, 400, "integers"),
        ({"start": 0, "end": 2, "type": "object", "correction": 5}, 400, "string"),
        ({"start": 0, "end": 2, "type": "object", "correction": "x" * 5000}, 400, "longer"),
        ({"start": start - 2, "end": start + 1, "type": "number"}, 409, "overlaps"),
    ]
    for body, status, msg in bad:
        r = c.post("/api/items/1/spans", json=body, headers=h)
        assert r.status_code == status and msg in r.get_json()["error"], (body, r.get_json())
    r = c.post("/api/items/1/spans", data="start=1", headers=h)
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]
    assert (
        c.post(
            "/api/items/99/spans", json={"start": 0, "end": 1, "type": "object"}, headers=h
        ).status_code
        == 404
    )
    r = c.post("/api/items/1/verdict", json={"clean": True}, headers=h)
    assert r.status_code == 409
    assert c.post("/api/items/1/verdict", json={"clean": "yes"}, headers=h).status_code == 400
    # the store attributes the span, and logged it
    con = sqlite3.connect(db)
    assert con.execute(
        "SELECT a.name FROM spans s JOIN annotators a ON a.id=s.annotator_id"
    ).fetchall() == [("alice",)]
    assert ("add_span",) in con.execute("SELECT action FROM events").fetchall()
    con.close()


def test_clean_verdict_and_delete(app, db):
    alice, ca = _client(app, _token(db, "alice"))
    bob, cb = _client(app, _token(db, "bob"))
    r = alice.post("/api/items/2/verdict", json={"clean": True}, headers={"X-CSRF-Token": ca})
    assert r.get_json()["status"] == "clean" and r.get_json()["progress"] == [1, 6]
    r = alice.post(
        "/api/items/2/spans",
        json={"start": 0, "end": 1, "type": "other"},
        headers={"X-CSRF-Token": ca},
    )
    assert r.status_code == 409 and "free of hallucination" in r.get_json()["error"]
    assert bob.get("/api/items/2").get_json()["status"] == "todo"  # judgements are per annotator
    r = alice.post("/api/items/2/verdict", json={"clean": False}, headers={"X-CSRF-Token": ca})
    assert r.get_json()["status"] == "todo"
    span = alice.post(
        "/api/items/2/spans",
        json={"start": 2, "end": 7, "type": "attribute"},
        headers={"X-CSRF-Token": ca},
    ).get_json()["span"]
    assert bob.delete(f"/api/spans/{span['id']}", headers={"X-CSRF-Token": cb}).status_code == 404
    r = alice.delete(f"/api/spans/{span['id']}", headers={"X-CSRF-Token": ca})
    assert r.status_code == 200 and r.get_json()["progress"] == [0, 6]
    assert alice.get("/api/items/2").get_json()["spans"] == []


def test_csrf_is_required_on_every_change(app, db):
    alice, ca = _client(app, _token(db, "alice"))
    _, cb = _client(app, _token(db, "bob"))
    body = {"start": 0, "end": 1, "type": "object"}
    assert alice.post("/api/items/1/spans", json=body).status_code == 403
    assert (
        alice.post("/api/items/1/spans", json=body, headers={"X-CSRF-Token": "0" * 64}).status_code
        == 403
    )
    assert (
        alice.post("/api/items/1/spans", json=body, headers={"X-CSRF-Token": cb}).status_code == 403
    )
    assert alice.post("/api/items/1/verdict", json={"clean": True}).status_code == 403
    assert alice.delete("/api/spans/1").status_code == 403
    assert alice.post("/logout").status_code == 403
    evil = {"X-CSRF-Token": ca, "Origin": "http://evil.example"}
    assert alice.post("/api/items/1/spans", json=body, headers=evil).status_code == 403
    assert alice.get("/api/items/1").get_json()["spans"] == []
    ok = {"X-CSRF-Token": ca, "Origin": "http://localhost"}
    assert alice.post("/api/items/1/spans", json=body, headers=ok).status_code == 201
    assert alice.post("/logout", data={"csrf": ca}).status_code == 302


def test_images_come_only_from_the_runs_data(app, db, tmp_path):
    c, _ = _client(app, _token(db, "alice"))
    item = get_benchmark("demo").load_items()[0]
    r = c.get("/image/1")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.data == item.image.read_bytes()
    for path in (
        "/image/../../etc/passwd",
        "/image/%2e%2e%2fetc%2fpasswd",
        "/image/-1",
        "/image/1.0",
    ):
        assert c.get(path).status_code == 404, path
    assert c.get("/image/99").status_code == 404
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    con = sqlite3.connect(db)
    con.execute("UPDATE items SET image=? WHERE pk=2", (str(outside),))
    con.execute(
        "UPDATE items SET image=? WHERE pk=3", (str(item.image.parent / ".." / "benchmark.toml"),)
    )
    con.commit()
    con.close()
    assert c.get("/image/2").status_code == 403
    assert c.get("/image/3").status_code == 403


def _request(port, method, path, token, csrf=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"{COOKIE}={token}", "Content-Type": "application/json"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, data


def test_two_annotators_at_once_lose_nothing(db, capfd, caplog):
    caplog.set_level("INFO")
    tokens = {name: _token(db, name) for name in ("alice", "bob")}
    sessions = {name: _session(db, token) for name, token in tokens.items()}
    server = serve(db, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        csrf = {}
        status, _ = _request(server.port, "GET", f"/login/{tokens['alice']}", "")
        assert status == 200
        for name, session in sessions.items():
            _, page = _request(server.port, "GET", "/item/1", session)
            csrf[name] = page.split('name="csrf-token" content="')[1].split('"')[0]
        errors = []

        def work(name):
            for pk in range(1, 7):
                answer = list(ANSWERS.values())[pk - 1]
                for k in range(3):  # three non-overlapping one-character spans per item
                    status, data = _request(
                        server.port,
                        "POST",
                        f"/api/items/{pk}/spans",
                        sessions[name],
                        csrf[name],
                        {
                            "start": 2 * k,
                            "end": 2 * k + 1,
                            "type": "object",
                            "correction": f"{name}{k}",
                        },
                    )
                    if status != 201:
                        errors.append((name, pk, status, data))
                assert len(answer) > 6

        threads = [threading.Thread(target=work, args=(n,)) for n in tokens for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # each annotator ran twice: the second copy of every span overlaps the first -> 409
        assert {e[2] for e in errors} <= {409}
        assert len(errors) == 2 * 18
    finally:
        server.shutdown()
        server.server_close()
    logged = capfd.readouterr()
    assert (
        "/login/" not in logged.err + logged.out + caplog.text
    )  # no access log: URLs carry tokens
    store = AnnotationStore(db)
    judged = store.judgements()
    store.close()
    for pk, item_id in enumerate(ANSWERS, start=1):
        for name in tokens:
            spans = judged[item_id][name]["spans"]
            assert [(s["start"], s["correction"]) for s in spans] == [
                (0, f"{name}0"),
                (2, f"{name}1"),
                (4, f"{name}2"),
            ], pk


def test_serve_command(tmp_path):
    """`halbench annotate serve` binds 127.0.0.1, loads the run, and answers; Ctrl-C-like stop."""
    import os
    import signal
    import subprocess
    import sys

    run = make_run(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "halbench",
            "-q",
            "annotate",
            "serve",
            "--run",
            str(run),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("demo: 6 items added, 0 already there"), first
        line = proc.stdout.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line
        port = int(line.split(":")[2].split("/")[0])
        assert "add-annotator NAME" in proc.stdout.readline()
        status, _ = _request(port, "GET", "/api/progress", "no-such-token")
        assert status == 401
        db = run / "demo" / "annotations.sqlite"
        session = _session(db, _token(db, "alice"))
        status, body = _request(port, "GET", "/api/progress", session)
        assert status == 200 and json.loads(body) == {"done": 0, "total": 6, "annotator": "alice"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_missing_extra_names_it(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "flask", None)
    monkeypatch.delitem(sys.modules, "halbench.annotate.app")
    with pytest.raises(HalbenchError, match=r"pip install 'halbench\[annotate\]'"):
        importlib.import_module("halbench.annotate.app")
    monkeypatch.undo()
    importlib.import_module("halbench.annotate.app")

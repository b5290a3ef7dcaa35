"""Check-then-write races over real HTTP: one winner, no 500, a consistent store (issue 13.3)."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time

import pytest

from tests.annotate_helpers import make_run

pytest.importorskip("flask")

from halbench.annotate.access import SignInError  # noqa: E402
from halbench.annotate.app import COOKIE, serve  # noqa: E402
from halbench.annotate.load import load_run  # noqa: E402
from halbench.annotate.store import AnnotationStore  # noqa: E402
from halbench.errors import HalbenchError  # noqa: E402

ROUNDS = 50


def _http(port, method, path, headers=None, body=None, form=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = dict(headers or {})
    if form is not None:
        body = "&".join(f"{k}={v}" for k, v in form.items())
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    cookies = resp.headers.get_all("Set-Cookie") or []
    conn.close()
    return resp.status, data, cookies


def _sign_in(port, token):
    """Open the link, press the button: the session cookie and the CSRF token of a new tab."""
    status, _, cookies = _http(port, "POST", "/login", form={"token": token})
    assert status == 302, status
    cookie = next(c for c in cookies if c.startswith(f"{COOKIE}=")).split(";")[0]
    status, page, _ = _http(port, "GET", "/item/1", {"Cookie": cookie})
    assert status == 200
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    return {"Cookie": cookie, "X-CSRF-Token": csrf}


@pytest.fixture
def server(tmp_path):
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    tokens = {name: store.add_annotator(name) for name in ("alice", "bob")}
    store.close()
    srv = serve(db, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield db, srv.port, tokens
    finally:
        srv.shutdown()
        srv.server_close()


def _race(port, requests):
    """Send every (method, path, headers, body) at the same moment (a barrier); the results."""
    barrier = threading.Barrier(len(requests), timeout=30)
    results: list = [None] * len(requests)

    def go(i, method, path, headers, body):
        barrier.wait()
        try:
            results[i] = _http(port, method, path, headers, body)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = (None, repr(exc), [])

    threads = [threading.Thread(target=go, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def _consistent(db):
    """accepted <=> its span exists (and is the decider's, on the proposal's text)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT d.decision, d.span_id, s.id, s.annotator_id, d.annotator_id, s.start, p.start "
            "FROM decisions d JOIN proposals p ON p.id=d.proposal_id "
            "LEFT JOIN spans s ON s.id=d.span_id"
        ).fetchall()
        for decision, span_id, sid, s_who, d_who, s_start, p_start in rows:
            if decision == "accepted":
                assert sid is not None and s_who == d_who and s_start == p_start, rows
            else:
                assert span_id is None, rows
        orphans = con.execute(
            "SELECT COUNT(*) FROM spans s JOIN proposals p ON p.item_pk=s.item_pk "
            "AND p.start=s.start AND p.end=s.end WHERE NOT EXISTS "
            "(SELECT 1 FROM decisions d WHERE d.span_id=s.id)"
        ).fetchone()[0]
        assert orphans == 0, "a span from an acceptance whose decision was lost"
    finally:
        con.close()


def test_accept_and_reject_at_once_one_winner(server):
    """Two tabs of one annotator accept and reject one proposal at the same time, 50 times."""
    db, port, tokens = server
    tabs = [_sign_in(port, tokens["alice"]) for _ in range(4)]
    store = AnnotationStore(db)
    try:
        for r in range(ROUNDS):
            span = {"start": 2, "end": 5, "text": "red", "type": "attribute", "correction": None}
            store.add_judge_labels(1, f"judge-{r}", [span], None, "[...]")
            (pid,) = [
                p["id"]
                for p in store.state(1, store.annotators()[0])["proposals"]
                if p["judge"] == f"judge-{r}"
            ]
            decisions = ["accepted", "rejected", "accepted", "rejected"][: 2 + r % 3]
            path = f"/api/proposals/{pid}/decision"
            results = _race(
                port, [("POST", path, tabs[i], {"decision": d}) for i, d in enumerate(decisions)]
            )
            statuses = sorted(s for s, _, _ in results)
            assert statuses == [200] + [409] * (len(decisions) - 1), (r, results)
            for status, data, _ in results:
                if status == 409:
                    assert "already decided" in json.loads(data)["error"], data
            _consistent(db)
            winner = json.loads(next(d for s, d, _ in results if s == 200))
            if winner["decision"] == "accepted":  # free the words again for the next round
                store.delete_span(winner["span"]["id"], store.annotators()[0])
                _consistent(db)
    finally:
        store.close()


def test_other_writes_at_once_never_500(server):
    """Overlapping spans, a span against "no hallucination", two deletes: one wins, no 500."""
    db, port, tokens = server
    tab1, tab2 = _sign_in(port, tokens["bob"]), _sign_in(port, tokens["bob"])
    for r in range(ROUNDS // 2):
        pk = 1 + r % 6
        add = {"start": 0, "end": 1, "type": "object"}
        results = _race(
            port,
            [
                ("POST", f"/api/items/{pk}/spans", tab1, add),
                ("POST", f"/api/items/{pk}/verdict", tab2, {"clean": True}),
            ],
        )
        assert sorted(s for s, _, _ in results) in ([200, 409], [201, 409]), results
        state = json.loads(_http(port, "GET", f"/api/items/{pk}", tab1)[1])
        assert (state["status"] == "clean") == (state["spans"] == [])
        if state["spans"]:
            sid = state["spans"][0]["id"]
            path = f"/api/spans/{sid}"
            results = _race(port, [("DELETE", path, tab1, None), ("DELETE", path, tab2, None)])
            assert sorted(s for s, _, _ in results) == [200, 404], results
        else:
            body = {"clean": False}
            assert _http(port, "POST", f"/api/items/{pk}/verdict", tab1, body)[0] == 200
    store = AnnotationStore(db)
    try:
        assert store.judgements() == {}
    finally:
        store.close()


def test_a_refused_load_changes_nothing(tmp_path):
    """The benchmark check, meta and items are one transaction: a refused load leaves no trace."""
    run = make_run(tmp_path)
    db = load_run(run).db
    store = AnnotationStore(db)
    before = store.meta()
    store.close()
    answers = run / "demo" / "answers.jsonl"
    answers.write_text(answers.read_text().replace("soccer", "tennis"))
    result = json.loads((run / "demo" / "result.json").read_text())
    result["model"]["model"] = "another-model"
    (run / "demo" / "result.json").write_text(json.dumps(result))
    with pytest.raises(HalbenchError, match="different answer"):
        load_run(run)
    store = AnnotationStore(db)
    try:
        assert store.meta() == before and "test-model" in before["model"]
    finally:
        store.close()


def test_sign_in_racing_revoke_leaves_no_session(tmp_path):
    """Sign-ins in 3 threads while the annotator is revoked: none outlives the revocation."""
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    token = store.add_annotator("alice")
    started = threading.Barrier(4, timeout=30)
    refused = []

    def sign_in_until_refused():
        mine = AnnotationStore(db)
        started.wait()
        deadline = time.monotonic() + 60  # until the revocation lands, however loaded the machine
        try:
            while time.monotonic() < deadline:
                try:
                    mine.sign_in(token)
                except SignInError as exc:
                    refused.append(exc.status)
                    return
        finally:
            mine.close()

    threads = [threading.Thread(target=sign_in_until_refused) for _ in range(3)]
    for t in threads:
        t.start()
    started.wait()
    ended, _ = store.revoke("alice")
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    store.close()
    con = sqlite3.connect(db)
    live = con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    con.close()
    assert refused == [401, 401, 401] and live == 0, (refused, live, ended)

"""Judge pre-annotation against the local fake OpenAI server: proposals, decisions, a separate report."""

from __future__ import annotations

import json

import pytest

from halbench.annotate.load import load_run
from halbench.annotate.prelabel import parse_reply, prelabel
from halbench.annotate.report import build_report
from halbench.annotate.store import AnnotationStore
from halbench.cli import main
from halbench.judges import JudgeConfig
from tests.annotate_helpers import make_run

from .fake_openai import FakeOpenAI

pytest.importorskip("flask")

SECRET = "sk-prelabel-secret-never-stored"
REPLIES = {
    "stop sign": '[{"text": "car", "type": "object", "correction": "tree"}]',
    "soccer": "```json\n[]\n```",
    "clocks": "Nothing seems wrong to me.",  # not JSON: failed
    "traffic": '[{"text": "purple", "type": "attribute"}]',  # not in the answer: failed
    "cup": '[{"text": "cat", "type": "object", "correction": "spoon"}]',
    "television": '[{"text": "blue", "type": "colour"}]',  # unknown type: failed
}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI() as s:
        s.reply = lambda text: next(v for k, v in REPLIES.items() if k in text)
        yield s


def test_parse_reply():
    answer = "a cat and a cat"
    spans = parse_reply(
        '[{"text": "cat", "type": "object"}, {"text": "cat", "type": "object"}]', answer
    )
    assert [(s["start"], s["end"]) for s in spans] == [(2, 5), (12, 15)]  # second occurrence
    for bad, why in [
        ("{}", "not a JSON array"),
        ("[1]", 'no "text"'),
        ('[{"text": "dog", "type": "object"}]', "not in the answer"),
        ('[{"text": "cat", "type": "animal"}]', "is not one of"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_reply(bad, answer)


def test_prelabel_proposals_decisions_and_report(server, tmp_path):
    db = load_run(make_run(tmp_path)).db
    cfg = JudgeConfig(
        model="fake-judge", base_url=server.url, cache_dir=tmp_path / "cache", backoff_base=0.01
    )
    out = prelabel(db, cfg)
    assert out.labelled == 3 and out.skipped == 0
    assert set(out.failed) == {"demo-3", "demo-4", "demo-6"}
    assert "not JSON" in out.failed["demo-3"] and "not in the answer" in out.failed["demo-4"]
    sent = server.requests[0]["messages"][1]["content"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    again = prelabel(db, cfg)
    assert (
        again.skipped == 3 and again.labelled == 0 and len(again.failed) == 3
    )  # only failures retried
    raw = b"".join(p.read_bytes() for p in db.parent.glob("annotations.sqlite*"))
    assert SECRET.encode() not in raw

    from halbench.annotate.app import create_app

    store = AnnotationStore(db)
    token = store.add_annotator("alice")
    store.close()
    c = create_app(db).test_client()
    c.post("/login", data={"token": token})
    page = c.get("/item/1").get_data(as_text=True)
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    h = {"X-CSRF-Token": csrf}
    state = c.get("/api/items/1").get_json()
    assert state["status"] == "todo"  # a proposal is not a human label
    (p1,) = state["proposals"]
    assert (p1["text"], p1["correction"], p1["decision"]) == ("car", "tree", None)
    assert (
        c.post(f"/api/proposals/{p1['id']}/decision", json={"decision": "accepted"}).status_code
        == 403
    )
    assert (
        c.post(
            f"/api/proposals/{p1['id']}/decision", json={"decision": "maybe"}, headers=h
        ).status_code
        == 400
    )
    r = c.post(f"/api/proposals/{p1['id']}/decision", json={"decision": "accepted"}, headers=h)
    assert r.status_code == 200 and r.get_json()["span"]["text"] == "car"
    assert (
        c.post(
            f"/api/proposals/{p1['id']}/decision", json={"decision": "rejected"}, headers=h
        ).status_code
        == 409
    )
    (p5,) = c.get("/api/items/5").get_json()["proposals"]
    assert (
        c.post(
            f"/api/proposals/{p5['id']}/decision", json={"decision": "rejected"}, headers=h
        ).status_code
        == 200
    )
    c.post("/api/items/5/verdict", json={"clean": True}, headers=h)
    c.post("/api/items/2/verdict", json={"clean": True}, headers=h)

    record = build_report(db)
    m = record.metrics
    # human labels only: alice judged demo-1 (hallucinated), demo-2 and demo-5 (clean)
    assert (m["counts"]["all"], m["n"]) == (1, 3)
    j = m["judges"]["fake-judge"]
    assert (j["counts"]["all"], j["counts"]["object"], j["n"]) == (2, 2, 3)
    assert set(j["failed"]) == {"demo-3", "demo-4", "demo-6"}
    assert j["decisions"] == {"accepted": 1, "rejected": 1} and j["proposals"] == 2
    ag = j["agreement_with_humans"]
    # judge [1,0,1] vs humans [1,0,0]: po 2/3, pe 4/9 -> 2/5
    assert ag["items"] == 3 and ag["cohen_kappa_vs_combined_humans"]["all"] == pytest.approx(0.4)
    assert ag["span_f1_any_type"]["alice"]["f1"] == pytest.approx(2 / 3)  # P 1/2, R 1


def test_prelabel_cli(server, tmp_path, capsys, monkeypatch):
    db = load_run(make_run(tmp_path)).db
    monkeypatch.setenv("HALBENCH_HOME", str(tmp_path / "home"))
    code = main(
        [
            "-q",
            "annotate",
            "prelabel",
            "--db",
            str(db),
            "--judge-model",
            "fake-judge",
            "--judge-base-url",
            server.url,
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and "3 responses labelled" in text and "3 failed" in text
    assert main(["-q", "annotate", "report", "--db", str(db)]) == 0
    assert "judge fake-judge (not in the rates above): All 2/3" in capsys.readouterr().out
    log = (db.parent / "judge_calls.jsonl").read_text()
    assert SECRET not in log and json.loads(log.splitlines()[0])

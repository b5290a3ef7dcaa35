"""export-ddpo round-trips through a reader of the documented interchange format; the CLI; the
leaderboard reads the report like any other record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from halbench.annotate import TYPES
from halbench.annotate.export import apply_corrections, export_ddpo
from halbench.annotate.load import load_run
from halbench.annotate.store import AnnotationStore
from halbench.cli import main
from halbench.errors import InputError
from tests.annotate_helpers import ANSWERS, make_run


def read_interchange(path: Path) -> list[dict]:
    """A strict reader of docs/ddpo.md's preference JSONL (what the DDPO trainer reads)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        rec = json.loads(line)
        for key, kind in (
            ("id", str),
            ("image", str),
            ("question", str),
            ("chosen", str),
            ("rejected", str),
        ):
            if not isinstance(rec.get(key), kind):
                raise InputError(str(path), f'"{key}" must be a string', line=number, field=key)
        assert set(rec) <= {"id", "image", "question", "chosen", "rejected", "segments", "meta"}
        image = Path(rec["image"])
        image = image if image.is_absolute() else path.parent / image
        if not image.is_file():
            raise InputError(str(path), f"image {image} not found", line=number, field="image")
        rebuilt, pos = [], 0
        for seg in rec.get("segments", []):
            assert set(seg) == {
                "rejected_start",
                "rejected_end",
                "chosen_start",
                "chosen_end",
                "type",
            }
            assert seg["type"] in TYPES
            rebuilt += [
                rec["rejected"][pos : seg["rejected_start"]],
                rec["chosen"][seg["chosen_start"] : seg["chosen_end"]],
            ]
            pos = seg["rejected_end"]
        rebuilt.append(rec["rejected"][pos:])
        if rec.get("segments") and "".join(rebuilt) != rec["chosen"]:
            raise InputError(
                str(path),
                "segments do not turn rejected into chosen",
                line=number,
                field="segments",
            )
        out.append({**rec, "image_path": image})
    return out


@pytest.fixture
def db(tmp_path):
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    store.add_annotator("alice")
    store.add_annotator("bob")
    alice, bob = store.annotators()
    a1 = ANSWERS["demo-1"]
    store.add_span(1, alice, a1.index("car"), a1.index("car") + 3, "object", "tree")
    store.set_verdict(2, alice, True)
    a3 = ANSWERS["demo-3"]
    store.add_span(3, alice, 0, 3, "number", None)  # no correction: no pair
    a5 = ANSWERS["demo-5"]
    store.add_span(5, alice, a5.index("cat"), a5.index("cat") + 3, "object", "spoon")
    store.add_span(5, alice, a5.index("blue"), a5.index("blue") + 4, "attribute", "green")
    store.add_span(5, bob, a5.index("a table"), a5.index("a table") + 7, "position", "the floor")
    assert a3
    store.close()
    return db


def test_apply_corrections_offsets():
    text, segs = apply_corrections(
        "one two three",
        [
            {"start": 8, "end": 13, "type": "number", "correction": "3"},
            {"start": 0, "end": 3, "type": "number", "correction": "1!"},
        ],
    )
    assert text == "1! two 3"
    assert segs == [
        {
            "rejected_start": 0,
            "rejected_end": 3,
            "chosen_start": 0,
            "chosen_end": 2,
            "type": "number",
        },
        {
            "rejected_start": 8,
            "rejected_end": 13,
            "chosen_start": 7,
            "chosen_end": 8,
            "type": "number",
        },
    ]


def test_export_round_trips(db, tmp_path):
    out = tmp_path / "pairs" / "ddpo.jsonl"
    done = export_ddpo(db, out)
    assert done.pairs == 3
    assert done.skipped == {"demo-3 / alice": "a hallucinated span has no correction"}
    recs = {r["id"]: r for r in read_interchange(out)}
    assert set(recs) == {"demo-1/alice", "demo-5/alice", "demo-5/bob"}
    assert recs["demo-1/alice"]["chosen"] == "A red stop sign on a gray pole next to a tree."
    assert recs["demo-1/alice"]["rejected"] == ANSWERS["demo-1"]
    five = recs["demo-5/alice"]
    assert five["chosen"] == "A green cup 🍵 and a yellow bowl on a table with a spoon."
    assert [s["type"] for s in five["segments"]] == ["attribute", "object"]
    for s in five["segments"]:  # offsets are code points: the emoji counts as one
        assert five["rejected"][s["rejected_start"] : s["rejected_end"]] in ("blue", "cat")
        assert five["chosen"][s["chosen_start"] : s["chosen_end"]] in ("green", "spoon")
    assert recs["demo-5/bob"]["chosen"].endswith("on the floor with a cat.")
    assert five["meta"]["annotator"] == "alice" and five["meta"]["model"] == "test-model"
    assert five["image_path"].is_absolute() and five["image_path"].parent.name == "images"


def test_cli_end_to_end(db, tmp_path, capsys):
    assert (
        main(
            [
                "-q",
                "annotate",
                "add-annotator",
                "carol",
                "--db",
                str(db),
                "--base-url",
                "http://h:1/",
            ]
        )
        == 0
    )
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("carol: http://h:1/login/") and len(line.rsplit("/", 1)[1]) >= 40
    assert main(["-q", "annotate", "add-annotator", "carol", "--db", str(db)]) == 1
    capsys.readouterr()
    assert main(["-q", "annotate", "report", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "4 of 6 responses judged" in text and "95% Wilson" in text
    assert text.startswith("Human judgement (demo-human)")
    record_path = db.parent / "human-judgement.json"
    rec = json.loads(record_path.read_text())
    assert rec["metrics"]["counts"]["all"] == 3  # demo-1, 3, 5 hallucinated; demo-2 clean
    assert rec["benchmark"] == "demo-human" and rec["protocol"]["scorer"] == "human-judgement"
    assert (
        main(
            [
                "-q",
                "annotate",
                "export-ddpo",
                "--output",
                str(tmp_path / "x.jsonl"),
                "--db",
                str(db),
            ]
        )
        == 0
    )
    assert "wrote 3 preference pairs" in capsys.readouterr().out

    from halbench.leaderboard.build import build_tables

    # human judgement of the demo's answers is not MHumanEval: no MHumanEval cells
    entries = Path(__file__).resolve().parents[1] / "leaderboard" / "entries"
    tables, _ = build_tables(entries, [db.parent])
    main_table = next(t for t in tables if t.name == "main")
    assert not [r for r in main_table.rows if r.kind == "our run"]  # in its own table only
    (own,) = [t for t in tables if t.kind == "benchmark"]
    assert own.name.startswith("demo-human") and len(own.rows) == 1


def test_missing_store_is_a_clear_error(tmp_path, capsys):
    assert main(["-q", "annotate", "report", "--db", str(tmp_path / "none.sqlite")]) == 1
    assert "annotation store not found" in capsys.readouterr().err

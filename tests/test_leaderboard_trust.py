"""Issue 14: a leaderboard people can trust.

Comparability (a column takes only the runs it declares), model identity (name +
fingerprint), the newest complete record whatever the input order, reproduced entries,
the CSV of every cell, building and adding outside the repository.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from pathlib import Path

import pytest

from halbench.cli import main
from halbench.leaderboard import build_site
from halbench.leaderboard.identity import Identity, display_names, identity
from halbench.types import ResultRecord

from .leaderboard_helpers import write_record

REQUIRED = (
    "table,model,source,column,value,benchmark,benchmark_version,protocol,n_scored,n_items,partial"
)
LLM = {"full": True, "protocol": {"extractor": "llm"}}
PAPER = ("RLHF-V paper, Table 1", "RLHF-V paper, Table 3 (ablations)")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("coco-cache")


def _replay(tmp_path: Path, folder: str, texts: list[str], *extra: str) -> Path:
    answers = tmp_path / folder / "answers.jsonl"
    answers.parent.mkdir(parents=True)
    answers.write_text(
        "".join(
            json.dumps({"item_id": f"demo-{i + 1}", "text": t}) + "\n" for i, t in enumerate(texts)
        )
    )
    out = tmp_path / "runs" / folder.replace("/", "_")
    argv = ["-q", "run", "--model", f"replay:{answers}", "--benchmarks", "demo", "--out", str(out)]
    assert main([*argv, *extra]) == 0
    return out / "demo" / "result.json"


def _cells(site_dir: Path) -> list[dict[str, str]]:
    with open(site_dir / "leaderboard.csv", newline="") as f:
        return list(csv.DictReader(f))


def _links_resolve(site: Path) -> None:
    """Every record a cell names and every model page a row links to is in the site."""
    for cell in _cells(site):
        assert cell["source"] == "reported" or (site / cell["record"]).is_file(), cell
    html = (site / "index.html").read_text()
    for href in re.findall(r'href="(models/[^"]+)"', html):
        assert (site / href).is_file(), href


TEXTS = ["A stop sign.", "A ball and a dog.", "A clock.", "A traffic light.", "A cup.", "A tv."]


def test_demo_two_finals_and_the_papers(tmp_path, cache_root, capsys):
    _replay(tmp_path, "a/final", TEXTS)
    _replay(tmp_path, "b/final", [t.replace(".", " and a car.") for t in TEXTS])
    _replay(tmp_path, "c/tuned", TEXTS[::-1])
    write_record(tmp_path / "runs" / "gpt4" / "r.json", "gpt-4 answers", cache_root=cache_root)
    old = os.umask(0o022)
    try:
        code = main(
            [
                "-q",
                "leaderboard",
                "build",
                "--runs",
                str(tmp_path / "runs"),
                "--out",
                str(tmp_path / "site"),
            ]
        )
    finally:
        os.umask(old)
    assert code == 0, capsys.readouterr().err
    site = tmp_path / "site"
    cells = _cells(site)
    assert (site / "leaderboard.csv").read_text().startswith(REQUIRED)
    assert len(json.loads((site / "leaderboard.json").read_text())["cells"]) == len(cells)
    # nothing of ours in the paper's tables: the demo set, 30 answers on the synonym path
    assert {c["source"] for c in cells if c["table"] in PAPER} == {"reported"}
    demo = {c["model"] for c in cells if c["benchmark"] == "demo"}
    assert demo == {"a/final", "b/final", "tuned"}  # two checkpoints named final: two rows
    gpt4 = [c for c in cells if c["model"] == "gpt-4 answers"]
    assert gpt4 and all(c["partial"] == "True" and c["badge"] == "30/300" for c in gpt4)
    assert {c["table"] for c in gpt4} == {"Object HalBench (extractor: synonym)"}
    _links_resolve(site)
    html = (site / "index.html").read_text()  # the scatter plot says why our runs are absent
    assert "Not plotted (a point needs both coordinates): " in html
    assert "a/final: no run that matches this table&#x27;s columns" in html
    for path in site.rglob("*"):  # readable by others
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_newest_complete_record_wins_whatever_the_order(tmp_path, cache_root):
    a, b, c = (tmp_path / d for d in ("a", "b", "c"))
    write_record(
        a / "r.json",
        "org/m",
        cache_root=cache_root,
        created_at="2026-11-01T10:00:00+00:00",
        CHAIRs_refine=0.5,
        **LLM,
    )
    write_record(
        b / "r.json",
        "org/m",
        cache_root=cache_root,
        created_at="2026-11-02T10:00:00+00:00",
        CHAIRs_refine=0.25,
        **LLM,
    )
    # newer still, but --limit 3: partial, so it does not replace the complete run
    write_record(
        c / "r.json",
        "org/m",
        cache_root=cache_root,
        created_at="2026-11-03T10:00:00+00:00",
        CHAIRs_refine=0.01,
        model_extra={"limit": 3},
        **LLM,
    )
    for order in ([a, b, c], [c, b, a], [b, c, a]):
        site = build_site(None, order, tmp_path / "site")
        for table in (site.tables[0], next(t for t in site.tables if t.kind == "benchmark")):
            (row,) = [r for r in table.rows if r.kind == "our run"]
            key = "objhal_resp" if table.kind == "reported" else "CHAIRs_refine"
            assert row.cells[key].value == pytest.approx(25.0) and row.cells[key].badge == ""
    site = build_site(None, [a, b, c], tmp_path / "site", all_runs=True)
    assert sum(1 for r in site.tables[0].rows if r.kind == "our run") == 2  # the partial: never
    _links_resolve(tmp_path / "site")
    bench = next(t for t in site.tables if t.kind == "benchmark")
    assert sorted(r.cells["CHAIRs_refine"].badge for r in bench.rows) == ["", "", "300/300"]


def test_paper_columns_take_only_runs_that_match(tmp_path, cache_root):
    runs = tmp_path / "runs"
    write_record(runs / "1.json", "llm-official", cache_root=cache_root, **LLM)
    write_record(runs / "2.json", "synonym-official", cache_root=cache_root, full=True)
    write_record(
        runs / "3.json",
        "llm-sample",
        cache_root=cache_root,
        version_suffix="+coco-sample-seed0",
        **LLM,
    )
    write_record(runs / "4.json", "llm-30", cache_root=cache_root, protocol={"extractor": "llm"})
    site = build_site(None, [runs], tmp_path / "site")
    main_table = site.tables[0]
    assert [r.model for r in main_table.rows if r.kind == "our run"] == ["llm-official"]
    by_table = {t.title: {r.model: r for r in t.rows} for t in site.tables if t.kind == "benchmark"}
    assert set(by_table["Object HalBench (extractor: synonym)"]) == {"synonym-official"}
    llm = by_table["Object HalBench (extractor: llm)"]
    assert {m: r.cells["CHAIRs_refine"].badge for m, r in llm.items()} == {
        "llm-official": "",
        "llm-sample": "sample",
        "llm-30": "30/300",
    }
    html = site.index.read_text()
    assert html.count('data-partial="1"') >= 2 and "Object HalBench (extractor: llm)" in html


def test_identity_names(tmp_path):
    def rec(model: dict) -> ResultRecord:
        r = ResultRecord(
            benchmark="demo",
            benchmark_version="1",
            protocol={},
            metrics={},
            n_items=0,
            n_scored=0,
            n_unscored=0,
            items=[],
            provenance={
                "halbench_version": "0",
                "python": "3",
                "platform": "x",
                "created_at": "2026-01-01T00:00:00+00:00",
                "duration_s": 0.0,
            },
        )
        r.model = model
        return r

    p = Path("r.json")
    replay = identity(
        rec(
            {
                "backend": "replay",
                "model": "replay:x/final/answers.jsonl",
                "fingerprint": "replay:aa",
                "details": {"file": "x/final/answers.jsonl"},
            }
        ),
        p,
    )
    assert replay.name == "final"  # named after what was replayed, not "replay:..."
    assert (
        identity(
            rec({"backend": "replay", "model": "replay:gpt4v.jsonl", "fingerprint": "replay:b"}), p
        ).name
        == "gpt4v"
    )
    assert (
        identity(rec({"backend": "hf", "model": "/ckpt/run1/final/", "fingerprint": "f1"}), p).name
        == "final"
    )
    assert (
        identity(rec({"backend": "hf", "model": "org/m", "fingerprint": "hub:org/m@1"}), p).name
        == "org/m"
    )
    named = identity(
        rec({"backend": "hf", "model": "/x/final", "fingerprint": "f2", "name": "RLHF-V 13B"}), p
    )
    assert named.name == "RLHF-V 13B" and named.explicit
    ids = [
        Identity("final", "f1", "/ckpt/run1/final"),
        Identity("final", "f2", "/ckpt/run2/final"),
        Identity("final", "f1", "/elsewhere/final"),  # same checkpoint elsewhere: same row
        Identity("m", "f3", "/a/x/m"),
        Identity("m", "f4", "/b/x/m"),  # same parent name: the fingerprint decides
        Identity("mine", "f5", "", explicit=True),
        Identity("mine", "f6", "", explicit=True),
    ]
    names = display_names(ids)
    assert [names[i] for i in ids] == [
        "run1/final",
        "run2/final",
        "run1/final",
        "x/m [f3]",
        "x/m [f4]",
        "mine [f5]",
        "mine [f6]",
    ]


def test_run_name_is_recorded_and_shown(tmp_path):
    path = _replay(tmp_path, "z/final", TEXTS, "--name", "My tuned model")
    assert ResultRecord.load(path).model["name"] == "My tuned model"
    site = build_site(None, [tmp_path / "runs"], tmp_path / "site")
    (table,) = [t for t in site.tables if t.kind == "benchmark"]
    assert [r.model for r in table.rows] == ["My tuned model"]


def test_reproduced_entry_beside_the_reported_one(tmp_path, cache_root, capsys, monkeypatch):
    monkeypatch.setenv("HALBENCH_HOME", str(tmp_path / "home"))
    rec = write_record(tmp_path / "r.json", "ours/rlhfv", cache_root=cache_root, **LLM)
    bad = ["-q", "leaderboard", "add", str(rec), "--reproduces", "rlhfv-table1:RLHF-W"]
    assert main(bad) == 1
    err = capsys.readouterr().err
    assert 'rlhfv-table1 has no row "RLHF-W"' in err and "Traceback" not in err
    assert not (tmp_path / "home").exists()  # nothing added, nothing created
    assert main(["-q", "leaderboard", "add", str(rec), "--reproduces", "rlhfv-table1:RLHF-V"]) == 0
    added = list((tmp_path / "home" / "leaderboard" / "runs").glob("*.json"))
    assert len(added) == 1 and ResultRecord.load(added[0]).reproduces == "rlhfv-table1:RLHF-V"
    monkeypatch.chdir(tmp_path)  # outside the repository: the papers' tables ship with halbench
    assert main(["-q", "leaderboard", "build", "--out", "site"]) == 0
    html = (tmp_path / "site" / "index.html").read_text()
    site_rows = [c for c in _cells(tmp_path / "site") if c["table"] == PAPER[0]]
    models = list(dict.fromkeys(c["model"] for c in site_rows))
    i = models.index("RLHF-V")
    assert models[i + 1] == "RLHF-V (reproduced: ours/rlhfv)"
    repro = next(
        c
        for c in site_rows
        if c["model"] == models[i + 1] and c["column"] == "Object HalBench Resp."
    )
    assert repro["source"] == "reproduced" and float(repro["value"]) == pytest.approx(10 / 3)
    assert "Δ -8.9" in html  # 3.3 against the reported 12.2
    assert "reproduced" in html and 'class="legend"' in html


def test_csv_strings_are_inert(tmp_path, cache_root):
    write_record(tmp_path / "runs" / "r.json", '=HYPERLINK("http://x","y")', cache_root=cache_root)
    build_site(None, [tmp_path / "runs"], tmp_path / "site")
    models = {c["model"] for c in _cells(tmp_path / "site")}
    assert '\'=HYPERLINK("http://x","y")' in models and not any(m.startswith("=") for m in models)


def test_base_beside_its_trained_version(tmp_path, cache_root):
    runs = tmp_path / "runs"
    write_record(
        runs / "b.json",
        "org/base",
        cache_root=cache_root,
        fingerprint="o:b",
        CHAIRs_refine=0.5,
        full=True,
    )
    write_record(
        runs / "t.json",
        "org/base-ddpo",
        cache_root=cache_root,
        fingerprint="o:t",
        CHAIRs_refine=0.3,
        full=True,
        model_extra={},
        trained_from="org/base",
    )
    site = build_site(None, [runs], tmp_path / "site")
    (pair,) = [t for t in site.tables if t.kind == "pair"]
    assert pair.title == "org/base-ddpo against its base org/base"
    base, trained = pair.rows
    key = "object-halbench|extractor=synonym:CHAIRs_refine"
    assert base.cells[key].value == pytest.approx(50.0) and base.cells[key].change is None
    assert trained.cells[key].change == pytest.approx(-0.4)
    assert "-40% vs base" in site.index.read_text()
    rel = [c for c in _cells(tmp_path / "site") if c["relative_change"]]
    assert {c["model"] for c in rel} == {"org/base-ddpo"}


def test_pope_table_per_split_from_its_toml(tmp_path):
    from benchmarks.pope.score import pope_record

    qs = [{"question_id": i, "label": lab} for i, lab in enumerate(["yes", "no", "yes", "no"])]
    rec = pope_record(
        [
            ("random", qs, ["yes", "no", "no", "no"], "order"),
            ("adversarial", qs, ["yes"] * 4, "order"),
        ]
    )
    rec.model = {"backend": "openai", "model": "m", "fingerprint": "o:m", "limit": None}
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "pope.json").write_text(rec.to_json())
    site = build_site(None, [tmp_path / "runs"], tmp_path / "site")
    (table,) = [t for t in site.tables if t.kind == "benchmark"]
    assert table.title == "POPE (COCO) (mode: parity)"
    assert [c.label for c in table.columns][:3] == [
        "random F1",
        "random accuracy",
        "random yes-ratio",
    ]
    (row,) = table.rows
    assert row.cells["splits.random.accuracy"].value == pytest.approx(75.0)
    assert row.cells["splits.adversarial.yes_ratio"].value == pytest.approx(100.0)
    assert row.cells["splits.popular.f1"].value is None  # not run: "–", not 0
    assert "not ranked (no better direction)" in site.index.read_text()

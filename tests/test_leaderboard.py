"""The leaderboard site: reference rows, our runs with provenance, escaping, and a real browser."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmarks.object_halbench.score import ObjectHalbenchOptions, score_object_halbench
from halbench.cli import main
from halbench.leaderboard import add_records, build_site
from halbench.types import ResultRecord

from .conftest import CAPS_BOXES, CHROMIUM_FLAGS, DEMO_ANSWERS, chromium_and_playwright

ENTRIES = Path(__file__).resolve().parents[1] / "halbench" / "leaderboard" / "entries"
HOSTILE = '<script>alert("pwned")</script>'


class Cells(HTMLParser):
    """Rows of every table as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def runs(tmp_path):
    """Two complete LLM-extractor records of one hostile-named model (an older and a newer
    run; 300 items: the 30 answers ten times) with a hostile answer, and a newer partial
    synonym-path record of the 30 answers."""
    lines = [json.loads(x) for x in DEMO_ANSWERS.read_text().splitlines()]
    lines[0]["answer"] = "A dog <img src=x onerror=alert(1)> and a cat."
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "runs"
    for k in (1, 2):
        rec = score_object_halbench(
            answers, CAPS_BOXES, ObjectHalbenchOptions(cache_root=tmp_path / "c")
        )
        rec.model = {"backend": "openai", "model": HOSTILE, "fingerprint": "openai:x"}
        rec.provenance.created_at = f"2026-11-2{k}T10:00:00+00:00"
        rec.protocol["extractor"] = (
            "llm"  # the paper's protocol (the numbers are the synonym path's)
        )
        rec.items = rec.items * 10
        rec.n_items = rec.n_scored = 300
        (out / f"r{k}").mkdir(parents=True)
        (out / f"r{k}" / "result.json").write_text(rec.to_json())
        if k == 2:  # the 30 answers alone, newest: partial, never in the paper's columns
            rec.items, rec.n_items, rec.n_scored = rec.items[:30], 30, 30
            rec.protocol["extractor"] = "synonym"
            rec.model = {"backend": "openai", "model": "gpt-4 (30 answers)", "fingerprint": "o:30"}
            rec.provenance.created_at = "2026-11-29T10:00:00+00:00"
            (out / "r3").mkdir(parents=True)
            (out / "r3" / "result.json").write_text(rec.to_json())
    return out


def test_build_with_reference_entries_and_runs(tmp_path, runs):
    site = build_site(ENTRIES, [runs], tmp_path / "site")
    html = site.index.read_text()
    assert (
        "<script>alert" not in html
        and "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    )
    parser = Cells()
    parser.feed(html)
    main_table, ablations = parser.tables[0], parser.tables[1]
    rows = {r[0]: r for r in main_table[1:]}
    assert rows["RLHF-V"][:4] == ["RLHF-V", "reported", "12.2", "7.5"]
    assert rows["GPT-4V"][-1] == "77.2" and rows["LLaVA"][-1] == "–"
    assert len([r for r in main_table[1:] if r[1] == "reported"]) == 9
    assert len(ablations) == 1 + 5 and ablations[2][0].startswith("RLHF-V (full")
    ours = rows[HOSTILE]  # the latest run only, by default
    assert ours[1] == "our run" and ours[2].startswith(
        "6.7"
    )  # 20 of 300: the edited first answer adds a dog and a cat
    assert sum(1 for r in main_table[1:] if r[1] == "our run") == 1  # not the partial one
    assert "gpt-4 (30 answers)" not in {r[0] for t in parser.tables[:2] for r in t}
    synonym = next(t for t in site.tables if t.name == "object-halbench|extractor=synonym")
    (partial,) = synonym.rows
    assert (
        partial.model == "gpt-4 (30 answers)" and partial.cells["CHAIRs_refine"].badge == "30/300"
    )
    assert ">30/300</span>" in html
    pages = {p.name.split("-")[0]: p for p in site.model_pages}
    text = next(p for p in site.model_pages if "script" in p.name).read_text()
    assert len(pages) == 2
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    # the hallucinated object of item 97131 is highlighted
    assert '<mark title="hallucinated">driver</mark>' in text
    for record_copy in (tmp_path / "site" / "records").glob("*.json"):
        assert ResultRecord.load(record_copy).benchmark == "object-halbench"
    # plots: the paper's headline view and per-column bars, with the hostile name escaped
    plots = sorted(p.name for p in (tmp_path / "site" / "plots").glob("*.svg"))
    assert "hallucination-vs-helpfulness.svg" in plots and "bar-objhal_resp.svg" in plots
    svg = (tmp_path / "site" / "plots" / "bar-objhal_resp.svg").read_text()
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'src="plots/hallucination-vs-helpfulness.svg"' in html
    # provenance on hover: the cell's title names the protocol and the interval
    assert "95% bootstrap interval over items" in html and "extractor=llm" in html


def test_all_runs_and_add(tmp_path, runs):
    site = build_site(ENTRIES, [runs], tmp_path / "site", all_runs=True)
    assert sum(1 for r in site.tables[0].rows if r.kind == "our run") == 2
    assert sum(len(t.rows) for t in site.tables if t.kind == "benchmark") == 3
    entries = tmp_path / "entries"
    shutil.copytree(ENTRIES, entries)
    added = add_records([runs / "r1" / "result.json"], entries)
    assert added[0].parent == entries / "runs"
    assert (
        main(
            ["-q", "leaderboard", "build", "--entries", str(entries), "--out", str(tmp_path / "s2")]
        )
        == 0
    )
    assert "our run" in (tmp_path / "s2" / "index.html").read_text()


def test_bad_entry_file(tmp_path, capsys):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "bad.json").write_text(json.dumps({"schema": "x", "table": "main"}))
    assert (
        main(
            [
                "-q",
                "leaderboard",
                "build",
                "--entries",
                str(tmp_path / "e"),
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 1
    )
    assert "bad.json: not a leaderboard entry file" in capsys.readouterr().err


def _demo_replay(tmp_path: Path) -> Path:
    """A demo-benchmark replay run (its items have images: thumbnails on the model page)."""
    from halbench.run import RunConfig, run

    answers = tmp_path / "final" / "answers.jsonl"
    answers.parent.mkdir()
    texts = ["A stop sign and a car.", "A ball.", "A clock.", "A traffic light.", "A cup.", "A tv."]
    answers.write_text(
        "".join(
            json.dumps({"item_id": f"demo-{i + 1}", "text": t}) + "\n" for i, t in enumerate(texts)
        )
    )
    run(RunConfig(model=f"replay:{answers}", benchmarks=["demo"], out=tmp_path / "demo-run"))
    return tmp_path / "demo-run"


def test_in_a_real_browser(tmp_path, runs):
    chromium, sync = chromium_and_playwright()
    site = build_site(ENTRIES, [runs, _demo_replay(tmp_path)], tmp_path / "site")
    dialogs, errors = [], []
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site.index.as_uri())
        first = lambda: page.locator("#table-main tbody tr").first.locator("td").first.inner_text()  # noqa: E731
        assert first() == "LLaVA"
        page.locator(
            "#table-main th", has_text="Object HalBench Resp."
        ).click()  # ascending: lowest rate first
        assert first() == HOSTILE  # 6.7 from our run; shown as text
        page.locator("#table-main th", has_text="Object HalBench Resp.").click()
        assert first() == "LLaVA"  # 63.0, the highest
        page.fill("#filter", "rlhf")
        visible = page.locator("#table-main tbody tr:not(.hidden) td.model").all_inner_texts()
        assert visible == ["LLaVA-RLHF", "RLHF-V"]
        page.fill("#filter", "")
        page.locator("#table-main td.our-run").first.click()
        assert "source: our run" in page.locator("#details-text").inner_text()
        # tabs: one per table; the partial run lives in its benchmark's tab, badged
        assert page.locator("#table-object-halbench--extractor-synonym").is_hidden()
        page.locator(".tabs a", has_text="Object HalBench (extractor: synonym)").click()
        assert page.locator("#table-main").is_hidden()
        badge = page.locator("#table-object-halbench--extractor-synonym .badge").first
        assert badge.is_visible() and badge.inner_text() == "30/300"
        page.locator(".tabs a", has_text="halbench demo").click()
        assert page.locator("#table-demo--extractor-synonym td.model").all_inner_texts() == [
            "final"
        ]
        page.locator(".tabs a", has_text="RLHF-V paper, Table 1").click()
        # the model column stays put while the table scrolls
        box = page.locator("#table-main td.model").first.bounding_box()
        page.locator("#table-main").evaluate("t => t.parentNode.scrollLeft = 400")
        assert page.locator("#table-main td.model").first.bounding_box()["x"] == box["x"]
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
        csv_href = page.locator("#csv-link").get_attribute("href")
        assert (site.index.parent / csv_href).read_text().startswith("table,model,source,column")
        demo_page = next(p for p in site.model_pages if p.name.startswith("final-"))
        page.goto(demo_page.as_uri())
        thumbs = page.locator("img.thumb")
        assert thumbs.count() == 6
        assert thumbs.first.evaluate("i => i.complete && i.naturalWidth > 0")
        assert page.locator("mark", has_text="car").count() == 1  # no car in the stop-sign image
        page.locator("input.only-hall").check()
        assert page.locator("table.items tbody tr:not(.hidden)").count() == 1
        page.locator("a", has_text="record (JSON)").click()
        assert '"benchmark": "demo"' in page.content()
        page.goto((tmp_path / "site" / page_path(site)).as_uri())
        assert page.locator("mark", has_text="driver").count() >= 1
        browser.close()
    assert dialogs == []  # no injected script ran
    assert errors == []
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000


def page_path(site) -> str:
    (page,) = [p for p in site.model_pages if "script" in p.name]
    return str(page.relative_to(site.index.parent))

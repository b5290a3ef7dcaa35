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

ENTRIES = Path(__file__).resolve().parents[1] / "leaderboard" / "entries"
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
    """Two records of one hostile-named model (an older and a newer run) and a hostile answer."""
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
        (out / f"r{k}").mkdir(parents=True)
        (out / f"r{k}" / "result.json").write_text(rec.to_json())
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
    )  # 2 of 30: the edited first answer adds a dog and a cat
    assert sum(1 for r in main_table[1:] if r[1] == "our run") == 1
    (page,) = site.model_pages
    text = page.read_text()
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<mark>driver</mark>" in text  # the hallucinated object of item 97131 is highlighted
    record_copy = next((tmp_path / "site" / "records").glob("*.json"))
    assert ResultRecord.load(record_copy).benchmark == "object-halbench"
    # plots: the paper's headline view and per-column bars, with the hostile name escaped
    plots = sorted(p.name for p in (tmp_path / "site" / "plots").glob("*.svg"))
    assert "hallucination-vs-helpfulness.svg" in plots and "bar-objhal_resp.svg" in plots
    svg = (tmp_path / "site" / "plots" / "bar-objhal_resp.svg").read_text()
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'src="plots/hallucination-vs-helpfulness.svg"' in html
    # provenance on hover: the cell's title names the protocol and the interval
    assert "95% bootstrap interval over items" in html and "extractor=synonym" in html


def test_all_runs_and_add(tmp_path, runs):
    site = build_site(ENTRIES, [runs], tmp_path / "site", all_runs=True)
    assert sum(1 for r in site.tables[0].rows if r.kind == "our run") == 2
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


def test_in_a_real_browser(tmp_path, runs):
    chromium, sync = chromium_and_playwright()
    site = build_site(ENTRIES, [runs], tmp_path / "site")
    dialogs = []
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
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
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
        page.goto((tmp_path / "site" / page_path(site)).as_uri())
        assert page.locator("mark", has_text="driver").count() >= 1
        browser.close()
    assert dialogs == []  # no injected script ran
    assert (tmp_path / "leaderboard.png").stat().st_size > 10_000


def page_path(site) -> str:
    (page,) = site.model_pages
    return str(page.relative_to(site.index.parent))

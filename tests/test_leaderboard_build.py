"""``leaderboard build``: numbers outside their interval, a failed build, look-alike model names."""

from __future__ import annotations

import json

import pytest

from halbench.cli import main
from halbench.errors import InputError
from halbench.leaderboard import build_site
from halbench.leaderboard.data import Cell, error_bar, outside_interval
from halbench.types import ResultRecord

from .leaderboard_helpers import ENTRIES, write_record

#: a complete run with the paper's protocol: it fills the paper's Object HalBench columns
LLM = {"full": True, "protocol": {"extractor": "llm"}}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("coco-cache")


def test_error_bars_never_negative():
    inside = Cell(5.0, {}, (3.0, 10.0))
    assert error_bar(inside) == (2.0, 5.0) and not outside_interval(inside)
    above, below = Cell(90.0, {}, (3.0, 10.0)), Cell(1.0, {}, (3.0, 10.0))
    assert error_bar(above) == (87.0, 0.0) and outside_interval(above)
    assert error_bar(below) == (0.0, 9.0) and outside_interval(below)
    assert error_bar(Cell(5.0, {})) == (0.0, 0.0) and error_bar(Cell(None, {}, (1, 2))) == (0, 0)


def test_value_outside_its_interval(tmp_path, cache_root):
    # the items give CHAIRs about 3%; a record whose metric says 90% (edited, or computed
    # differently from what the bootstrap resamples) crashed matplotlib (negative xerr)
    runs = tmp_path / "runs"
    write_record(
        runs / "a" / "result.json", "org/odd", cache_root=cache_root, CHAIRs_refine=0.9, **LLM
    )
    site = build_site(ENTRIES, [runs], tmp_path / "site")
    (row,) = [r for r in site.tables[0].rows if r.model == "org/odd"]
    cell = row.cells["objhal_resp"]
    assert cell.value == pytest.approx(90.0) and cell.ci[1] < 90.0
    html = site.index.read_text()
    assert "outside its bootstrap interval" in html and 'class="outside-ci"' in html
    assert (tmp_path / "site" / "plots" / "bar-objhal_resp.svg").stat().st_size > 1000
    assert "error bar clipped: the number lies outside its bootstrap interval for org/odd" in html


def test_failed_build_keeps_the_old_site(tmp_path, cache_root, monkeypatch):
    runs, out = tmp_path / "runs", tmp_path / "site"
    write_record(runs / "a" / "result.json", "org/first", cache_root=cache_root, **LLM)
    build_site(ENTRIES, [runs], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    write_record(runs / "b" / "result.json", "org/second", cache_root=cache_root, **LLM)

    def boom(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr("halbench.leaderboard.plots.make_plots", boom)
    with pytest.raises(RuntimeError, match="plotting failed"):
        build_site(ENTRIES, [runs], out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the old site, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "site"]  # no leftovers
    monkeypatch.undo()
    site = build_site(ENTRIES, [runs], out)  # the next build is not refused
    assert "org/second" in site.index.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "site"]
    # a stale page of the old site does not survive a rebuild: the site is replaced whole
    assert {p.name for p in (out / "models").iterdir()} == {p.name for p in site.model_pages}


def test_out_that_cannot_be_a_site(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        build_site(ENTRIES, [], tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    argv = [
        "-q",
        "leaderboard",
        "build",
        "--entries",
        str(ENTRIES),
        "--out",
        str(tmp_path / "other"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is not a halbench leaderboard site" in err and "Traceback" not in err
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_model_names_that_slug_alike_get_their_own_pages(tmp_path, cache_root):
    runs = tmp_path / "runs"
    names = ["org/model v1", "org/model:v1"]  # both slug to org-model-v1
    for k, name in enumerate(names):
        write_record(runs / f"r{k}" / "result.json", name, cache_root=cache_root)
    site = build_site(ENTRIES, [runs], tmp_path / "site")
    (table,) = [t for t in site.tables if t.name == "object-halbench|extractor=synonym"]
    rows = {r.model: r for r in table.rows}
    assert sorted(rows) == names
    assert rows[names[0]].page != rows[names[1]].page and len(site.model_pages) == 2
    for name, row in rows.items():
        page = (tmp_path / "site" / row.page).read_text()
        assert f"<h1>{name}</h1>" in page
        (cell,) = {c.provenance["record"] for c in row.cells.values()}
        record = ResultRecord.load(tmp_path / "site" / cell)
        assert record.model["model"] == name
    assert len(list((tmp_path / "site" / "records").iterdir())) == 2
    links = json.dumps([r.page for r in rows.values()])
    assert "models/org-model-v1-" in links

"""A real browser (Playwright + the system Chromium) drives the annotation app.

Opens an annotator link, double-clicks a word of the answer, picks its type with the
keyboard, types a correction, saves with Enter, reloads and finds it saved; marks the
next answer free of hallucination with F; the report counts both. Screenshots go to
tmp_path and, when HALBENCH_SCREENSHOTS is set, are copied there.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.annotate_helpers import make_run
from tests.conftest import CHROMIUM_FLAGS, chromium_and_playwright

pytest.importorskip("flask")

from halbench.annotate.app import serve  # noqa: E402
from halbench.annotate.load import load_run  # noqa: E402
from halbench.annotate.report import build_report  # noqa: E402
from halbench.annotate.store import AnnotationStore  # noqa: E402


def _shots(tmp_path: Path, names: list[str]) -> None:
    target = os.environ.get("HALBENCH_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(tmp_path / name, Path(target) / name)


def test_annotate_in_a_real_browser(tmp_path):
    chromium, sync = chromium_and_playwright()
    db = load_run(make_run(tmp_path)).db
    store = AnnotationStore(db)
    token = store.add_annotator("alice")
    light = {"start": 2, "end": 15, "text": "traffic light", "type": "object", "correction": "lamp"}
    store.add_judge_labels(4, "fake-judge", [light], None, "[...]")
    store.close()
    server = serve(db, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.port}"
    dialogs: list[str] = []
    try:
        with sync.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1300, "height": 820})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{base}/login/{token}")
            page.click("#signin")
            page.wait_for_url(f"{base}/item/1")
            assert page.url == f"{base}/item/1"
            assert page.locator("#progress").inner_text() == "0 / 6 done"
            assert page.locator("#image").evaluate("img => img.naturalWidth") > 0
            # double-click the word "car" in the answer: a real selection
            box = page.evaluate(
                """() => {
                  const node = document.getElementById('answer').firstChild;
                  const i = node.textContent.indexOf('car');
                  const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 3);
                  const b = r.getBoundingClientRect(); return {x: b.x + b.width / 2, y: b.y + b.height / 2};
                }"""
            )
            page.mouse.dblclick(box["x"], box["y"])
            page.wait_for_selector("#panel:not([hidden])")
            assert page.locator("#selected").inner_text() == "car"
            page.keyboard.press("3")  # number ...
            page.keyboard.press("1")  # ... no: object
            assert page.locator('input[name="type"]:checked').get_attribute("value") == "object"
            page.fill("#correction", "tree")
            page.screenshot(path=str(tmp_path / "annotate-select.png"), full_page=True)
            page.press("#correction", "Enter")
            page.wait_for_selector("#spans li")
            assert page.locator("#message").inner_text() == "saved: object span"
            assert page.locator("#progress").inner_text() == "1 / 6 done"
            page.screenshot(path=str(tmp_path / "annotate-item.png"), full_page=True)
            page.reload()
            assert page.locator("#answer mark.type-object").inner_text() == "car"
            assert page.locator("#spans li").inner_text().startswith("object")
            assert "→ tree" in page.locator("#spans li").inner_text()
            assert page.locator("#status").inner_text() == "hallucinated"
            page.keyboard.press("n")
            page.wait_for_url(f"{base}/item/2")
            page.keyboard.press("f")
            page.wait_for_function("document.getElementById('status').textContent.includes('free')")
            assert page.locator("#progress").inner_text() == "2 / 6 done"
            page.keyboard.press("ArrowLeft")
            page.wait_for_url(f"{base}/item/1")
            page.goto(f"{base}/item/3")  # the hostile answer is text, not markup
            assert "<script>alert(1)</script>" in page.locator("#answer").inner_text()
            page.goto(f"{base}/item/4")  # a judge's proposal: accepted by a click
            assert "traffic light" in page.locator("#proposals li").inner_text()
            assert page.locator("#spans li").count() == 0
            page.locator("#proposals button.accept").click()
            page.wait_for_selector("#spans li")
            assert page.locator("#proposals li em").inner_text() == "accepted"
            assert page.locator("#answer mark").inner_text() == "traffic light"
            page.screenshot(path=str(tmp_path / "annotate-proposal.png"), full_page=True)
            page.goto(f"{base}/items")
            page.screenshot(path=str(tmp_path / "annotate-items.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert dialogs == []
    record = build_report(db)
    assert (
        record.n_scored,
        record.metrics["counts"]["all"],
        record.metrics["counts"]["object"],
    ) == (3, 2, 2)  # demo-1 and demo-4 (accepted proposal) hallucinated, demo-2 clean
    assert record.metrics["judges"]["fake-judge"]["decisions"] == {"accepted": 1, "rejected": 0}
    item = next(it for it in record.items if it["item_id"] == "demo-1")
    assert item["judgements"]["alice"]["spans"][0]["correction"] == "tree"
    assert (tmp_path / "annotate-item.png").stat().st_size > 10_000
    _shots(
        tmp_path,
        ["annotate-select.png", "annotate-item.png", "annotate-proposal.png", "annotate-items.png"],
    )

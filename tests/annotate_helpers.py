"""Helpers for the annotation tests: a run directory over the shipped demo benchmark."""

from __future__ import annotations

import json
from pathlib import Path

from halbench.registry import get_benchmark

#: answers to the demo benchmark's six items (one hostile, one with a non-BMP character)
ANSWERS = {
    "demo-1": "A red stop sign on a gray pole next to a car.",
    "demo-2": "A white soccer ball on green grass.",
    "demo-3": "Two round clocks <script>alert(1)</script> on a wall.",
    "demo-4": "A traffic light with red, yellow and green lights.",
    "demo-5": "A blue cup 🍵 and a yellow bowl on a table with a cat.",
    "demo-6": "A television with a blue screen on a stand.",
}


def make_run(root: Path, answers: dict[str, str] | None = None) -> Path:
    """RUN_DIR/demo/answers.jsonl (+ result.json with a model), as ``halbench run`` writes."""
    answers = ANSWERS if answers is None else answers
    items = {it.id: it for it in get_benchmark("demo").load_items()}
    run = root / "run"
    (run / "demo").mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "item_id": i,
                "image_id": items[i].image_id,
                "question": items[i].question,
                "answer": a,
            },
            ensure_ascii=False,
        )
        for i, a in answers.items()
    ]
    (run / "demo" / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run / "demo" / "result.json").write_text(
        json.dumps(
            {"benchmark_version": "1", "model": {"backend": "replay", "model": "test-model"}}
        )
    )
    return run

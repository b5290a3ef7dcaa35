"""``halbench demo``: the whole pipeline on bundled data, with no downloads.

1. Score GPT-4's LLaVA-Bench detailed descriptions of 30 COCO images (bundled) against
   the bundled ground truth of 80 COCO images (Object HalBench).
2. Build a tiny LLaVA-style checkpoint offline, train it for about a second to describe
   the demo benchmark's six drawn images (two of its training captions mention an object
   that is not in the picture, so the scores have something to find), then
   ``halbench run --model <it> --benchmarks demo``;
3. build the leaderboard page with the paper's reference entries and these two runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from halbench.registry import get_benchmark
from halbench.run import BenchmarkOutcome, RunConfig, run
from halbench.types import ResultRecord

#: Bump when the demo model's recipe changes (a stale model directory is rebuilt).
DEMO_MODEL_VERSION = "1"
#: Captions the demo model learns; two mention objects that are not in the image.
DEMO_CAPTIONS = {
    1: "A red stop sign on a gray pole next to a car.",  # no car in the picture
    2: "A white soccer ball on green grass.",
    3: "A round white clock on a beige wall.",
    4: "A traffic light with red, yellow and green lights.",
    5: "A blue cup and a yellow bowl on a wooden table with a cat.",  # no cat either
    6: "A television with a blue screen on a stand.",
}


@dataclass
class DemoResult:
    gpt4_record: ResultRecord
    gpt4_table: str
    gpt4_record_path: Path
    model_dir: Path
    run: list[BenchmarkOutcome]
    leaderboard: Path | None = None


def demo_model(directory: Path) -> Path:
    """Build (or reuse) the fitted tiny demo checkpoint in ``directory``."""
    from halbench.testing.tiny import build_tiny_llava, fit

    marker = directory / "halbench_demo_model.json"
    if marker.exists() and json.loads(marker.read_text()).get("version") == DEMO_MODEL_VERSION:
        return directory
    import transformers

    transformers.utils.logging.disable_progress_bar()  # instant here; the bars would only be noise
    bench = get_benchmark("demo")
    items = bench.load_items()
    examples = [(it.image, it.question, DEMO_CAPTIONS[it.image_id]) for it in items]
    build_tiny_llava(
        directory,
        extra_text=[*DEMO_CAPTIONS.values(), *(it.question for it in items)],
        max_new_tokens=48,
    )
    info = fit(directory, examples, steps=150)
    marker.write_text(json.dumps({"version": DEMO_MODEL_VERSION, "fit": info}, indent=1))
    return directory


def run_demo(
    out: Path, command: list[str] | None = None, entries_dir: str | Path | None = None
) -> DemoResult:
    from benchmarks.object_halbench.score import format_table, score_object_halbench
    from halbench.io import atomic_write_text

    answers = Path(__file__).resolve().parent / "data" / "gpt4_llava_bench_detail.jsonl"
    gt = get_benchmark("llava-bench-coco").folder / "data" / "caps_boxes_coco2014_val_80.jsonl"
    record = score_object_halbench(answers, gt, command=command)
    record_path = out / "gpt4-llava-bench" / "object-halbench.json"
    atomic_write_text(record_path, record.to_json())
    model_dir = demo_model(out / "tiny-llava")
    outcomes = run(
        RunConfig(
            model=str(model_dir), benchmarks=["demo"], out=out / "tiny-llava-run", command=command
        )
    )
    from halbench.leaderboard import build_site  # the papers' tables ship with halbench

    index = build_site(
        entries_dir, [out / "tiny-llava-run", out / "gpt4-llava-bench"], out / "leaderboard"
    ).index
    return DemoResult(record, format_table(record), record_path, model_dir, outcomes, index)

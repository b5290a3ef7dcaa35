"""`halbench run` overhead against a bare generate loop, and batch 8 vs batch 1 throughput.

All on the tiny offline LLaVA (random weights, so every answer runs to --max-new-tokens),
hf backend, CPU, 64 items over the demo images, in one process:

- bare:    AutoProcessor + AutoModelForImageTextToText, chat template, model.generate
           on batches of the same items, answers decoded (model loaded beforehand);
- harness: halbench.run.run() on the same items and settings, fresh output directory:
           model load + generation + answer store + answers.jsonl + scoring + record.
           Its own timings split that into load / generate (runner + store) / score.

Usage: python perf/bench_run.py [--items 64] [--max-new-tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_items(folder: Path, n: int) -> Path:
    from halbench.registry import get_benchmark

    demo = get_benchmark("demo")
    shutil.copytree(demo.folder / "images", folder / "images")
    shutil.copy(demo.folder / "ground_truth.jsonl", folder / "ground_truth.jsonl")
    base = demo.load_items()
    questions = [
        "Describe the image.",
        "What is in this picture? Please answer in detail.",
        "List every object you can see in the image.",
    ]
    lines = [
        json.dumps(
            {
                "id": f"i{k:03d}",
                "image": f"images/{base[k % 6].image.name}",
                "image_id": base[k % 6].image_id,
                "question": questions[k % 3],
            }
        )
        for k in range(n)
    ]
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "benchmark.toml").write_text(
        'name = "perf"\nversion = "1"\ntitle = "perf"\nscorer = "object-halbench"\n[data]\nkind = "shipped"\n'
        '[scorer_options]\nground_truth = "ground_truth.jsonl"\n'
    )
    return folder


def bare_loop(
    model_dir: Path, folder: Path, batch: int, max_new_tokens: int
) -> tuple[float, list[str]]:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from halbench.registry import get_benchmark

    items = get_benchmark(str(folder)).load_items()
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    t = time.perf_counter()
    answers = []
    for i in range(0, len(items), batch):
        part = items[i : i + batch]
        images = [Image.open(it.image).convert("RGB") for it in part]
        texts = [
            processor.apply_chat_template(
                [
                    {
                        "role": "user",
                        "content": [{"type": "image"}, {"type": "text", "text": it.question}],
                    }
                ],
                add_generation_prompt=True,
                tokenize=False,
            )
            for it in part
        ]
        inputs = processor(images=images, text=texts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(
                **inputs, do_sample=False, max_new_tokens=max_new_tokens, num_beams=1
            )
        answers += [
            a.strip()
            for a in processor.batch_decode(
                out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
            )
        ]
    return time.perf_counter() - t, answers


def harness(
    model_dir: Path, folder: Path, batch: int, max_new_tokens: int, out: Path
) -> tuple[float, dict, list[str]]:
    from halbench.run import RunConfig, run

    t = time.perf_counter()
    (o,) = run(
        RunConfig(
            model=str(model_dir),
            benchmarks=[str(folder)],
            out=out,
            batch_size=batch,
            max_new_tokens=max_new_tokens,
        )
    )
    total = time.perf_counter() - t
    answers = [json.loads(x)["answer"] for x in o.answers_path.read_text().splitlines()]
    return total, o.record.provenance.details["run"]["timings_s"], answers


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from halbench.nlp.pipeline import NltkPipeline
    from halbench.testing.tiny import build_tiny_llava

    work = Path(tempfile.mkdtemp(prefix="halbench-perf-run-"))
    try:
        model_dir = build_tiny_llava(work / "tiny")
        folder = make_items(work / "perf", args.items)
        NltkPipeline().lemmatize(
            "dogs"
        )  # load WordNet once, as any scoring process does on first use
        print(
            f"tiny LLaVA, CPU ({torch.get_num_threads()} threads), {args.items} items, "
            f"{args.max_new_tokens} new tokens each, median of {args.repeats}"
        )
        results = {}
        for batch in (8, 1):
            bare_t, harn_t, gen_t, score_t, load_t = [], [], [], [], []
            for r in range(args.repeats):
                bt, bare_answers = bare_loop(model_dir, folder, batch, args.max_new_tokens)
                ht, timings, harness_answers = harness(
                    model_dir, folder, batch, args.max_new_tokens, work / f"out-{batch}-{r}"
                )
                assert bare_answers == harness_answers, (
                    "the harness must give the bare loop's answers"
                )
                bare_t.append(bt)
                harn_t.append(ht)
                gen_t.append(timings["generate"])
                score_t.append(timings["score"])
                load_t.append(timings["model_load"])
            b, h, g = statistics.median(bare_t), statistics.median(harn_t), statistics.median(gen_t)
            results[batch] = b
            print(
                f"batch {batch}: bare loop {b:6.2f} s ({args.items / b:5.1f} items/s) | "
                f"halbench run {h:6.2f} s = load {statistics.median(load_t):.2f} + generate+store {g:.2f} "
                f"+ score {statistics.median(score_t):.2f} + rest | generate+store / bare = {g / b:.3f}, "
                f"whole run / bare = {h / b:.3f}"
            )
        print(
            f"throughput batch 8 vs batch 1 (bare loop): {results[1] / results[8]:.2f}x; answers identical to the bare loop: yes"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

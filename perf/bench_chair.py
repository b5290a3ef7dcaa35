"""Classic CHAIR speed: our scorer vs the literal reference procedure, same process, same run.

Answers: POPE's 20,000 real model captions (tests/data/pope_captions.jsonl.gz), assigned
at random (seeded) to the 80 bundled COCO val2014 images, whose captions and boxes are
written as a train2014 + val2014 COCO folder. Timed:
  - oracle:        benchmarks/chair/oracle.py (LisaAnne's CHAIR: plain nltk.word_tokenize,
                   singularize on every token, a set of all synonym entries per token),
                   get_annotations + compute_chair;
  - chair (cold):  load_ground_truth (no cache) + score_answers with empty memos;
  - chair (warm):  score_answers again (memos filled).
Wall and CPU time are both printed (the machine may be shared). Outputs are checked identical (every item and the overall metrics) before any number is
printed. (The original code with the real Pattern library took 52 s for 20,000 captions on
this machine kind.)

Whole process (same run, each a fresh Python process, the answers in an OPERA-style JSONL
file): the oracle as a script (imports, ground truth, scoring) against `halbench score chair`
with the ground truth rebuilt (--no-cache) and with its cache warm.

Usage: python perf/bench_chair.py [--answers 20000] [--seed 0] [--skip-whole]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chair.metrics import ChairVocabulary, default_synonyms_text  # noqa: E402
from benchmarks.chair.oracle import CHAIR  # noqa: E402
from benchmarks.chair.score import load_ground_truth, make_extractor, score_answers  # noqa: E402
from halbench.answers import Answer  # noqa: E402
from halbench.nlp.pipeline import NltkPipeline  # noqa: E402

CAPS_BOXES = ROOT / "benchmarks" / "llava-bench-coco" / "data" / "caps_boxes_coco2014_val_80.jsonl"


def write_coco(directory: Path) -> list[int]:
    """The 80 bundled images as COCO 2014 files, alternately in train and val."""
    rows = [json.loads(line) for line in CAPS_BOXES.read_text().splitlines()]
    classes = ChairVocabulary.default().classes
    cats = [{"id": 100 + k, "name": c} for k, c in enumerate(classes)]
    cat_id = {c["name"]: c["id"] for c in cats}
    for s, split in enumerate(("train", "val")):
        recs = rows[s::2]
        images = [{"id": int(r["id"])} for r in recs]
        inst = [
            {"id": k, "image_id": int(r["id"]), "category_id": cat_id[i["category"]]}
            for k, (r, i) in enumerate((r, i) for r in recs for i in r["instances"])
        ]
        caps = [
            {"id": k, "image_id": int(r["id"]), "caption": c}
            for k, (r, c) in enumerate((r, c) for r in recs for c in r["captions"])
        ]
        base = {"info": {}, "licenses": [], "images": images}
        (directory / f"instances_{split}2014.json").write_text(
            json.dumps({**base, "categories": cats, "annotations": inst})
        )
        (directory / f"captions_{split}2014.json").write_text(
            json.dumps({**base, "annotations": caps})
        )
    return sorted(int(r["id"]) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--answers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-whole", action="store_true", help="skip the whole-process timings")
    args = ap.parse_args()
    with gzip.open(ROOT / "tests" / "data" / "pope_captions.jsonl.gz", "rt") as f:
        texts = [json.loads(line)["text"] for line in f][: args.answers]
    work = Path(tempfile.mkdtemp(prefix="halbench-perf-chair-"))
    try:
        ids = write_coco(work)
        rnd = random.Random(args.seed)
        caps = [{"image_id": rnd.choice(ids), "caption": t} for t in texts]
        answers = [Answer(c["image_id"], c["caption"], None, c) for c in caps]
        NltkPipeline().tokenize("Warm up: NLTK and Punkt loaded before timing.")

        t, c = time.perf_counter(), time.process_time()
        oracle = CHAIR({c["image_id"] for c in caps}, str(work), default_synonyms_text())
        oracle.get_annotations()
        out = oracle.compute_chair(caps)
        t_oracle, c_oracle = time.perf_counter() - t, time.process_time() - c

        t, c = time.perf_counter(), time.process_time()
        extractor = make_extractor(NltkPipeline())
        gt = load_ground_truth(work, extractor, use_cache=False)
        cold = score_answers(answers, gt, extractor)
        t_cold, c_cold = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        warm = score_answers(answers, gt, extractor)
        t_warm, c_warm = time.perf_counter() - t, time.process_time() - c

        for item, sent in zip(cold.items, out["sentences"], strict=True):
            pairs = [
                list(p)
                for p in zip(sent["mscoco_words"], sent["mscoco_generated_words"], strict=True)
            ]
            assert item["mentions"] == pairs
            assert item["hallucinated"] == [list(p) for p in sent["mscoco_hallucinated_words"]]
            assert item["n_words"] == len(sent["words"])
        om = out["overall_metrics"]
        assert (cold.metrics["CHAIRs"], cold.metrics["CHAIRi"], cold.metrics["recall"]) == (
            om["CHAIRs"],
            om["CHAIRi"],
            om["Recall"],
        )
        assert warm.items == cold.items
        whole = None if args.skip_whole else whole_process(work, caps, cold.metrics)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(caps)
    words = sum(len(c["caption"].split()) for c in caps)
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(f"{n} real captions ({words / n:.1f} words each) on 80 images; outputs identical: yes")
    print(f"CHAIRs {100 * cold.metrics['CHAIRs']:.1f}  CHAIRi {100 * cold.metrics['CHAIRi']:.1f}")
    print("  (wall = elapsed; cpu = this process's CPU time, steadier on a shared machine)")
    rows = (
        ("oracle", t_oracle, c_oracle),
        ("chair cold", t_cold, c_cold),
        ("chair warm", t_warm, c_warm),
    )
    for name, secs, cpu in rows:
        print(
            f"  {name:<11} wall {secs:7.2f} s ({t_oracle / secs:5.1f}x)   "
            f"cpu {cpu:7.2f} s ({c_oracle / cpu:5.1f}x vs oracle)   {n / secs:6.0f} captions/s"
        )

    if whole:
        base = whole[0][1]
        print("  whole process (fresh python, imports and ground truth included):")
        for name, secs in whole:
            print(f"  {name:<22} wall {secs:7.2f} s ({base / secs:5.1f}x vs oracle)")


ORACLE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[3])
from benchmarks.chair.metrics import default_synonyms_text
from benchmarks.chair.oracle import CHAIR
from halbench.nlp.pipeline import NltkPipeline
NltkPipeline()  # only to point NLTK at halbench's data folder, as an installed NLTK would be
caps = [json.loads(line) for line in open(sys.argv[1])]
ev = CHAIR({c["image_id"] for c in caps}, sys.argv[2], default_synonyms_text())
ev.get_annotations()
print(json.dumps(ev.compute_chair(caps)["overall_metrics"]))
"""


def whole_process(work: Path, caps: list[dict], metrics: dict) -> list[tuple[str, float]]:
    """Each contender as its own process; the metrics checked equal to the in-process ones."""
    import subprocess

    answers = work / "captions.jsonl"
    answers.write_text("".join(json.dumps(c) + "\n" for c in caps))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    score = [
        sys.executable,
        "-m",
        "halbench",
        "-q",
        "score",
        "chair",
        "--answers",
        str(answers),
        "--coco-annotations",
        str(work),
        "--output",
        str(work / "out.json"),
    ]
    runs = [
        (
            "oracle script",
            [sys.executable, "-c", ORACLE_SCRIPT, str(answers), str(work), str(ROOT)],
        ),
        ("halbench, no GT cache", [*score, "--no-cache"]),
        ("halbench, GT cache warm", score),
    ]
    subprocess.run(score, env=env, check=True, capture_output=True)  # fills the GT cache
    out = []
    for name, cmd in runs:
        t = time.perf_counter()
        done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        out.append((name, time.perf_counter() - t))
        if name == "oracle script":
            assert json.loads(done.stdout.splitlines()[-1])["CHAIRs"] == metrics["CHAIRs"]
        else:
            assert json.loads((work / "out.json").read_text())["metrics"] == metrics
    return out


if __name__ == "__main__":
    main()

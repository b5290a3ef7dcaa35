"""Object HalBench speed, measured against baselines in the same run.

(a) Scoring throughput on distinct real answers (POPE's model captions, assigned to the
    80 bundled COCO images) for:
      - reference: what RLHF-V does per answer (nltk.word_tokenize, WordNetLemmatizer on
        every token, the synonym checks with a set of ~430 forms built per token, twice);
      - fair:      the same with the set built once;
      - halbench:  our extractor, cold (empty memo) and warm (same answers again).
    All outputs are checked identical before any number is printed.
(b) Ground-truth build on a synthetic COCO-scale annotation set (default 120k images,
    600k captions, ~860k instances): cold build and warm (cached) load.

Usage: python perf/bench_object_halbench.py [--answers 5000] [--skip-gt] [--images N --captions N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.object_halbench.metrics import score_chair  # noqa: E402
from benchmarks.object_halbench.objects import ObjectExtractor, SynonymVocabulary  # noqa: E402
from benchmarks.object_halbench.oracle import ReferenceChair  # noqa: E402
from halbench.coco import load_ground_truth  # noqa: E402
from halbench.nlp.pipeline import NltkPipeline  # noqa: E402

BENCHMARKS = ROOT / "benchmarks"
CAPS_BOXES = BENCHMARKS / "llava-bench-coco" / "data" / "caps_boxes_coco2014_val_80.jsonl"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_scoring(n: int, seed: int) -> None:
    with gzip.open(ROOT / "tests" / "data" / "pope_captions.jsonl.gz", "rt") as f:
        texts = list(dict.fromkeys(json.loads(line)["text"] for line in f))
    if n > len(texts):
        raise SystemExit(f"only {len(texts)} distinct answers available")
    rnd = random.Random(seed)
    texts = rnd.sample(texts, n)
    syn = (BENCHMARKS / "object-halbench" / "data" / "synonyms_refine.txt").read_text()
    nlp = NltkPipeline()
    extractor = ObjectExtractor(SynonymVocabulary.default(), nlp)
    gt = load_ground_truth(CAPS_BOXES, extractor, use_cache=False)  # also loads WordNet
    ids = sorted(gt.objects)
    answers = [(rnd.choice(ids), t.replace("Assistant:", "").strip()) for t in texts]
    caps = [{"image_id": i, "caption": a} for i, a in answers]
    ref_gt = {k: set(v) for k, v in gt.objects.items()}

    timings = {}
    t = time.perf_counter()
    ref_out = ReferenceChair(syn).compute_chair(caps, ref_gt)
    timings["reference"] = time.perf_counter() - t
    t = time.perf_counter()
    fair_out = ReferenceChair(syn, set_per_token=False).compute_chair(caps, ref_gt)
    timings["fair"] = time.perf_counter() - t

    fresh = ObjectExtractor(
        SynonymVocabulary.default(), NltkPipeline()
    )  # empty memos; WordNet is loaded
    t = time.perf_counter()
    cold = score_chair(answers, gt.objects, fresh.mentions)
    timings["halbench_cold"] = time.perf_counter() - t
    t = time.perf_counter()
    warm = score_chair(answers, gt.objects, fresh.mentions)
    timings["halbench_warm"] = time.perf_counter() - t

    for name, out in (("reference", ref_out), ("fair", fair_out)):
        for item, sent in zip(cold.items, out["sentences"], strict=True):
            assert [list(m) for m in item.mentions] == sent["mscoco_generated_words"], (name, item)
            assert [list(m) for m in item.hallucinated] == sent["mscoco_hallucinated_words"], (
                name,
                item,
            )
        om = out["overall_metrics"]
        assert (om["CHAIRs"], om["CHAIRs_refine"], om["CHAIRi"], om["obj_rec"]) == (
            cold.metrics["CHAIRs"],
            cold.metrics["CHAIRs_refine"],
            cold.metrics["CHAIRi"],
            cold.metrics["coverage"],
        )
    assert warm.items == cold.items

    words = sum(len(a.split()) for _, a in answers)
    print(
        f"(a) scoring {n} distinct real answers ({words / n:.1f} words each), outputs identical: yes"
    )
    print(
        f"    tokenizer mode: {nlp.tokenizer.mode}; NLTK {nlp.info.nltk_version}; punkt: {nlp.info.punkt_source}"
    )
    base = timings["reference"]
    for name, secs in timings.items():
        print(
            f"    {name:<14} {secs:7.2f} s  {n / secs:9.0f} answers/s   {base / secs:6.1f}x vs reference"
        )
    print(f"    halbench cold vs fair baseline: {timings['fair'] / timings['halbench_cold']:.1f}x")


# --------------------------------------------------------------------------- (b) ground truth

ADJ = "small large red blue green white black young old wooden metal tall short busy empty open closed bright dark shiny dirty clean little big modern antique colorful striped plastic brown yellow".split()
VERB = "sitting standing lying parked walking running flying holding eating looking riding waiting playing sleeping resting hanging leaning displayed placed shown".split()
PREP = "on in near beside under behind next to in front of across through".split(" ")
EXTRA = "street field room table kitchen beach park road window grass snow water building tree wall floor city sky counter shelf desk".split()


def synth_caption(rnd: random.Random, forms: list[str]) -> str:
    a, b = rnd.choice(forms), rnd.choice(forms + EXTRA)
    shape = rnd.random()
    if shape < 0.4:
        return f"A {rnd.choice(ADJ)} {a} {rnd.choice(VERB)} {rnd.choice(PREP)} a {b}."
    if shape < 0.7:
        return f"Two {a}s {rnd.choice(VERB)} {rnd.choice(PREP)} the {rnd.choice(ADJ)} {b}"
    if shape < 0.9:
        return f"there is a {a} and a {rnd.choice(forms)} {rnd.choice(PREP)} a {rnd.choice(EXTRA)}, with some {b}s."
    return f"A {rnd.choice(ADJ)} {rnd.choice(EXTRA)} with {rnd.randint(2, 9)} {a}s and a {b}."


def write_synthetic_coco(
    directory: Path, n_images: int, n_captions: int, seed: int
) -> dict[str, int]:
    rnd = random.Random(seed)
    vocab = SynonymVocabulary.default()
    forms = [f for f in vocab.canonical if f.islower()]
    categories = [
        {"id": i + 1, "name": c, "supercategory": "thing"} for i, c in enumerate(vocab.classes)
    ]
    n_val = n_images // 3
    splits = {"val": range(1, n_val + 1), "train": range(n_val + 1, n_images + 1)}
    sizes = {}
    cap_id = ann_id = 0
    per_image = n_captions / n_images
    for split, ids in splits.items():
        images = [
            {"id": i, "file_name": f"COCO_{split}2014_{i:012d}.jpg", "height": 480, "width": 640}
            for i in ids
        ]
        anns = []
        caps = []
        for i in ids:
            for _ in range(rnd.choice((0, 2, 4, 7, 10))):
                ann_id += 1
                x, y = rnd.uniform(0, 500), rnd.uniform(0, 400)
                # ~40-point polygons: about the size of real COCO instance records (~800 B each)
                poly = [
                    round(v, 2)
                    for _ in range(40)
                    for v in (x + rnd.uniform(0, 90), y + rnd.uniform(0, 70))
                ]
                anns.append(
                    {
                        "segmentation": [poly],
                        "area": round(rnd.uniform(100, 9000), 3),
                        "iscrowd": 0,
                        "image_id": i,
                        "bbox": [round(x, 2), round(y, 2), 90.0, 70.0],
                        "category_id": rnd.randint(1, 80),
                        "id": ann_id,
                    }
                )
            k = int(per_image) + (1 if rnd.random() < per_image - int(per_image) else 0)
            for _ in range(k):
                cap_id += 1
                caps.append({"image_id": i, "id": cap_id, "caption": synth_caption(rnd, forms)})
        info = {"description": "synthetic COCO-scale set for halbench perf", "year": 2014}
        for kind, payload in (
            (
                "instances",
                {
                    "info": info,
                    "licenses": [],
                    "images": images,
                    "annotations": anns,
                    "categories": categories,
                },
            ),
            ("captions", {"info": info, "licenses": [], "images": images, "annotations": caps}),
        ):
            path = directory / f"{kind}_{split}2014.json"
            path.write_text(json.dumps(payload))
            sizes[path.name] = path.stat().st_size
        sizes[f"{split}_captions"] = len(caps)
        sizes[f"{split}_instances"] = len(anns)
    return sizes


def bench_ground_truth(n_images: int, n_captions: int, seed: int, keep: Path | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="halbench-perf-coco-"))
    try:
        ann = keep or (work / "annotations")
        ann.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if not (ann / "captions_val2014.json").exists():
            sizes = write_synthetic_coco(ann, n_images, n_captions, seed)
        else:
            sizes = {p.name: p.stat().st_size for p in ann.glob("*.json")}
        gen = time.perf_counter() - t
        total_mb = sum(v for k, v in sizes.items() if k.endswith(".json")) / 1e6
        n_caps = sum(v for k, v in sizes.items() if k.endswith("_captions")) or "(reused set)"
        n_inst = sum(v for k, v in sizes.items() if k.endswith("_instances")) or "(reused set)"
        print(
            f"(b) synthetic COCO-scale annotations: {n_images} images, {n_caps} captions, {n_inst} instances, "
            f"{total_mb:.0f} MB of JSON (generated in {gen:.0f} s)"
        )
        cache = work / "cache"
        nlp = NltkPipeline()
        extractor = ObjectExtractor(SynonymVocabulary.default(), nlp)
        t = time.perf_counter()
        cold = load_ground_truth(ann, extractor, cache_root=cache)
        cold_s = time.perf_counter() - t
        print(f"    cold build: {cold_s:6.1f} s  ({cold.cache}); peak RSS {rss_mb():.0f} MB")
        extractor2 = ObjectExtractor(SynonymVocabulary.default(), NltkPipeline())
        t = time.perf_counter()
        warm = load_ground_truth(ann, extractor2, cache_root=cache)
        warm_s = time.perf_counter() - t
        assert warm.objects == cold.objects
        print(f"    warm load:  {warm_s:6.3f} s  ({warm.cache}); {len(warm.objects)} images")
        cache_mb = sum(p.stat().st_size for p in (cache / "ground_truth").glob("*.json")) / 1e6
        print(f"    cache size: {cache_mb:.1f} MB; cold/warm = {cold_s / warm_s:.0f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- (c) whole process


def _baseline_worker(answers: str, gt_path: str, out: str) -> None:
    """The per-answer NLTK baseline, run as its own process by ``bench_whole_process``."""
    from halbench.nlp import nltk_data

    nltk_data.require()  # puts halbench's NLTK data folder on NLTK's search path
    gt = {int(k): set(v) for k, v in json.loads(Path(gt_path).read_text()).items()}
    caps = []
    with open(answers, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            caps.append({"image_id": rec["image_id"], "caption": rec["text"]})
    syn = (BENCHMARKS / "object-halbench" / "data" / "synonyms_refine.txt").read_text()
    result = ReferenceChair(syn).compute_chair(caps, gt)
    Path(out).write_text(json.dumps(result))


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one child process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _check_same(baseline: dict, record: dict) -> None:
    items = record["items"]
    assert len(items) == len(baseline["sentences"])
    for item, sent in zip(items, baseline["sentences"], strict=True):
        assert item["mentions"] == sent["mscoco_generated_words"], item
        assert item["hallucinated"] == sent["mscoco_hallucinated_words"], item
    om, m = baseline["overall_metrics"], record["metrics"]
    assert (om["CHAIRs"], om["CHAIRs_refine"], om["CHAIRi"], om["obj_rec"]) == (
        m["CHAIRs"],
        m["CHAIRs_refine"],
        m["CHAIRi"],
        m["coverage"],
    )


def _summary(runs: list[tuple[float, float]]) -> str:
    walls = ", ".join(f"{w:.2f}" for w, _ in runs)
    med_w = statistics.median(w for w, _ in runs)
    med_c = statistics.median(c for _, c in runs)
    return f"median {med_w:6.2f} s wall, {med_c:6.2f} s CPU  (runs: {walls})"


def bench_whole_process(n_answers: int, runs: int, seed: int) -> None:
    with gzip.open(ROOT / "tests" / "data" / "pope_captions.jsonl.gz", "rt") as f:
        texts = [json.loads(line)["text"] for line in f]
    rnd = random.Random(seed)
    texts = rnd.sample(texts, min(n_answers, len(texts)))
    ids = sorted(int(json.loads(line)["id"]) for line in CAPS_BOXES.read_text().splitlines())
    nlp = NltkPipeline()
    gt = load_ground_truth(CAPS_BOXES, ObjectExtractor(SynonymVocabulary.default(), nlp))
    work = Path(tempfile.mkdtemp(prefix="halbench-perf-whole-"))
    try:
        gt_path = work / "gt.json"
        gt_path.write_text(json.dumps({k: sorted(v) for k, v in gt.objects.items()}))
        py, me = sys.executable, str(Path(__file__).resolve())
        print(
            f"(c) whole process, fresh Python per run; {runs} runs each; NLTK {nlp.info.nltk_version}"
        )
        for n in (len(texts), 300):
            answers = work / f"answers_{n}.jsonl"
            with answers.open("w", encoding="utf-8") as f:
                for t in texts[:n]:
                    rec = {
                        "image_id": rnd.choice(ids),
                        "question": "Describe the image.",
                        "text": t.replace("Assistant:", "").strip(),
                    }
                    f.write(json.dumps(rec) + "\n")
            out = work / f"record_{n}.json"
            cli = [
                py,
                "-m",
                "halbench",
                "score",
                "object-halbench",
                "--answers",
                str(answers),
                "--coco-annotations",
                str(CAPS_BOXES),
                "--output",
                str(out),
            ]
            _timed(cli)  # warm the caches (ground truth, WordNet nouns)
            ours = [_timed(cli) for _ in range(runs)]
            line = f"    {n:>6} answers  halbench CLI  {_summary(ours)}"
            if n == 300:
                print(line)
                continue
            base_out = work / f"baseline_{n}.json"
            worker = [py, me, "--baseline-worker", str(answers), str(gt_path), str(base_out)]
            base = [_timed(worker) for _ in range(runs)]
            _check_same(json.loads(base_out.read_text()), json.loads(out.read_text()))
            print(f"    {n:>6} answers  baseline      {_summary(base)}")
            print(line)
            b_wall, b_cpu = (statistics.median(x[i] for x in base) for i in (0, 1))
            o_wall, o_cpu = (statistics.median(x[i] for x in ours) for i in (0, 1))
            print(
                f"           outputs identical: yes; halbench {b_wall / o_wall:.1f}x faster "
                f"(wall), {b_cpu / o_cpu:.1f}x (CPU)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--baseline-worker":
        _baseline_worker(*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--answers", type=int, default=5000)
    ap.add_argument("--images", type=int, default=120_000)
    ap.add_argument("--captions", type=int, default=600_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-scoring", action="store_true")
    ap.add_argument("--skip-gt", action="store_true")
    ap.add_argument("--skip-whole", action="store_true")
    ap.add_argument("--whole-answers", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep-annotations", type=Path, help="write/reuse the synthetic set here")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    if not args.skip_scoring:
        bench_scoring(args.answers, args.seed)
    if not args.skip_gt:
        bench_ground_truth(args.images, args.captions, args.seed, args.keep_annotations)
    if not args.skip_whole:
        bench_whole_process(args.whole_answers, args.runs, args.seed)


if __name__ == "__main__":
    main()

"""VQAv2 scoring throughput: halbench vs a straightforward per-answer official loop, one run.

200,000 synthetic questions (ten human answers each, drawn to look like VQAv2's mix of
yes/no, counts and short phrases, with punctuation and case variants) and predictions.
Baseline: ``benchmarks.vqav2.oracle.official_accuracy`` per question (the official
loop written out: dict copies, normalisation without memo, leave-one-out lists), summed
like the official script. Both must give identical numbers.

Usage: python perf/bench_vqa.py [--questions 200000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.vqav2.metrics import VqaQuestion, score_vqa  # noqa: E402
from benchmarks.vqav2.oracle import official_accuracy  # noqa: E402

YESNO = ["yes", "no", "Yes", "No.", "yes!"]
NUMBERS = ["0", "1", "2", "3", "4", "two", "three", "10", "1,000", "one"]
OTHER = [
    "red",
    "white",
    "tennis",
    "the dog",
    "a cat",
    "dog",
    "frisbee",
    "pizza",
    "kitchen",
    "giraffe",
    "left",
    "baseball",
    "red and white",
    "black & white",
    "u.s.",
    "dont know",
    "(sky)",
    "blue-ish",
    "skateboarding",
    "2:30",
    "hot dog",
]


def make(n: int, seed: int) -> tuple[list[VqaQuestion], dict[int, str]]:
    rnd = random.Random(seed)
    questions, preds = [], {}
    for i in range(n):
        kind = rnd.random()
        pool, atype = (
            (YESNO, "yes/no")
            if kind < 0.38
            else (NUMBERS, "number")
            if kind < 0.5
            else (OTHER, "other")
        )
        main = rnd.choice(pool)
        answers = tuple(main if rnd.random() < 0.6 else rnd.choice(pool) for _ in range(10))
        questions.append(
            VqaQuestion(
                i, answers, atype, rnd.choice(["what is", "how many", "is the", "what color"])
            )
        )
        preds[i] = main if rnd.random() < 0.6 else rnd.choice(pool)
    return questions, preds


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--questions", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    questions, preds = make(args.questions, args.seed)
    t = time.perf_counter()
    base = [
        official_accuracy(
            [
                {"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                for j, a in enumerate(q.answers)
            ],
            preds[q.question_id],
        )
        for q in questions
    ]
    base_overall = round(100 * float(sum(base)) / len(base), 2)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    ours = score_vqa(questions, preds)
    t_ours = time.perf_counter() - t
    assert [it.accuracy for it in ours.items] == base, "per-question accuracies differ"
    assert ours.reported["overall"] == base_overall and ours.accuracy == float(sum(base)) / len(
        base
    )
    n = len(questions)
    print(f"VQAv2 scoring, {n} synthetic questions, numbers identical to the official loop: yes")
    print(f"  official loop (per answer) {t_base:6.2f} s  {n / t_base:9.0f} q/s")
    print(
        f"  halbench                   {t_ours:6.2f} s  {n / t_ours:9.0f} q/s   {t_base / t_ours:.1f}x"
    )


if __name__ == "__main__":
    main()

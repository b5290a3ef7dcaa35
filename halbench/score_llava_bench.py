"""``halbench score llava-bench``: LLaVA-Bench (COCO) answers judged against GPT-4's, with any judge."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from halbench.errors import InputError
from halbench.io import file_sha256, read_answer_lines, read_json, read_jsonl
from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest
from halbench.provenance import make_provenance, now_utc
from halbench.scoring.llava_bench import (
    SYSTEM,
    context_text,
    parse_score,
    relative_scores,
    review_content,
)
from halbench.types import InputFile, ResultRecord, UnscoredItem

LLAVA_BENCH = "llava-bench-coco"
PROMPT_VERSION = "llava-eval_gpt_review_visual@8959d5c+rule.json@181a2f8"
Failures = Literal["unscored", "llava-minus-one"]


def _resource(name: str) -> Path:
    return Path(str(resources.files("halbench.resources").joinpath(f"llava_bench/{name}")))


def load_answers(path: str | Path, questions: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Answer texts aligned with the 90 questions: by question_id, or by line position like LLaVA."""
    texts = read_answer_lines(path, ("text", "answer"))
    ids = [q["question_id"] for q in questions]
    if all(qid is not None for _, qid, _ in texts) and {qid for _, qid, _ in texts} >= set(ids):
        by_id = {qid: t for _, qid, t in texts}
        return [by_id[qid] for qid in ids], "question_id"
    if len(texts) != len(questions):
        raise InputError(
            str(path),
            f"{len(texts)} answers for {len(questions)} questions, and no question_id for every question",
        )
    return [t for _, _, t in texts], "position"


def score_llava_bench(
    answers_path: str | Path,
    judge: JudgeConfig,
    *,
    failures: Failures = "unscored",
    max_tokens: int = 1024,
    command: list[str] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
) -> ResultRecord:
    questions = load_questions()
    answers, alignment = load_answers(answers_path, questions)
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    return judge_llava_bench(questions, answers, judge, failures=failures, max_tokens=max_tokens,
                             alignment=alignment, inputs=inputs, command=command, on_estimate=on_estimate)  # fmt: skip


def load_questions() -> list[dict[str, Any]]:
    return [rec for _, rec in read_jsonl(_resource("qa90_questions.jsonl"))]


def judge_llava_bench(
    questions: list[dict[str, Any]],
    answers: list[str],
    judge: JudgeConfig,
    *,
    failures: Failures = "unscored",
    max_tokens: int = 1024,
    alignment: str = "item",
    inputs: list[InputFile] | None = None,
    command: list[str] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
) -> ResultRecord:
    """Judge ``answers`` to ``questions`` (any subset of the 90, aligned lists)."""
    started, t0 = now_utc(), time.perf_counter()
    by_id = {rec["question_id"]: rec for _, rec in read_jsonl(_resource("qa90_gpt4_answer.jsonl"))}
    references = [by_id[q["question_id"]] for q in questions]
    contexts = {
        rec["image"]: rec for _, rec in read_jsonl(_resource("caps_boxes_coco2014_val_80.jsonl"))
    }
    rules = read_json(_resource("rule.json"))
    requests = []
    for q, ref, ans in zip(questions, references, answers, strict=True):
        content = review_content(
            context_text(contexts[q["image"]]), q["text"], ref["text"], ans, rules[q["category"]]
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]
        requests.append(
            JudgeRequest(
                str(q["question_id"]), messages, {"temperature": 0.2, "max_tokens": max_tokens}
            )
        )
    client = JudgeClient(judge)
    if on_estimate is not None:
        on_estimate(client.estimate(requests))
    results = client.run(requests)
    items, unscored, scored = [], [], []
    for index, (q, ans, res) in enumerate(zip(questions, answers, results, strict=True)):
        item = {"question_id": q["question_id"], "category": q["category"], "image": q["image"], "question": q["text"],
                "answer": ans, "review": res.content, "judge_model_returned": res.returned_model}  # fmt: skip
        pair = parse_score(res.content) if res.content is not None else None
        if pair is None:
            reason = (
                f"judge call failed: {res.error}"
                if res.content is None
                else "judge reply has no score pair on its first line"
            )
            item["unscored"] = reason
            unscored.append(UnscoredItem(index=index, reason=reason))
            if failures == "llava-minus-one":  # LLaVA's summarizer keeps [-1, -1] in the means
                scored.append((q["category"], (-1.0, -1.0)))
        else:
            item["scores"] = list(pair)
            scored.append((q["category"], pair))
        items.append(item)
    reported = relative_scores(scored)
    relative = {}
    for cat in reported:
        pairs = [p for c, p in scored if c == cat or cat == "all"]
        ref_sum = sum(p[0] for p in pairs)
        relative[cat] = (sum(p[1] for p in pairs) / ref_sum) if ref_sum else None
    judge_info = client.describe()
    client.close()
    prompt_sha = hashlib.sha256(json.dumps([SYSTEM, rules], sort_keys=True).encode()).hexdigest()
    return ResultRecord(
        benchmark=LLAVA_BENCH,
        benchmark_version="llava-8959d5c",
        protocol={
            "scorer": "llava-bench",
            "mode": "parity" if failures == "unscored" else "llava-minus-one",
            "failures": failures,
            "judge_model": judge.model,
            "prompt_version": PROMPT_VERSION,
            "prompt_sha256": prompt_sha,
            "alignment": alignment,
        },  # fmt: skip
        metrics={
            "relative": relative,
            **{f"relative_{cat}": value for cat, value in relative.items()},  # leaderboard columns
            "reported": reported,
            "n_judged": len(items) - len(unscored),
        },
        not_computable={} if scored else {"relative": "no item was judged"},
        n_items=len(items),
        n_scored=len(items) - len(unscored),
        n_unscored=len(unscored),
        unscored=unscored,
        items=items,
        provenance=make_provenance(
            inputs=list(inputs or []),
            duration_s=time.perf_counter() - t0,
            created_at=started,
            command=command,
            details={"judge": judge_info},
        ),
    )

"""LLaVA-Bench (COCO): GPT-4-judged relative score, as LLaVA's scripts compute it.

Reference: haotian-liu/LLaVA ``llava/eval/eval_gpt_review_visual.py`` (request and
``parse_score``) and ``summarize_gpt_review.py`` (aggregation); RLHF-V's copies are identical
except that its summarizer skips failed parses.

- Request: system "You are a helpful and precise assistant for checking the quality of the
  answer."; user = [Context] (captions, a blank line, one "category: [bbox]" line per
  instance), [Question], [Assistant 1] = GPT-4's reference answer, [Assistant 2] = the
  model's answer, [System] + the category's rule prompt; temperature 0.2.
- Parse: first line, commas -> spaces, split on single spaces; exactly two numbers -> (GPT-4,
  model), anything else is a failure ("8, 9" gives three pieces and fails, as in the reference).
- Relative score per category and over all: mean of each score over the category, each mean
  rounded to 3 decimals, then round(model / GPT-4 * 100, 1) — a ratio of means. Scores are
  small multiples of 0.5, so the sums are exact and the order of summation cannot matter.

LLaVA-Bench (In-the-Wild) (``eval_gpt_review_bench.py`` @ 181a2f8) differs only in the
context and the rule key: [Context] is ``"\n".join(caption)`` of the image's context.jsonl
line (no boxes, no blank line before [Question] beyond the usual one), and the rule is
``"llava_bench_" + category``. Parsing and the summary are the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."


def context_text(caps_boxes: Mapping[str, Any]) -> str:
    captions = "\n".join(caps_boxes["captions"])
    boxes = "\n".join(f"{inst['category']}: {inst['bbox']}" for inst in caps_boxes["instances"])
    return f"{captions}\n\n{boxes}"


def wild_context_text(caption: str | Sequence[str], *, string_caption: str = "llava") -> str:
    """In-the-Wild [Context]: LLaVA's ``"\n".join(caption)``.

    A list of captions is joined line by line. LLaVA applies the same join to a plain string,
    which puts every character on its own line; ``string_caption="llava"`` (the default)
    keeps that quirk, ``"as-is"`` sends a string caption unchanged.
    """
    if isinstance(caption, str) and string_caption == "as-is":
        return caption
    return "\n".join(caption)


def review_content(
    context: str, question: str, reference: str, answer: str, rule: Mapping[str, str]
) -> str:
    role, prompt = rule["role"], rule["prompt"]
    return (
        f"[Context]\n{context}\n\n"
        f"[Question]\n{question}\n\n"
        f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n"
        f"[{role} 2]\n{answer}\n\n[End of {role} 2]\n\n"
        f"[System]\n{prompt}\n\n"
    )


def parse_score(review: str) -> tuple[float, float] | None:
    try:
        pieces = review.split("\n")[0].replace(",", " ").split(" ")
        if len(pieces) == 2:
            return float(pieces[0]), float(pieces[1])
    except ValueError:
        pass
    return None


def relative_scores(
    scored: Sequence[tuple[str, tuple[float, float]]],
) -> dict[str, dict[str, float | int | None]]:
    """category -> {reference_mean, model_mean (3-decimal rounded), relative (1 decimal)}; plus "all"."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for category, pair in scored:
        groups.setdefault(category, []).append(pair)
        groups.setdefault("all", []).append(pair)
    out = {}
    for category, pairs in sorted(groups.items()):
        ref = round(sum(p[0] for p in pairs) / len(pairs), 3)
        model = round(sum(p[1] for p in pairs) / len(pairs), 3)
        out[category] = {
            "reference_mean": ref,
            "model_mean": model,
            "relative": round(model / ref * 100, 1) if ref else None,
            "n": len(pairs),
        }
    return out

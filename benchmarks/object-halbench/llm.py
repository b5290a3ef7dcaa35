"""``halbench score object-halbench --extractor llm``: objects listed by an LLM judge, then CHAIR.

The synonym path runs first on the same answers (it also loads the ground truth and
decides which answers are scorable); the LLM path then scores the same items, and the
record carries both paths' metrics side by side with their per-item agreement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.object_halbench.llm_objects import (
    PARAMS,
    PROMPT_SHA256,
    PROMPT_VERSION,
    SpacyAnalyzer,
    WordNetAnalyzer,
    agreement,
    extraction_prompt,
    is_short,
    parse_object_list,
    refine,
    to_coco,
)
from benchmarks.object_halbench.metrics import FRACTIONS, aggregate, item_record, score_item
from benchmarks.object_halbench.objects import SynonymVocabulary
from benchmarks.object_halbench.synonym import ObjectHalbenchOptions, score_object_halbench_answers
from halbench.answers import Answer, load_object_halbench_answers, require_string_questions
from halbench.errors import HalbenchError
from halbench.io import file_sha256
from halbench.judges import JudgeClient, JudgeConfig, JudgeRequest
from halbench.nlp.pipeline import NltkPipeline
from halbench.types import InputFile, ResultRecord, UnscoredItem, fractions_of

REFERENCE_SPACY = "en_core_web_trf"


@dataclass
class LlmExtraction:
    judge: JudgeConfig
    spacy_model: str | None = None  # None: en_core_web_trf where installed, else the fallback


def make_analyzer(spacy_model: str | None, nlp: NltkPipeline) -> tuple[Any, str | None]:
    """(analyzer, note): the named spaCy pipeline, or en_core_web_trf if installed, else WordNet."""
    if spacy_model is not None:
        try:
            return SpacyAnalyzer(spacy_model), None
        except (ImportError, OSError, ValueError) as exc:
            raise HalbenchError(f"--spacy-model {spacy_model}: {exc}") from None
    try:
        return SpacyAnalyzer(REFERENCE_SPACY), None
    except (ImportError, OSError, ValueError) as exc:
        note = (
            f"spaCy {REFERENCE_SPACY} not available ({str(exc).splitlines()[0][:120]}); "
            "used halbench's WordNet fallback: not the reference's lemmas and tags"
        )
        return WordNetAnalyzer(nlp), note


def score_llm_answers(
    answers: list[Answer],
    coco_annotations: str | Path,
    options: ObjectHalbenchOptions,
    llm: LlmExtraction,
    *,
    command: list[str] | None = None,
    source: str = "answers",
    inputs: list[InputFile] | None = None,
    on_estimate: Callable[[dict[str, Any]], None] | None = None,
    analyzer: Any = None,
) -> ResultRecord:
    t0 = time.perf_counter()
    nlp = NltkPipeline(fast=options.fast_tokenizer)
    synonym = score_object_halbench_answers(
        answers, coco_annotations, options, nlp=nlp, command=command, source=source, inputs=inputs
    )
    vocab = (
        SynonymVocabulary.default()
        if options.synonyms is None
        else SynonymVocabulary.from_file(options.synonyms)
    )
    note = None
    if analyzer is None:
        analyzer, note = make_analyzer(llm.spacy_model, nlp)
    scorable = [i for i, it in enumerate(synonym.items) if "unscored" not in it]
    requests = [
        JudgeRequest(
            str(i),
            [
                {
                    "role": "system",
                    "content": extraction_prompt(answers[i].question or "", answers[i].answer),
                }
            ],
            dict(PARAMS),
        )
        for i in scorable
        if not is_short(answers[i].answer)
    ]
    client = JudgeClient(llm.judge)
    if on_estimate is not None:
        on_estimate(client.estimate(requests))
    results = {int(r.key): r for r in client.run(requests)}
    judge_info = client.describe()
    client.close()

    unscored = [UnscoredItem(index=u.index, reason=u.reason, line=u.line) for u in synonym.unscored]
    items: list[dict[str, Any]] = []
    scored, llm_mentions, syn_mentions, syn_scored = [], [], [], []
    todo = set(scorable)
    for i, syn_item in enumerate(synonym.items):
        if i not in todo:
            items.append(syn_item)
            continue
        ans = answers[i]
        gt = frozenset(syn_item["gt_objects"])
        res = results.get(i)
        extracted: list[str] | None = []
        reason = None
        if res is not None:
            if res.content is None:
                reason = f"judge call failed: {res.error}"
            else:
                try:
                    extracted = parse_object_list(res.content)
                except ValueError as exc:
                    reason = f"judge reply is not a JSON object list: {exc}"
        fields = {
            k: v for k, v in syn_item.items() if k not in ("mentions", "hallucinated", "gt_objects")
        }
        fields["synonym_mentions"] = syn_item["mentions"]
        if res is not None:
            fields["judge_reply"] = res.content
            fields["judge_model_returned"] = res.returned_model
        else:
            fields["llm_skipped"] = (
                "answer of 3 words or fewer: no call, no objects (as the reference)"
            )
        if reason is not None:
            items.append({**fields, "unscored": reason})
            unscored.append(UnscoredItem(index=i, reason=reason, line=ans.line))
            continue
        words = refine(extracted or [], analyzer, vocab.double_words)
        mentions = to_coco(words, vocab)
        item = score_item(ans.image_id, ans.answer, gt, lambda _text, m=mentions: m)
        scored.append(item)
        syn_scored.append(
            score_item(
                ans.image_id,
                ans.answer,
                gt,
                lambda _t, m=syn_item["mentions"]: [tuple(x) for x in m],
            )
        )
        llm_mentions.append(item.mentions)
        syn_mentions.append(syn_scored[-1].mentions)
        items.append({**item_record(item, fields), "extracted": extracted, "refined": words})
    result = aggregate(scored)
    syn_same = aggregate(syn_scored)
    unscored.sort(key=lambda u: u.index)
    side = {
        name: {"llm": result.metrics.get(name), "synonym": syn_same.metrics.get(name)}
        for name in ("CHAIRs", "CHAIRs_refine", "CHAIRi", "coverage")
    }
    metrics = {
        **result.metrics,
        "synonym_path": {"same_items": syn_same.metrics, "all_items": synonym.metrics},
        "agreement": {**agreement(llm_mentions, syn_mentions), "side_by_side": side},
        "n_llm_calls_needed": len(requests),
        "n_short_answers": len(scorable) - len(requests),
    }
    protocol = {
        **synonym.protocol,
        "extractor": "llm",
        "judge_model": llm.judge.model,
        "judge_params": dict(PARAMS),
        "prompt_version": PROMPT_VERSION,
        "prompt_sha256": PROMPT_SHA256,
        "lemmatizer": analyzer.name,
        "mode": _mode(analyzer, options),
        "failures": "unscored (the reference retries 100 times, then aborts the run)",
    }
    if note:
        protocol["lemmatizer_note"] = note
    prov = synonym.provenance
    prov.details["judge"] = judge_info
    prov.duration_s = time.perf_counter() - t0
    return ResultRecord(
        benchmark=synonym.benchmark,
        benchmark_version=synonym.benchmark_version,
        protocol=protocol,
        metrics=metrics,
        fractions=fractions_of(result.counts, FRACTIONS),
        not_computable=result.not_computable,
        n_items=len(items),
        n_scored=len(scored),
        n_unscored=len(unscored),
        unscored=unscored,
        items=items,
        provenance=prov,
    )


def _mode(analyzer: Any, options: ObjectHalbenchOptions) -> str:
    if options.synonyms is not None:
        return "custom-synonyms"
    return "parity" if getattr(analyzer, "parity", False) else "substitute-lemmatizer"


def score_object_halbench_llm(
    answers_path: str | Path,
    coco_annotations: str | Path,
    options: ObjectHalbenchOptions,
    llm: LlmExtraction,
    **kwargs: Any,
) -> ResultRecord:
    answers = load_object_halbench_answers(
        answers_path, questions_path=options.questions, coh=options.coh
    )
    require_string_questions(answers_path, answers)
    inputs = [InputFile(path=str(answers_path), sha256=file_sha256(answers_path), role="answers")]
    return score_llm_answers(
        answers, coco_annotations, options, llm, source=str(answers_path), inputs=inputs, **kwargs
    )

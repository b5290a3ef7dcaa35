"""The official VQA evaluation loop, written out literally: the test oracle and perf baseline.

Per question, as ``vqaEval.py`` (2021) does it: clean every human answer and the
prediction, normalise all of them when the humans disagree (no memo), then for every human
answer build the list of the *other* answers and count those equal to the prediction.
Not used for scoring (``benchmarks.vqav2.metrics`` is).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.vqav2.metrics import process_digit_article, process_punctuation


def official_accuracy(
    answers: Sequence[dict[str, object]], prediction: str, *, always: bool = False
) -> float:
    gts = [dict(a) for a in answers]
    for a in gts:
        a["answer"] = str(a["answer"]).replace("\n", " ").replace("\t", " ").strip()
    res = prediction.replace("\n", " ").replace("\t", " ").strip()
    if always or len({a["answer"] for a in gts}) > 1:
        for a in gts:
            a["answer"] = process_digit_article(process_punctuation(str(a["answer"])))
        res = process_digit_article(process_punctuation(res))
    accs = []
    for datum in gts:
        others = [item for item in gts if item != datum]
        matching = [item for item in others if item["answer"] == res]
        accs.append(min(1, float(len(matching)) / 3))
    return float(sum(accs)) / len(accs)

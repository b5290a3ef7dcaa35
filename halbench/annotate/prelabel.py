"""``halbench annotate prelabel``: a judge model proposes hallucinated spans; people decide.

For each response not yet labelled by this judge, the judge (any OpenAI-compatible
vision chat endpoint, through ``halbench.judges``) gets the image, the question and the
answer, and replies with a JSON list of ``{"text", "type", "correction"}``. Every
``text`` must be a verbatim piece of the answer (placed at its first occurrence that does
not overlap an earlier one); a reply that is not such a list, names an unknown type or a
text that is not in the answer makes the response *failed* for this judge (kept with the
reason and the raw reply; unscored in the judge's rates; retried on the next run).
Proposals never count as human labels: an annotator accepts one (it becomes their span)
or rejects it, and the report gives judge and human figures apart, with their agreement.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.annotate import TYPES
from halbench.annotate.store import AnnotationStore

SYSTEM = f"""You check a vision-language model's answer about an image for hallucinations: \
statements that the image does not support. List every hallucinated segment as a JSON array \
of objects {{"text": the exact characters copied from the answer, "type": one of \
{", ".join(TYPES)}, "correction": what the segment should say instead}}. Keep segments short \
(a word or a phrase). Reply with the JSON array only; reply [] when nothing is hallucinated."""


@dataclass
class PrelabelOutcome:
    judge: str
    labelled: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # item_id -> reason
    skipped: int = 0  # already labelled by this judge
    client: dict[str, Any] = field(default_factory=dict)


def _image_url(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    mime = mimetypes.guess_type(path)[0] or "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"


def request_messages(question: str, answer: str, image: str | None) -> list[dict[str, Any]]:
    text = f"Question: {question}\n\nAnswer to check:\n{answer}"
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    url = _image_url(image)
    if url:
        content.append({"type": "image_url", "image_url": {"url": url}})
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]


def parse_reply(reply: str, answer: str) -> list[dict[str, Any]]:
    """The judge's spans with offsets; ``ValueError`` (with the reason) when unusable."""
    text = reply.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.S)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("reply is not JSON") from None
    if not isinstance(data, list):
        raise ValueError("reply is not a JSON array")
    spans: list[dict[str, Any]] = []
    for n, entry in enumerate(data):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("text"), str)
            or not entry["text"]
        ):
            raise ValueError(f'entry {n}: no "text"')
        if entry.get("type") not in TYPES:
            raise ValueError(
                f"entry {n}: type {entry.get('type')!r} is not one of {', '.join(TYPES)}"
            )
        corr = entry.get("correction")
        if corr is not None and not isinstance(corr, str):
            raise ValueError(f"entry {n}: correction is not a string")
        start = -1
        pos = 0
        while True:
            start = answer.find(entry["text"], pos)
            if start < 0:
                raise ValueError(f"entry {n}: {entry['text']!r} is not in the answer")
            end = start + len(entry["text"])
            if not any(start < s["end"] and s["start"] < end for s in spans):
                break
            pos = start + 1
        spans.append(
            {
                "start": start,
                "end": end,
                "text": entry["text"],
                "type": entry["type"],
                "correction": corr or None,
            }
        )
    return sorted(spans, key=lambda s: s["start"])


def prelabel(db: str | Path, config: Any) -> PrelabelOutcome:
    """Ask the judge about every response it has not labelled yet; store its proposals."""
    from halbench.judges import JudgeClient, JudgeRequest

    store = AnnotationStore(db)
    judge = config.model
    out = PrelabelOutcome(judge)
    client = JudgeClient(config)
    try:
        done = store.judge_done(judge)
        rows = [r for r in store.items() if r["pk"] not in done]
        out.skipped = len(store.items()) - len(rows)
        reqs = [
            JudgeRequest(
                str(r["pk"]),
                request_messages(r["question"], r["answer"], r["image"]),
                {"temperature": 0.0, "max_tokens": 1024},
            )
            for r in rows
        ]
        results = client.run(reqs)
        for row, res in zip(rows, results, strict=True):
            if res.content is None:
                error, spans = f"judge call failed: {res.error}", None
            else:
                try:
                    spans, error = parse_reply(res.content, row["answer"]), None
                except ValueError as exc:
                    spans, error = None, str(exc)
            store.add_judge_labels(row["pk"], judge, spans, error, res.content)
            if spans is None:
                out.failed[row["item_id"]] = str(error)
            else:
                out.labelled += 1
        out.client = client.describe()
    finally:
        client.close()
        store.close()
    return out

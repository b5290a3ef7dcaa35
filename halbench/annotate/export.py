"""``halbench annotate export-ddpo OUT``: corrections as DDPO preference pairs.

One line per (response, annotator) with at least one corrected span, in the shared
interchange format (docs/ddpo.md): ``rejected`` is the model's answer, ``chosen`` the
answer with that annotator's corrections applied, ``segments`` the character offsets of
every corrected span in both texts. Responses marked free of hallucination give no pair
(chosen would equal rejected); a response with a span that has no correction is left out
(the corrected text is unknown) and counted in ``Exported.skipped``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halbench.annotate.store import AnnotationStore
from halbench.errors import HalbenchError
from halbench.io import atomic_write_text


@dataclass
class Exported:
    path: Path
    pairs: int
    skipped: dict[str, str] = field(default_factory=dict)  # "item_id / annotator" -> reason


def apply_corrections(answer: str, spans: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The corrected text and the segments' offsets in both texts (spans must not overlap)."""
    out: list[str] = []
    segments = []
    pos = 0
    length = 0
    for s in sorted(spans, key=lambda s: s["start"]):
        if s["start"] < pos:
            raise ValueError(f"overlapping spans at {s['start']}")
        keep = answer[pos : s["start"]]
        out.append(keep)
        length += len(keep)
        corr = s["correction"]
        segments.append(
            {
                "rejected_start": s["start"],
                "rejected_end": s["end"],
                "chosen_start": length,
                "chosen_end": length + len(corr),
                "type": s["type"],
            }
        )
        out.append(corr)
        length += len(corr)
        pos = s["end"]
    out.append(answer[pos:])
    return "".join(out), segments


def export_ddpo(db: str | Path, out: str | Path) -> Exported:
    db, out = Path(db), Path(out)
    if not db.exists():
        raise HalbenchError(f"{db}: annotation store not found")
    store = AnnotationStore(db)
    try:
        meta = store.meta()
        rows = {r["item_id"]: r for r in store.items()}
        judged = store.judgements()
    finally:
        store.close()
    model = json.loads(meta.get("model") or "{}")
    lines, skipped = [], {}
    for item_id, row in rows.items():
        for annotator, j in sorted(judged.get(item_id, {}).items()):
            if j["status"] != "hallucinated":
                continue
            if not row["image"]:
                skipped[f"{item_id} / {annotator}"] = "the item has no image"
                continue
            if any(s["correction"] is None for s in j["spans"]):
                skipped[f"{item_id} / {annotator}"] = "a hallucinated span has no correction"
                continue
            chosen, segments = apply_corrections(row["answer"], j["spans"])
            rec = {
                "id": f"{item_id}/{annotator}",
                "image": row["image"],
                "question": row["question"],
                "chosen": chosen,
                "rejected": row["answer"],
                "segments": segments,
                "meta": {
                    "item_id": item_id,
                    "annotator": annotator,
                    "benchmark": meta.get("benchmark"),
                    "run_dir": meta.get("run_dir"),
                    "model": model.get("model"),
                    "source": "halbench annotate",
                },
            }
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    atomic_write_text(out, "".join(lines))
    return Exported(out, len(lines), skipped)

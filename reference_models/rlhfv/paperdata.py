"""The paper's data: RLHF-V's TSV and pair selection.

* TSV (the 1,401-pair set the paper trained on, in the released format: RLHF-V's
  ``convert_parquet_to_tsv_demo.py``): one row per pair, tab-separated
  ``dataset_name, image (base64), text, origin_dataset, origin_split (base64 JSON),
  origin_split_inner_idx, image_path``, where ``text`` is base64 of the JSON list
  ``[question, chosen, rejected]`` or, once Muffin's reference log-probs were added,
  ``[question, chosen, rejected, logps]`` with ``logps`` = (chosen sum, chosen mean, chosen
  per-token, rejected sum, rejected mean, rejected per-token) as RLHF-V's
  ``muffin_inference_logp.py`` writes them. The stored log-probs are kept in ``meta`` and are
  used only for a model declared Muffin (``model_is_muffin``): they are Muffin's.
* ``select``: ``data_filter: {origin_split: [...], max_pairs: N}``: keep the pairs whose
  ``origin_split`` (the model that wrote the answers) is listed: the value itself, or, when it is
  a JSON object (RLHF-V's metainfo), any of its string values; then the first N in file order.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from halbench.errors import InputError

TSV_COLUMNS = (
    "dataset_name",
    "image",
    "text",
    "origin_dataset",
    "origin_split",
    "origin_split_inner_idx",
    "image_path",
)


def _b64json(value: str, path: str, line: int, name: str) -> Any:
    try:
        return json.loads(base64.b64decode(value, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            path, f"{name} is not base64 of JSON ({type(exc).__name__})", line=line, field=name
        ) from None


def stored_logps(value: Any, path: str, line: int) -> dict[str, Any]:
    """Muffin's (sum, mean, per-token) x (chosen, rejected) from a TSV row's 4th text item."""
    if isinstance(value, str):  # some writers stored the tuple as a JSON string
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(path, "logps is not JSON", line=line, field="logps") from None
    if isinstance(value, dict) and "logps" in value:
        value = value["logps"]
    ok = isinstance(value, list) and len(value) == 6
    ok = ok and all(isinstance(value[k], list) for k in (2, 5))
    if not ok:
        raise InputError(
            path,
            "logps must be (chosen sum, chosen mean, chosen per-token list, rejected sum, rejected mean, rejected per-token list)",
            line=line,
            field="logps",
        )
    return {
        "chosen": {"sum": value[0], "mean": value[1], "per_token": value[2]},
        "rejected": {"sum": value[3], "mean": value[4], "per_token": value[5]},
    }


def read_tsv_rows(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, PreferenceRecord fields) per row (``data.read_tsv_prefs`` makes the records)."""
    p = Path(path)
    out = []
    with p.open(encoding="utf-8") as f:
        for line, raw in enumerate(f, 1):
            raw = raw.rstrip("\r\n")
            if not raw:
                continue
            cols = raw.split("\t")
            if len(cols) != len(TSV_COLUMNS):
                raise InputError(
                    str(p),
                    f"expected {len(TSV_COLUMNS)} tab-separated columns ({', '.join(TSV_COLUMNS)}), got {len(cols)}",
                    line=line,
                )
            row = dict(zip(TSV_COLUMNS, cols, strict=True))
            try:
                image = base64.b64decode(row["image"], validate=True)
            except binascii.Error:
                raise InputError(str(p), "image is not base64", line=line, field="image") from None
            text = _b64json(row["text"], str(p), line, "text")
            if not (
                isinstance(text, list)
                and len(text) in (3, 4)
                and all(isinstance(t, str) for t in text[:3])
            ):
                raise InputError(
                    str(p),
                    "text must be [question, chosen, rejected] or [question, chosen, rejected, logps]",
                    line=line,
                    field="text",
                )
            meta: dict[str, Any] = {
                "origin_dataset": row["origin_dataset"],
                "origin_split": _b64json(row["origin_split"], str(p), line, "origin_split"),
                "image_path": row["image_path"],
            }
            if len(text) == 4:
                meta["stored_logps"] = stored_logps(text[3], str(p), line)
            rid = f"{row['dataset_name']}:{row['origin_split_inner_idx']}"
            rec = {
                "id": rid,
                "question": text[0],
                "chosen": text[1],
                "rejected": text[2],
                "image_bytes": image,
                "meta": meta,
            }
            out.append((f"{p}:{line}", rec))
    return out


def origin_names(value: Any) -> set[str]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {value}
        return {value} | origin_names(parsed) if isinstance(parsed, dict) else {value}
    if isinstance(value, dict):
        return {v for v in value.values() if isinstance(v, str)}
    return set()


def select(
    rows: list[tuple[str, Any]], data_filter: dict[str, Any] | None
) -> list[tuple[str, Any]]:
    if not data_filter:
        return rows
    wanted = data_filter.get("origin_split")
    if wanted is not None:
        names = set(wanted)
        rows = [r for r in rows if origin_names(r[1].meta.get("origin_split")) & names]
    if data_filter.get("max_pairs") is not None:
        rows = rows[: data_filter["max_pairs"]]
    return rows

"""Preference data readers: the interchange JSONL, RLHF-V-Dataset parquet, HF dataset dirs.

Every reader returns ``PreferenceRecord``s plus the list of bad records (missing image,
empty response, identical chosen/rejected), each with its id and reason. With
``bad_records="fail"`` a non-empty list raises ``InputError`` naming them all; with
``"skip"`` they are dropped and reported (the trainer logs them and writes them to
``train_record.json``). Malformed input (invalid JSON, a missing or mistyped field) always
raises ``InputError`` with file, line/row and field.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from halbench.errors import HalbenchError, InputError
from halbench.io import describe_type, read_jsonl
from reference_models.rlhfv.paperdata import read_tsv_rows, select

BadPolicy = Literal["skip", "fail"]
Format = Literal["auto", "jsonl", "parquet", "hf", "tsv"]


@dataclass
class PreferenceRecord:
    id: str
    question: str
    chosen: str
    rejected: str
    image_path: Path | None = None
    image_bytes: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def load_image(self) -> Any:
        from PIL import Image

        src: Any = io.BytesIO(self.image_bytes) if self.image_bytes is not None else self.image_path
        with Image.open(src) as im:
            return im.convert("RGB")

    def image_digest(self) -> str:
        if self.image_bytes is not None:
            return hashlib.sha256(self.image_bytes).hexdigest()
        assert self.image_path is not None
        return hashlib.sha256(self.image_path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class BadRecord:
    id: str
    where: str  # file:line or file:row
    reason: str


@dataclass
class PreferenceData:
    records: list[PreferenceRecord]
    bad: list[BadRecord]
    source: str
    checksum: str  # sha256 over (id, image sha256, question, chosen, rejected) of kept records


def _problem(rec: PreferenceRecord) -> str | None:
    if rec.image_bytes is None and (rec.image_path is None or not rec.image_path.is_file()):
        return f"missing image ({rec.image_path})" if rec.image_path else "missing image"
    try:  # checked up front so a corrupt file cannot stop training later
        from PIL import Image

        src: Any = io.BytesIO(rec.image_bytes) if rec.image_bytes is not None else rec.image_path
        with Image.open(src) as im:
            im.verify()
    except ImportError:
        pass
    except Exception as exc:  # PIL raises many types for bad files
        return f"unreadable image ({type(exc).__name__}: {exc})"
    if not rec.chosen.strip():
        return "empty chosen response"
    if not rec.rejected.strip():
        return "empty rejected response"
    if rec.chosen.strip() == rec.rejected.strip():
        return "identical chosen and rejected"
    return None


def _str_field(obj: dict[str, Any], name: str, path: str, line: int, required: bool = True) -> str:
    if name not in obj:
        if not required:
            return ""
        raise InputError(path, f'missing "{name}"', line=line, field=name)
    value = obj[name]
    if not isinstance(value, str):
        raise InputError(
            path, f'"{name}" must be a string, got {describe_type(value)}', line=line, field=name
        )
    return value


def read_jsonl_prefs(path: str | Path) -> list[tuple[str, PreferenceRecord]]:
    """The shared interchange format (docs/ddpo.md); image paths relative to the file."""
    p = Path(path)
    out = []
    seen: dict[str, int] = {}
    for line, obj in read_jsonl(p):
        rid = obj.get("id")
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            raise InputError(str(p), 'missing or invalid "id" (string)', line=line, field="id")
        rid = str(rid)
        if rid in seen:
            raise InputError(
                str(p), f"duplicate id {rid!r} (first on line {seen[rid]})", line=line, field="id"
            )
        seen[rid] = line
        image = _str_field(obj, "image", str(p), line)
        img = Path(image)
        rec = PreferenceRecord(
            id=rid,
            question=_str_field(obj, "question", str(p), line),
            chosen=_str_field(obj, "chosen", str(p), line),
            rejected=_str_field(obj, "rejected", str(p), line),
            image_path=img if img.is_absolute() else p.parent / img,
            meta={k: obj[k] for k in ("segments", "meta") if k in obj},
        )
        out.append((f"{p}:{line}", rec))
    return out


def _from_row(row: dict[str, Any], where: str, path: str, rownum: int) -> PreferenceRecord:
    if "text" in row and isinstance(row["text"], str):  # RLHF-V-Dataset: JSON in `text`
        try:
            text = json.loads(row["text"])
        except json.JSONDecodeError as exc:
            raise InputError(
                path, f"row {rownum}: `text` is not JSON: {exc.msg}", field="text"
            ) from None
        if not isinstance(text, dict):
            raise InputError(path, f"row {rownum}: `text` must hold a JSON object", field="text")
    else:  # RLAIF-V style: separate columns
        text = row
    fields = {}
    for name in ("question", "chosen", "rejected"):
        value = text.get(name)
        if not isinstance(value, str):
            raise InputError(path, f'row {rownum}: missing or non-string "{name}"', field=name)
        fields[name] = value
    rid = row.get("idx", row.get("id", rownum))
    rid = f"{row['ds_name']}:{rid}" if row.get("ds_name") else str(rid)
    image = row.get("image")
    data: bytes | None = None
    image_path: Path | None = None
    if isinstance(image, dict):
        data = image.get("bytes")
        if data is None and image.get("path"):
            image_path = Path(path).parent / str(image["path"])
    elif isinstance(image, (bytes, bytearray)):
        data = bytes(image)
    elif image is not None and hasattr(image, "save"):  # a decoded PIL image (datasets)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data = buf.getvalue()
    meta = {k: row[k] for k in ("origin_dataset", "origin_split", "image_path") if k in row}
    return PreferenceRecord(id=rid, image_path=image_path, image_bytes=data, meta=meta, **fields)


def read_parquet_prefs(path: str | Path) -> list[tuple[str, PreferenceRecord]]:
    """RLHF-V-Dataset parquet (``text`` JSON column, ``image`` struct with bytes) or RLAIF-V."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise HalbenchError(
            "reading parquet needs pyarrow: pip install 'halbench[train]'"
        ) from None
    p = Path(path)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files or not files[0].exists():
        raise InputError(str(p), "no parquet file found")
    out = []
    for f in files:
        table = pq.read_table(f)
        for k, row in enumerate(table.to_pylist()):
            out.append((f"{f}:row {k}", _from_row(row, f"{f}:row {k}", str(f), k)))
    return out


def read_hf_dir(path: str | Path) -> list[tuple[str, PreferenceRecord]]:
    """A ``datasets.save_to_disk`` directory (the ``train`` split of a DatasetDict)."""
    try:
        import datasets
    except ImportError:
        raise HalbenchError(
            "reading a Hugging Face dataset directory needs `datasets` (pip install datasets)"
        ) from None
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"] if "train" in ds else ds[next(iter(ds))]
    if "image" in ds.column_names:
        ds = ds.cast_column("image", datasets.Image(decode=False))
    return [
        (f"{path}:row {k}", _from_row(row, f"{path}:row {k}", str(path), k))
        for k, row in enumerate(ds)
    ]


def read_tsv_prefs(path: str | Path) -> list[tuple[str, PreferenceRecord]]:
    """RLHF-V's TSV (the paper's 1,401 pairs): ``paperdata.read_tsv_rows``."""
    return [(where, PreferenceRecord(**fields)) for where, fields in read_tsv_rows(path)]


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        if any(path.glob("*.parquet")):
            return "parquet"
        raise InputError(
            str(path), "a directory with neither a Hugging Face dataset nor parquet files"
        )
    if path.suffix == ".parquet":
        return "parquet"
    if path.suffix == ".tsv":
        return "tsv"
    return "jsonl"


def checksum(records: Iterable[PreferenceRecord]) -> str:
    h = hashlib.sha256()
    for r in records:
        item = [r.id, r.image_digest(), r.question, r.chosen, r.rejected]
        h.update(json.dumps(item, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def load_preferences(
    path: str | Path,
    *,
    fmt: Format = "auto",
    bad_records: BadPolicy = "fail",
    data_filter: dict[str, Any] | None = None,
) -> PreferenceData:
    """Read, select (``data_filter``: ``paperdata.select``), validate and checksum a preference
    set; bad records skipped or fatal, never silent."""

    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "file not found")
    kind = detect_format(p) if fmt == "auto" else fmt
    reader = {
        "jsonl": read_jsonl_prefs,
        "parquet": read_parquet_prefs,
        "hf": read_hf_dir,
        "tsv": read_tsv_prefs,
    }[kind]
    rows = select(reader(p), data_filter)
    if data_filter and not rows:
        raise InputError(str(p), f"data_filter {data_filter} selects no pair")
    kept, bad = [], []
    for where, rec in rows:
        problem = _problem(rec)
        if problem:
            bad.append(BadRecord(rec.id, where, problem))
        else:
            kept.append(rec)
    if bad and bad_records == "fail":
        shown = "; ".join(f"{b.id} ({b.where}): {b.reason}" for b in bad[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise InputError(
            str(p),
            f"{len(bad)} bad record(s): {shown}{more}. Set bad_records: skip to drop them (they are then listed in train_record.json)",
        )
    if not kept:
        raise InputError(str(p), "no usable preference pairs")
    return PreferenceData(kept, bad, str(p), checksum(kept))

"""COCO ground truth for Object HalBench: which COCO classes each image contains.

As in RLHF-V's ``CHAIR.get_annotations``: the classes of every instance annotation
of the image (``iscrowd`` included), plus the classes found in every COCO caption of
the image by the same extractor that reads model answers.

Two sources:

* a directory with COCO 2014 annotation files. Each split (``train``, ``val``)
  present needs both ``instances_<split>2014.json`` and ``captions_<split>2014.json``;
  the splits found are all used (the reference requires both splits, we do not).
* a ``caps_boxes`` JSONL file (one image per line: ``id``, ``captions``,
  ``instances[].category``), such as LLaVA-Bench's ``caps_boxes_coco2014_val_80.jsonl``.

Building the ground truth for full COCO 2014 (617k captions) takes a while, so the
result is cached per split under halbench's cache directory, keyed by the files'
sha256 and the extractor's fingerprint (code version, synonym list, NLTK version
and data). A warm start reads one small JSON file per split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from halbench.errors import InputError
from halbench.io import atomic_write_json, describe_type, file_sha256, read_json, read_jsonl
from halbench.paths import cache_dir
from halbench.progress import track

SPLITS = ("train", "val")
_CACHE_FORMAT = 1


class Vocabulary(Protocol):
    classes: Sequence[str]  # the COCO classes, in a fixed order (bit positions of the cache)
    canonical: dict[str, str]  # a COCO category name or synonym -> its class


class ObjectExtractor(Protocol):
    """What the ground truth needs of a benchmark's extractor (Object HalBench's, CHAIR's):
    its vocabulary, the classes a caption mentions, and a fingerprint of all that decides them."""

    vocab: Vocabulary

    def mentions(self, text: str) -> list[tuple[str, str]]: ...

    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class SourceFile:
    path: str
    sha256: str
    role: str


class ClassSets(Mapping[int, frozenset[str]]):
    """Image id -> COCO classes, stored as bit masks over ``classes`` and decoded on access.

    A warm start on full COCO reads 124k masks; decoding only the images a run asks
    for keeps that well under a second.
    """

    def __init__(self, masks: dict[int, int], classes: tuple[str, ...]) -> None:
        self.masks = masks
        self.classes = classes
        self._decoded: dict[int, frozenset[str]] = {}

    @classmethod
    def from_sets(
        cls, objects: Mapping[int, frozenset[str] | set[str]], classes: tuple[str, ...]
    ) -> ClassSets:
        index = {c: i for i, c in enumerate(classes)}
        return cls({k: sum(1 << index[c] for c in v) for k, v in objects.items()}, classes)

    def __getitem__(self, image_id: int) -> frozenset[str]:
        mask = self.masks[image_id]
        got = self._decoded.get(mask)
        if got is None:
            names = []
            bits = mask
            while bits:
                low = bits & -bits
                names.append(self.classes[low.bit_length() - 1])
                bits ^= low
            got = self._decoded[mask] = frozenset(names)
        return got

    def __contains__(self, image_id: object) -> bool:
        return image_id in self.masks

    def __iter__(self) -> Iterator[int]:
        return iter(self.masks)

    def __len__(self) -> int:
        return len(self.masks)


@dataclass
class GroundTruth:
    """Image id -> set of COCO classes, and where it came from."""

    objects: ClassSets
    kind: str
    files: list[SourceFile]
    cache: list[str] = field(default_factory=list)  # "hit"/"built" per split or file

    def __contains__(self, image_id: object) -> bool:
        return image_id in self.objects

    def __getitem__(self, image_id: int) -> frozenset[str]:
        return self.objects[image_id]

    def provenance(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "files": [vars(f) for f in self.files],
            "n_images": len(self.objects),
            "cache": self.cache,
        }


def load_ground_truth(
    path: str | Path,
    extractor: ObjectExtractor,
    *,
    use_cache: bool = True,
    cache_root: Path | None = None,
) -> GroundTruth:
    """Load (or build and cache) the ground truth from a COCO directory or a caps_boxes file."""
    p = Path(path)
    if not p.exists():
        raise InputError(
            str(path),
            "not found (expected a COCO annotations directory or a caps_boxes JSONL file)",
        )
    root = (cache_root or cache_dir()) / "ground_truth"
    if p.is_dir():
        gt = _load_coco_dir(p, extractor, use_cache, root)
    else:
        gt = cached_ground_truth(
            "caps_boxes",
            [(p, "caps_boxes")],
            lambda: _build_caps_boxes(p, extractor),
            extractor,
            use_cache,
            root,
        )
        gt.kind = "caps_boxes"
    return gt


def coco_split_files(directory: Path) -> list[tuple[str, Path, Path]]:
    """The (split, instances file, captions file) triples present in ``directory``."""
    found = []
    for split in SPLITS:
        inst = directory / f"instances_{split}2014.json"
        caps = directory / f"captions_{split}2014.json"
        if inst.exists() and caps.exists():
            found.append((split, inst, caps))
        elif inst.exists() or caps.exists():
            missing = caps if inst.exists() else inst
            raise InputError(
                str(directory),
                f"{missing.name} is missing: split '{split}' needs both instances_{split}2014.json "
                f"and captions_{split}2014.json (instances and caption objects are both ground truth)",
            )
    if not found:
        raise InputError(
            str(directory),
            "no COCO 2014 annotation files found (expected instances_val2014.json + "
            "captions_val2014.json and/or the train2014 pair, from annotations_trainval2014.zip)",
        )
    return found


def _load_coco_dir(
    directory: Path, extractor: ObjectExtractor, use_cache: bool, root: Path
) -> GroundTruth:
    masks: dict[int, int] = {}
    files: list[SourceFile] = []
    cache: list[str] = []
    for split, inst, caps in coco_split_files(directory):
        part = cached_ground_truth(
            f"coco_{split}",
            [(inst, f"instances_{split}"), (caps, f"captions_{split}")],
            lambda inst=inst, caps=caps, split=split: _build_coco_split(
                inst, caps, extractor, split
            ),
            extractor,
            use_cache,
            root,
        )
        if not masks:
            masks = dict(part.objects.masks)
        else:  # an image in several splits (not the case in COCO) gets the union
            for image_id, mask in part.objects.masks.items():
                masks[image_id] = masks.get(image_id, 0) | mask
        files += part.files
        cache += part.cache
    return GroundTruth(ClassSets(masks, extractor.vocab.classes), "coco_annotations", files, cache)


def cached_ground_truth(
    name: str,
    inputs: list[tuple[Path, str]],
    build: Any,
    extractor: ObjectExtractor,
    use_cache: bool,
    root: Path,
) -> GroundTruth:
    files = [SourceFile(str(path), file_sha256(path), role) for path, role in inputs]
    key_src = json.dumps(
        [_CACHE_FORMAT, name, [(f.role, f.sha256) for f in files], extractor.fingerprint()]
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
    cache_file = root / f"{name}-{key}.json"
    classes = extractor.vocab.classes
    if use_cache and cache_file.exists():
        try:
            stored = json.loads(cache_file.read_text())
            if stored.get("key") == key and stored.get("classes") == list(classes):
                masks = dict(zip(stored["image_ids"], stored["masks"], strict=True))
                return GroundTruth(ClassSets(masks, classes), name, files, [f"{name}: cache hit"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable cache: rebuild below and overwrite it
    objects = ClassSets.from_sets(build(), classes)
    if use_cache:
        stored = {
            "format": _CACHE_FORMAT,
            "key": key,
            "classes": list(classes),
            "image_ids": list(objects.masks),
            "masks": list(objects.masks.values()),
        }
        try:
            atomic_write_json(cache_file, stored, indent=None)
        except OSError:
            pass  # read-only cache: the result is still correct
    return GroundTruth(objects, name, files, [f"{name}: built"])


# --------------------------------------------------------------------------- builders


def require_field(obj: Any, key: str, path: Path, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(str(path), f'{where}: missing "{key}"')
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(
            str(path), f'{where}: "{key}" must be {_kind_name(kind)}, got {describe_type(value)}'
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {list: "an array", str: "a string", int: "an integer", dict: "an object"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _build_coco_split(
    instances: Path, captions: Path, extractor: ObjectExtractor, split: str
) -> dict[int, frozenset[str]]:
    canonical = extractor.vocab.canonical
    inst = read_json(instances)
    categories = require_field(inst, "categories", instances, "top level", list)
    id_to_class: dict[int, str] = {}
    for k, cat in enumerate(categories):
        cid = require_field(cat, "id", instances, f"categories[{k}]", int)
        name = require_field(cat, "name", instances, f"categories[{k}]", str)
        if name not in canonical:
            raise InputError(
                str(instances), f'categories[{k}]: "{name}" is not a COCO class of the synonym list'
            )
        id_to_class[cid] = canonical[name]
    gt: dict[int, set[str]] = {}
    for k, img in enumerate(inst.get("images", [])):
        gt.setdefault(require_field(img, "id", instances, f"images[{k}]", int), set())
    annotations = require_field(inst, "annotations", instances, "top level", list)
    for k, ann in enumerate(annotations):
        image_id = require_field(ann, "image_id", instances, f"annotations[{k}]", int)
        cid = require_field(ann, "category_id", instances, f"annotations[{k}]", int)
        if cid not in id_to_class:
            raise InputError(str(instances), f"annotations[{k}]: unknown category_id {cid}")
        gt.setdefault(image_id, set()).add(id_to_class[cid])
    del inst, annotations

    caps = read_json(captions)
    for k, img in enumerate(caps.get("images", []) if isinstance(caps, dict) else []):
        gt.setdefault(require_field(img, "id", captions, f"images[{k}]", int), set())
    cap_anns = require_field(caps, "annotations", captions, "top level", list)
    pairs = []
    for k, ann in enumerate(cap_anns):
        image_id = require_field(ann, "image_id", captions, f"annotations[{k}]", int)
        pairs.append((image_id, require_field(ann, "caption", captions, f"annotations[{k}]", str)))
    del caps, cap_anns
    for image_id, classes in _caption_classes(pairs, extractor, f"captions {split}2014"):
        gt.setdefault(image_id, set()).update(classes)
    return {i: frozenset(c) for i, c in gt.items()}


def _caption_classes(
    pairs: list[tuple[int, str]], extractor: ObjectExtractor, desc: str
) -> Iterator[tuple[int, list[str]]]:
    seen: dict[str, list[str]] = {}
    for image_id, caption in track(pairs, total=len(pairs), desc=desc, unit="cap"):
        classes = seen.get(caption)
        if classes is None:
            classes = seen[caption] = [c for _, c in extractor.mentions(caption)]
        yield image_id, classes


def parse_coco_id(value: Any) -> int | None:
    """COCO image id from an int, a digit string ("000000441147") or a file name
    ("COCO_val2014_000000441147.jpg", "000000441147.jpg"); ``None`` if it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return int(s)
        stem = s.rsplit("/", 1)[-1].split(".", 1)[0]
        digits = stem.rsplit("_", 1)[-1]
        if digits.isdigit() and (stem == digits or stem.upper().startswith("COCO_")):
            return int(digits)
    return None


def coco_id_field(rec: dict[str, Any], name: str, path: str | Path, line: int | None) -> int:
    """The COCO image id in ``rec[name]``, or an ``InputError`` naming file, line and field."""
    if name not in rec:
        raise InputError(str(path), f'missing "{name}"', line=line, field=name)
    image_id = parse_coco_id(rec[name])
    if image_id is None:
        shown = repr(rec[name])
        shown = shown if len(shown) <= 80 else shown[:76] + "...'"
        raise InputError(
            str(path),
            f'"{name}" must be a COCO image id (an integer, digits, or a file name like '
            f"COCO_val2014_000000441147.jpg), got {shown}",
            line=line,
            field=name,
        )
    return image_id


def _build_caps_boxes(path: Path, extractor: ObjectExtractor) -> dict[int, frozenset[str]]:
    canonical = extractor.vocab.canonical
    gt: dict[int, set[str]] = {}
    pairs: list[tuple[int, str]] = []
    lines = list(read_jsonl(path))
    if not lines:
        raise InputError(str(path), "no images in file")
    for number, rec in lines:
        image_id = coco_id_field(rec, "id", path, number)
        classes = gt.setdefault(image_id, set())
        captions = rec.get("captions")
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise InputError(
                str(path), '"captions" must be an array of strings', line=number, field="captions"
            )
        instances = rec.get("instances", [])
        if not isinstance(instances, list):
            raise InputError(
                str(path), '"instances" must be an array', line=number, field="instances"
            )
        for k, inst in enumerate(instances):
            name = inst.get("category") if isinstance(inst, dict) else None
            if not isinstance(name, str) or name not in canonical:
                raise InputError(
                    str(path),
                    f"instances[{k}].category: {name!r} is not a COCO class of the synonym list",
                    line=number,
                    field="instances",
                )
            classes.add(canonical[name])
        pairs += [(image_id, c) for c in captions]
    for image_id, found in _caption_classes(pairs, extractor, "captions"):
        gt[image_id].update(found)
    return {i: frozenset(c) for i, c in gt.items()}

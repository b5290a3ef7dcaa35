"""Model identity: a leaderboard row is a display name plus a fingerprint.

The name is ``record.model["name"]`` when the run set one (``halbench run --name``);
otherwise a readable default: the hub id or API model as given, a local checkpoint's
folder name (with its parent folder when two checkpoints share the name), the replayed
file for a replay run (its folder when the file name is generic: ``final/answers.jsonl``
is ``final``), the answer file for a record scored outside a run. Two fingerprints never
share a row: names that still collide get the fingerprint's first characters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from halbench.types import ResultRecord

#: file stems that say nothing about the model: the folder names it instead
GENERIC_STEMS = {
    "answers",
    "answer",
    "result",
    "results",
    "output",
    "outputs",
    "predictions",
    "responses",
    "generations",
    "samples",
}


@dataclass(frozen=True)
class Identity:
    name: str  # the default (or given) display name, before disambiguation
    fingerprint: str
    path: str  # the model path or file the name came from ("" when none)
    explicit: bool = False  # set with --name


def _file_name(path: str) -> str:
    p = Path(path.rstrip("/"))
    return p.parent.name or p.stem if p.stem.lower() in GENERIC_STEMS else p.stem


def identity(record: ResultRecord, path: Path) -> Identity:
    """The identity of the model behind ``record`` (read from ``path``)."""
    model = record.model or {}
    answers = [f for f in record.provenance.inputs if f.role == "answers"]
    if not model.get("model"):  # scored outside a run: the answer file is the model
        if answers:
            fp = "answers:" + answers[0].sha256
            return Identity(_file_name(answers[0].path), fp, answers[0].path)
        fp = "record:" + hashlib.sha256(str(path).encode()).hexdigest()
        return Identity(path.parent.name or path.stem, fp, str(path))
    given = str(model["model"])
    fingerprint = str(model.get("fingerprint") or given)
    backend = model.get("backend")
    source = given
    if backend == "replay":
        source = str((model.get("details") or {}).get("file") or given.removeprefix("replay:"))
        default = _file_name(source)
    elif backend in ("hf", "vllm") and not fingerprint.startswith("hub:"):
        default = Path(given.rstrip("/")).name or given
    else:
        default = given
    name = model.get("name")
    if isinstance(name, str) and name.strip():
        return Identity(name.strip(), fingerprint, source, explicit=True)
    return Identity(default, fingerprint, source)


def model_name(record: ResultRecord, path: Path) -> str:
    """The default display name of a record's model (before disambiguation)."""
    return identity(record, path).name


def _with_parent(ident: Identity) -> str:
    if ident.explicit or not ident.path or ident.path.startswith(("hub:", "openai:")):
        return ident.name
    p = Path(ident.path.rstrip("/"))
    folder = p.parent if p.stem.lower() in GENERIC_STEMS or p.suffix else p
    return f"{folder.parent.name}/{ident.name}" if folder.parent.name else ident.name


def display_names(identities: list[Identity]) -> dict[Identity, str]:
    """A unique display name per identity (name + fingerprint).

    Identities that share a name but not a fingerprint get their parent folder (``a/final``,
    ``b/final``); any that still collide get the fingerprint's first 8 characters
    (``final [f207940c]``). The same name and fingerprint from other paths is one row.
    """
    first: dict[tuple[str, str], Identity] = {}
    for ident in identities:
        first.setdefault((ident.name, ident.fingerprint), ident)
    groups: dict[str, list[Identity]] = {}
    for ident in first.values():
        groups.setdefault(ident.name, []).append(ident)
    names: dict[tuple[str, str], str] = {}
    for name, group in groups.items():
        if len(group) == 1:
            names[(name, group[0].fingerprint)] = name
            continue
        labels = {ident: _with_parent(ident) for ident in group}
        counts: dict[str, int] = {}
        for label in labels.values():
            counts[label] = counts.get(label, 0) + 1
        for ident, label in labels.items():
            if counts[label] > 1:
                label = f"{label} [{ident.fingerprint.split(':')[-1][:8]}]"
            names[(name, ident.fingerprint)] = label
    return {ident: names[(ident.name, ident.fingerprint)] for ident in identities}

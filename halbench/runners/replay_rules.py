"""Which benchmark item another toolkit's answer row is for: the rules are declared by each
benchmark in its ``benchmark.toml`` (``[replay.lmms-eval]``, ``[replay.vlmevalkit]``), so the
framework names no benchmark. Read by ``halbench.runners.foreign``.

``[replay.lmms-eval]`` (an lmms-eval ``--log_samples`` row is this benchmark's when):
  ``doc_has``     a list of field lists: the doc has every field of one of them;
  ``doc_values``  ``{field = [allowed values]}``: the doc's field holds one of them
                  (``doc_values_name`` names the kind in the error when it does not);
  ``item_id``     the halbench item id, a template of doc fields (``{question_id}``), or
                  ``{doc_id}`` for the sample's own index;
  ``question``    the doc field holding the question asked (checked against the item).
``[replay.vlmevalkit]``:
  ``datasets``    the dataset names VLMEvalKit ends its file names with (``{model}_{dataset}``);
  ``match``       ``index`` (default: the ``index`` column is the item id) or ``image-question``
                  (every item asking the row's ``question`` about the image in ``image_path``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class LmmsRule:
    benchmark: str  # the title, for messages
    doc_has: tuple[tuple[str, ...], ...]
    doc_values: tuple[tuple[str, tuple[Any, ...]], ...]
    doc_values_name: str
    item_id: str
    question: str | None

    def matches(self, doc: dict[str, Any]) -> bool:
        if self.doc_values:
            return all(doc.get(k) in allowed for k, allowed in self.doc_values)
        return any(all(f in doc for f in fields) for fields in self.doc_has)

    def fields(self) -> list[str]:
        """The fields ``item_id`` is made of."""
        return [name for _, name, _, _ in string.Formatter().parse(self.item_id) if name]


@dataclass(frozen=True)
class TableRule:
    benchmark: str
    datasets: tuple[str, ...]
    match: str  # "index" | "image-question"


@cache
def lmms_rules() -> tuple[LmmsRule, ...]:
    out = []
    for bench in _benchmarks():
        spec = bench.spec.get("replay", {}).get("lmms-eval")
        if spec:
            out.append(
                LmmsRule(
                    benchmark=bench.title,
                    doc_has=tuple(tuple(f) for f in spec.get("doc_has", ())),
                    doc_values=tuple((k, tuple(v)) for k, v in spec.get("doc_values", {}).items()),
                    doc_values_name=spec.get("doc_values_name", f"{bench.title} value"),
                    item_id=spec["item_id"],
                    question=spec.get("question"),
                )
            )
    # rules that check values are the most specific: first
    return tuple(sorted(out, key=lambda r: not r.doc_values))


@cache
def table_rules() -> dict[str, TableRule]:
    """Lower-cased dataset name -> rule."""
    out = {}
    for bench in _benchmarks():
        spec = bench.spec.get("replay", {}).get("vlmevalkit")
        if spec:
            rule = TableRule(bench.title, tuple(spec["datasets"]), spec.get("match", "index"))
            for name in rule.datasets:
                out.setdefault(name.lower(), rule)
    return out


def lmms_benchmarks() -> list[str]:
    return list(dict.fromkeys(r.benchmark for r in lmms_rules()))


def _benchmarks() -> list[Any]:
    from halbench import registry

    return [registry.get_benchmark(n) for n in registry.names()]

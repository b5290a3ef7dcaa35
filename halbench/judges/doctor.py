"""``halbench doctor``'s lines for LLM judges: the openai package, each judged benchmark's
own needs (``doctor_lines`` in its ``score.py``), spaCy."""

from __future__ import annotations

from importlib.util import find_spec


def judge_lines() -> list[str]:
    from halbench import registry

    lines = ["LLM judges (optional)"]
    if find_spec("openai") is None:
        lines.append("  [--] openai package: missing; fix: pip install 'halbench[openai]'")
    else:
        lines.append("  [ok] openai package: installed")
    for name in registry.names():  # what each judged benchmark needs besides the judge
        bench = registry.get_benchmark(name)
        if bench.judged and bench.scorer_module() is not None:
            lines += getattr(bench.scorer_module(), "doctor_lines", list)()
    if find_spec("spacy") is not None and find_spec("en_core_web_trf") is not None:
        lines.append(
            "  [ok] spaCy en_core_web_trf: installed (--extractor llm uses the reference's tagger)"
        )
    else:
        lines.append("  [--] spaCy en_core_web_trf: not installed; --extractor llm uses halbench's")
        lines.append("       WordNet fallback (recorded; see docs/judges.md)")
    return lines

"""``halbench doctor``'s lines for LLM judges: the openai package, the MMHal prompt, spaCy."""

from __future__ import annotations

from importlib.util import find_spec


def judge_lines() -> list[str]:
    from benchmarks.mmhal_bench.mmhal_data import judge_prompt_dir

    lines = ["LLM judges (optional)"]
    if find_spec("openai") is None:
        lines.append("  [--] openai package: missing; fix: pip install 'halbench[openai]'")
    else:
        lines.append("  [ok] openai package: installed")
    prompt = judge_prompt_dir() / "template.txt"
    if prompt.is_file():
        lines.append(f"  [ok] MMHal-Bench judge prompt: {prompt}")
    else:
        lines.append("  [--] MMHal-Bench judge prompt: not prepared (GPL-3.0, not shipped);")
        lines.append(
            "       fix: halbench data prepare mmhal-bench --judge-prompt-from eval_gpt_mmhal.py"
        )
    if find_spec("spacy") is not None and find_spec("en_core_web_trf") is not None:
        lines.append(
            "  [ok] spaCy en_core_web_trf: installed (--extractor llm uses the reference's tagger)"
        )
    else:
        lines.append("  [--] spaCy en_core_web_trf: not installed; --extractor llm uses halbench's")
        lines.append("       WordNet fallback (recorded; see docs/judges.md)")
    return lines

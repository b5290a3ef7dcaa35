"""``halbench doctor``: what is installed, what is missing, and how to fix it."""

from __future__ import annotations

import sys

from halbench.paths import cache_dir, halbench_home, nltk_data_dir


def run_doctor() -> tuple[str, bool]:
    """Return the report text and whether everything needed is present."""
    from halbench.nlp import nltk_data
    from halbench.nlp.tokenize import CHECKED_RULE_SIGNATURES, rules_signature
    from halbench.provenance import git_revision, halbench_version, package_versions

    ok = True
    lines = [f"halbench {halbench_version()}  (python {sys.version.split()[0]})"]
    rev, dirty = git_revision()
    if rev:
        lines.append(f"  source: git {rev[:12]}{' (uncommitted changes)' if dirty else ''}")
    lines.append(f"  data and caches: {halbench_home()}")

    info = nltk_data.locate()
    lines.append("")
    lines.append(f"NLTK {info.nltk_version}")
    if not info.nltk_version.startswith("3.10."):
        ok = False
        lines.append(
            "  [!!] NLTK must be 3.10.x (older versions tokenise quoted words differently)."
        )
        lines.append("       fix: pip install 'nltk>=3.10,<3.11'")
    if info.wordnet_path is None:
        ok = False
        lines.append("  [!!] WordNet: missing")
        lines.append(f"       searched NLTK's data paths and {nltk_data_dir()}")
        lines.append("       fix: halbench setup nltk   (offline: add --install-debian, or first")
        lines.append("            apt-get install -y " + " ".join(nltk_data.DEBIAN_PACKAGES) + ")")
    else:
        lines.append(f"  [ok] WordNet: {info.wordnet_path} ({info.wordnet_source})")
        if info.wordnet_matches_reference:
            lines.append(
                "       noun data identical to WordNet 3.0 (index.noun, noun.exc): reference lemmas"
            )
        else:
            ok = False
            lines.append(
                "  [!!] WordNet noun data differs from WordNet 3.0: lemmas may differ from the reference"
            )
            lines.append("       fix: remove that copy and run `halbench setup nltk`")
    if info.punkt_path is None:
        lines.append("  [--] Punkt English model (punkt_tab): missing; an untrained Punkt is used,")
        lines.append("       which also splits sentences after abbreviations (mr., st., ...).")
        lines.append("       fix: halbench setup nltk")
    else:
        lines.append(f"  [ok] Punkt English model: {info.punkt_path}")
    sig = rules_signature()
    if sig in CHECKED_RULE_SIGNATURES:
        lines.append(
            "  [ok] fast tokenizer: enabled (NLTK's word-tokenizer rules are the checked ones)"
        )
    else:
        lines.append(
            "  [--] fast tokenizer: disabled, NLTK's word-tokenizer rules differ from the checked"
        )
        lines.append(
            f"       version (signature {sig[:12]}); results are the same, scoring is slower."
        )

    lines.append("")
    lines.append(
        "Packages: " + ", ".join(f"{k} {v}" for k, v in package_versions(("tqdm",)).items())
    )
    from halbench.doctor_models import model_lines
    from halbench.judges.doctor import judge_lines

    lines += ["", *model_lines()]

    lines += ["", *judge_lines()]
    gt_cache = cache_dir() / "ground_truth"
    n = len(list(gt_cache.glob("*.json"))) if gt_cache.exists() else 0
    lines.append(f"Ground-truth cache: {n} file(s) in {gt_cache}")
    lines.append("")
    lines.append(
        "All required data present." if ok else "Something required is missing: see [!!] above."
    )
    return "\n".join(lines), ok

"""The NLTK tokenizer + lemmatizer pair used by RLHF-V's CHAIR, with provenance."""

from __future__ import annotations

import hashlib
from typing import Any

from halbench.nlp import nltk_data
from halbench.nlp.lemma import NounLemmatizer
from halbench.nlp.tokenize import ChunkMap, T, WordTokenizer, make_punkt


class NltkPipeline:
    """``nltk.word_tokenize`` and ``WordNetLemmatizer().lemmatize`` (noun), memoised.

    The lemmatizer is loaded on the first lemma that is not memoised, so code that
    only reads a ground-truth cache never pays for it. The fast one
    (``halbench.nlp.lemma``, about 0.03 s to load from its cache) gives NLTK's
    lemmas; NLTK's own ``WordNetLemmatizer`` loads all of WordNet (about 3 s).

    Args:
        info: the located NLTK data (``nltk_data.require()`` when omitted).
        fast: use the fast exact tokenizer (``False``: plain NLTK, same tokens).
        lemmatizer: ``"fast"`` (the default when ``fast``; NLTK's own when the installed
            NLTK or data is not a checked one) or ``"nltk"`` (the default otherwise).
    """

    def __init__(
        self,
        info: nltk_data.NltkDataInfo | None = None,
        *,
        fast: bool = True,
        lemmatizer: str | None = None,
    ) -> None:
        self.info = info if info is not None else nltk_data.require()
        self.punkt = make_punkt(trained=self.info.punkt_source == "punkt_tab")
        self.tokenizer = WordTokenizer(self.punkt, fast=fast)
        wanted = lemmatizer or ("fast" if fast else "nltk")
        if wanted not in ("fast", "nltk"):
            raise ValueError(f"lemmatizer must be 'fast' or 'nltk', not {wanted!r}")
        self._wanted_lemmatizer = wanted
        self._lemmas: dict[str, str] = {}
        self._lemmatize: Any = None
        self._lemmatizer_mode: str | None = None
        self._fingerprint: str | None = None

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def map_chunks(self, text: str, cmap: ChunkMap[T]) -> list[T]:
        return self.tokenizer.map_chunks(text, cmap)

    def lemmatize(self, token: str) -> str:
        lemma = self._lemmas.get(token)
        if lemma is None:
            if self._lemmatize is None:
                self._load_lemmatizer()
            lemma = self._lemmas[token] = self._lemmatize(token)
        return lemma

    @property
    def lemmatizer_mode(self) -> str:
        """``"fast"`` or ``"nltk"``: which lemmatizer runs (loads it if needed)."""
        if self._lemmatize is None:
            self._load_lemmatizer()
        assert self._lemmatizer_mode is not None
        return self._lemmatizer_mode

    def _load_lemmatizer(self) -> None:
        if self._wanted_lemmatizer == "fast":
            fast = NounLemmatizer.load(self.info.wordnet_noun_fingerprint)
            if fast is not None:
                self._lemmatize, self._lemmatizer_mode = fast.lemmatize, "fast"
                return
        from nltk.stem import WordNetLemmatizer

        self._lemmatize, self._lemmatizer_mode = WordNetLemmatizer().lemmatize, "nltk"

    def fingerprint(self) -> str:
        """Identifies everything that can change tokens or lemmas (not the speed path); memoised."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        punkt = "untrained"
        if self.info.punkt_path:
            h = hashlib.sha256()
            for name in (
                "abbrev_types.txt",
                "collocations.tab",
                "ortho_context.tab",
                "sent_starters.txt",
            ):
                with self.punkt_file(name) as f:
                    h.update(name.encode() + b"\0" + f.read())
            punkt = h.hexdigest()
        parts = [self.info.nltk_version, self.info.wordnet_noun_fingerprint or "", punkt]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def punkt_file(self, name: str) -> Any:
        import nltk

        return nltk.data.find(nltk_data.PUNKT_RESOURCE).join(name).open()

    def provenance(self) -> dict[str, Any]:
        d = self.info.as_dict()
        d["tokenizer"] = self.tokenizer.mode
        d["lemmatizer"] = self._lemmatizer_mode or "unused"
        return d

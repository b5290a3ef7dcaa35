"""``nltk.word_tokenize``, exactly, but fast on large inputs.

``nltk.word_tokenize(text)`` splits ``text`` into sentences with Punkt, then runs
``NLTKWordTokenizer`` (about 30 regular-expression passes) on every sentence.
``WordTokenizer.tokenize`` returns the same tokens, computed differently:

1. **Sentences.** Punkt itself, with its only expensive step,
   ``text_contains_sentbreak(context)``, memoised: it is a pure function of a
   short context string (word, sentence-end character, next token). The plain
   contexts ("word. next" where "word" is no abbreviation and starts no
   collocation, "word? next") are answered without Punkt (``plain_sentbreak``;
   only on the checked ``punkt.py``, see ``punkt_signature``). A text with
   no candidate sentence end is one sentence without calling Punkt at all (that is
   what Punkt returns for it).
2. **Words.** Inside one sentence, every rule of ``NLTKWordTokenizer`` looks at
   most one character across a whitespace run, except the rules anchored at the
   start (``^"``) and at the end (the final period, which may be followed by
   closing quotes/brackets separated by spaces). So a sentence's tokens are the
   concatenation of the tokens of its whitespace-separated chunks, each
   tokenised in isolation with the one character of context on each side that
   the rules can see, and the *end group* (the last chunk that is not made only
   of closing characters, plus everything after it) tokenised with its real
   ending. Chunk results are memoised; common chunks (plain words, "word,",
   "word.") are recognised by a regular expression without running the regex
   passes at all.

The decomposition depends on the exact rules of the installed NLTK. They are
fingerprinted (``rules_signature``); on a version whose rules we have not
checked, ``WordTokenizer`` runs plain NLTK instead (same tokens, no speed-up) and
reports ``mode == "nltk"``. Tests compare both paths on tens of thousands of real
and generated texts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_WS = re.compile(r"\s+")
#: Whitespace other than single spaces between chunks (handled by the general path).
_IRREGULAR_WS = re.compile(r"[^\S ]| {2}|^ | $")
#: Plain words: letters/digits, optionally hyphenated. NLTKWordTokenizer keeps them whole
#: unless one of its contraction rules splits them (``_CONTRACTION_WORDS``).
_PLAIN = r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_PLAIN_RE = re.compile(_PLAIN)
_PLAIN_COMMA_RE = re.compile(f"({_PLAIN}),")
_PLAIN_PERIOD_RE = re.compile(f"({_PLAIN})\\.")
#: Whole words that CONTRACTIONS2 splits without an apostrophe (cannot -> can not, ...).
_CONTRACTION_WORDS = frozenset({"cannot", "gimme", "gonna", "gotta", "lemme", "wanna"})
#: Characters the final-period rule lets follow the period (with spaces in between).
_CLOSERS = frozenset("])}>\"'\u00bb\u201d\u2019")

#: ``rules_signature()`` values for which the chunk decomposition was checked
#: (nltk 3.10.4). Another value makes ``WordTokenizer`` fall back to plain NLTK.
CHECKED_RULE_SIGNATURES = frozenset(
    {"288385c0653f4fcdb89d229ca26b131e5cbf239b514bb81d5b248ad92204a545"}
)

_MAX_MEMO = 2_000_000  # entries per memo before it is cleared (bounds memory on huge inputs)


def _plain_ok(word: str) -> bool:
    return not any(part.lower() in _CONTRACTION_WORDS for part in word.split("-"))


def rules_signature() -> str:
    """sha256 over the regular expressions of NLTK's word tokenizer (``NLTKWordTokenizer``).

    Punkt is not part of it: sentences always come from Punkt itself.
    """
    from nltk.tokenize.destructive import NLTKWordTokenizer as T

    def pat(p: Any) -> str:
        return getattr(p, "pattern", str(p))

    parts: list[str] = []
    for name in ("STARTING_QUOTES", "PUNCTUATION", "ENDING_QUOTES"):
        parts += [f"{name}:{pat(p)}=>{r}" for p, r in getattr(T, name)]
    parts.append(f"PARENS:{pat(T.PARENS_BRACKETS[0])}=>{T.PARENS_BRACKETS[1]}")
    parts.append(f"DASH:{pat(T.DOUBLE_DASHES[0])}=>{T.DOUBLE_DASHES[1]}")
    parts += [f"C2:{pat(p)}" for p in T.CONTRACTIONS2]
    parts += [f"C3:{pat(p)}" for p in T.CONTRACTIONS3]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


#: ``punkt_signature()`` values (nltk 3.10.4) for which ``plain_sentbreak`` was checked;
#: with another NLTK every context goes to Punkt (memoised).
CHECKED_PUNKT_SIGNATURES = frozenset(
    {"13396705806d7a1c271052c0ee6e310af51be0dbc11abf81c7f7cd0325b92cac"}
)


def punkt_signature() -> str:
    """sha256 of NLTK's ``nltk/tokenize/punkt.py`` (any change disables ``plain_sentbreak``)."""
    from nltk.tokenize import punkt

    with open(punkt.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


#: Punkt contexts whose answer is "sentence break" without running Punkt (see
#: ``plain_sentbreak``): a word of ASCII letters (hyphens inside allowed) ending in "."
#: or a word of letters ending in "?"/"!", then whitespace and the next token.
_PLAIN_BREAK_RE = re.compile(
    r"([A-Za-z]+(?:-[A-Za-z]+)*)\.[ \t\n\r]+\S+|[A-Za-z]+[?!][ \t\n\r]+\S+"
)


def plain_sentbreak(context: str, not_plain: frozenset[str]) -> bool:
    """True when Punkt's ``text_contains_sentbreak(context)`` is surely True.

    ``not_plain``: the model's abbreviation types and the first words of its
    collocations. For "word. next" Punkt's first pass marks "word." a sentence break
    unless "word" (or its last hyphen part) is a known abbreviation; the second pass
    can undo that only through a collocation (word, next), an abbreviation or ellipsis,
    an initial (one letter) or a number. "word?"/"word!" is always a break. Either way a
    token follows, so the context contains a break. ``False``: ask Punkt.
    """
    m = _PLAIN_BREAK_RE.fullmatch(context)
    if m is None:
        return False
    word = m.group(1)
    if word is None:
        return True
    if len(word) < 2:
        return False
    low = word.lower()
    return low not in not_plain and low.rsplit("-", 1)[-1] not in not_plain


def _memo_sentbreak(cls: type) -> type:
    """Subclass a Punkt tokenizer class so ``text_contains_sentbreak`` is memoised and
    plain contexts (``plain_sentbreak``) skip Punkt's token annotation."""

    class Memo(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._sentbreak_memo: dict[str, bool] = {}
            params = self._params
            self.plain_shortcut = punkt_signature() in CHECKED_PUNKT_SIGNATURES
            self.not_plain = frozenset(params.abbrev_types) | frozenset(
                a for a, _ in params.collocations
            )

        def text_contains_sentbreak(self, text: str) -> bool:
            memo = self._sentbreak_memo
            hit = memo.get(text)
            if hit is None:
                if self.plain_shortcut and plain_sentbreak(text, self.not_plain):
                    return True
                if len(memo) > _MAX_MEMO:
                    memo.clear()
                hit = memo[text] = super().text_contains_sentbreak(text)
            return hit

    Memo.__name__ = Memo.__qualname__ = f"Memo{cls.__name__}"
    return Memo


def make_punkt(trained: bool) -> Any:
    """English Punkt from ``punkt_tab`` (``trained``) or an untrained one, memoised."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

    if trained:
        return _memo_sentbreak(PunktTokenizer)("english")
    return _memo_sentbreak(PunktSentenceTokenizer)()


class ChunkMap(Generic[T]):
    """A memo of ``fn(tokens of one chunk)``, keyed by the chunk and the context its tokens depend on.

    ``WordTokenizer.map_chunks`` fills it. Keeping one per caller lets the caller
    memoise its own function of the tokens (lemmas, say) at the cost of one dict
    lookup per chunk.
    """

    def __init__(self, fn: Callable[[tuple[str, ...]], T]) -> None:
        self.fn = fn
        self.middle: dict[str, T] = {}  # chunk with one space before and after
        self.first: dict[str, T] = {}  # first chunk of a sentence, one space after
        self.end: dict[str, T] = {}  # end group after one space
        self.whole: dict[str, T] = {}  # end group that is the whole sentence
        self.general: dict[tuple[str, str, str], T] = {}  # any other whitespace

    def size(self) -> int:
        return (
            len(self.middle) + len(self.first) + len(self.end) + len(self.whole) + len(self.general)
        )

    def clear(self) -> None:
        for d in (self.middle, self.first, self.end, self.whole, self.general):
            d.clear()


class WordTokenizer:
    """Tokens identical to ``nltk.word_tokenize(text)`` with the given Punkt model.

    Args:
        punkt: a Punkt sentence tokenizer (see ``make_punkt``); the same object
            ``nltk.word_tokenize`` would use gives the same sentences.
        fast: use the chunk decomposition when NLTK's rules are the checked ones.
            ``False`` always runs plain NLTK (used as the baseline in ``perf/``).
    """

    def __init__(self, punkt: Any, *, fast: bool = True) -> None:
        from nltk.tokenize import NLTKWordTokenizer

        self._punkt = punkt
        self._treebank: Callable[[str], list[str]] = NLTKWordTokenizer().tokenize
        self._period_re = punkt._lang_vars.period_context_re()
        self.mode = "fast" if fast and rules_signature() in CHECKED_RULE_SIGNATURES else "nltk"
        self._tokens: ChunkMap[tuple[str, ...]] = ChunkMap(lambda toks: toks)

    # -- sentences ---------------------------------------------------------------------
    def sentences(self, text: str) -> list[str]:
        """Punkt's sentences for ``text`` (what ``nltk.sent_tokenize`` returns)."""
        if self._period_re.search(text) is None:
            # No candidate sentence end: Punkt yields one slice up to the stripped end.
            end = len(text.rstrip())
            return [text[:end]] if end else []
        return self._punkt.tokenize(text)

    # -- words -------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Return ``nltk.word_tokenize(text)``."""
        out: list[str] = []
        for group in self.map_chunks(text, self._tokens):
            out.extend(group)
        return out

    def map_chunks(self, text: str, cmap: ChunkMap[T]) -> list[T]:
        """``cmap.fn`` of the tokens of each chunk of ``text``, in order.

        Concatenating the token tuples gives ``nltk.word_tokenize(text)``. In ``"nltk"``
        mode there is one "chunk" per sentence, tokenised by NLTK itself.
        """
        out: list[T] = []
        if self.mode != "fast":
            fn = cmap.fn
            for sent in self._punkt.tokenize(text):
                out.append(fn(tuple(self._treebank(sent))))
            return out
        if cmap.size() > _MAX_MEMO:
            cmap.clear()
        for sent in self.sentences(text):
            if _IRREGULAR_WS.search(sent) is None:
                self._regular_sentence(sent, cmap, out)
            else:
                self._general_sentence(sent, cmap, out)
        return out

    def _regular_sentence(self, sent: str, cmap: ChunkMap[T], out: list[T]) -> None:
        """A sentence whose chunks are separated by single spaces, none at either end."""
        parts = sent.split(" ")
        e = len(parts) - 1
        while e > 0 and _only_closers(parts[e]):
            e -= 1
        fn = cmap.fn
        if e == 0:
            got = cmap.whole.get(sent)
            if got is None:
                got = cmap.whole[sent] = fn(self._end_tokens("", sent))
            out.append(got)
            return
        chunk = parts[0]
        got = cmap.first.get(chunk)
        if got is None:
            got = cmap.first[chunk] = fn(self._middle_tokens("", chunk, " "))
        out.append(got)
        middle = cmap.middle
        gots = [middle.get(chunk) for chunk in parts[1:e]]
        if None in gots:  # memo misses (values are never None)
            for j, got in enumerate(gots):
                if got is None:
                    chunk = parts[j + 1]
                    got = middle.get(chunk)  # an earlier miss in this sentence may have filled it
                    if got is None:
                        got = middle[chunk] = fn(self._middle_tokens(" ", chunk, " "))
                    gots[j] = got
        out.extend(gots)
        tail = parts[e] if e == len(parts) - 1 else " ".join(parts[e:])
        got = cmap.end.get(tail)
        if got is None:
            got = cmap.end[tail] = fn(self._end_tokens(" ", tail))
        out.append(got)

    def _general_sentence(self, sent: str, cmap: ChunkMap[T], out: list[T]) -> None:
        parts = _WS.split(sent)
        seps = _WS.findall(sent)
        # parts alternate with seps: parts[0] seps[0] parts[1] seps[1] ...; parts[0] is ""
        # when the sentence starts with whitespace, parts[-1] is "" when it ends with it.
        last = len(parts) - 1
        if parts[last] == "":
            last -= 1
        first = 1 if parts[0] == "" else 0
        if last < first:
            return
        # The end group starts at the last chunk that is not made only of closing characters.
        e = last
        while e > first and _only_closers(parts[e]):
            e -= 1
        fn, general = cmap.fn, cmap.general
        for j in range(first, e):
            before = seps[j - 1][-1] if j > 0 else ""
            key = (before, parts[j], seps[j][0])
            got = general.get(key)
            if got is None:
                got = general[key] = fn(self._middle_tokens(*key))
            out.append(got)
        before = seps[e - 1][-1] if e > 0 else ""
        # Everything from chunk e to the end of the sentence, with its real whitespace.
        tail = "".join([p + s for p, s in zip(parts[e:], seps[e:], strict=False)]) + parts[-1]
        key = ("end", before, tail)
        got = general.get(key)
        if got is None:
            got = general[key] = fn(self._end_tokens(before, tail))
        out.append(got)

    def _middle_tokens(self, before: str, chunk: str, after: str) -> tuple[str, ...]:
        """Tokens of a chunk that is not at the end of its sentence."""
        if _PLAIN_RE.fullmatch(chunk) and _plain_ok(chunk):
            return (chunk,)
        m = _PLAIN_COMMA_RE.fullmatch(chunk)
        if m and _plain_ok(m.group(1)):
            return (m.group(1), ",")
        # A sentinel token after the real following whitespace keeps the end-anchored
        # rules away from the chunk; the rules never look further than that character.
        toks = self._treebank(before + chunk + after + "x")
        if not toks or toks[-1] != "x":  # pragma: no cover - would mean the analysis is wrong
            raise AssertionError(f"tokenizer decomposition failed on {chunk!r}")
        return tuple(toks[:-1])

    def _end_tokens(self, before: str, tail: str) -> tuple[str, ...]:
        """Tokens of the end group (see the module docstring), ``before`` its preceding character."""
        stripped = tail.rstrip()
        m = _PLAIN_PERIOD_RE.fullmatch(stripped)
        if m and _plain_ok(m.group(1)):
            return (m.group(1), ".")
        if _PLAIN_RE.fullmatch(stripped) and _plain_ok(stripped):
            return (stripped,)
        return tuple(self._treebank(before + tail))


_CLOSER_CHARS = "".join(sorted(_CLOSERS))


def _only_closers(chunk: str) -> bool:
    return not chunk.strip(_CLOSER_CHARS)

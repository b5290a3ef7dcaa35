"""Pattern 3.6's ``singularize`` (``pattern.en``), reimplemented: the behaviour CHAIR depends on.

The original CHAIR (LisaAnne/Hallucination ``utils/chair.py``) puts every caption token
through ``pattern.en.singularize``. Pattern cannot be installed here, so this module
implements the same procedure from its published rules (clips/pattern, Pattern 3.6,
``pattern/text/en/inflect.py``; BSD licence; its singular rules adapted from Bermi
Ferrer's Inflector, MIT). Our own code; the word lists and suffix rules are the data
that define the behaviour. Steps, first hit wins:

1. a hyphenated word whose second part is a preposition ("mothers-in-law") singularizes
   its first part only;
2. a word ending in an apostrophe ("dogs'") becomes the singular of the rest + "'s";
3. the lower-cased word is a *suffix* of an uninflected or uncountable word -> unchanged
   (so "s", "a", "es", "ice", "is" come back unchanged: "tuna" ends with "a");
4. it ends with a listed "-ie" noun + "s" -> returned lower-cased and *unchanged*
   ("cookies", "doggies", "collies" stay plural; "^pie"/"^tie" are literal strings in
   the list and never match a real word);
5. it ends with an irregular plural -> that ending replaced ("men" -> "man", so "women"
   -> "woman"; "our" -> "my", so "four" -> "fmy"; "axes" -> "axe", so "taxes" -> "taxe");
6. the ordered suffix rules below, first match wins; the last one strips a final "s",
   which gives the quirks CHAIR inherits: bus -> bu, glass -> glas, tennis -> tenni,
   his -> hi, this -> thi, was -> wa;
7. otherwise unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Step 1: prepositions of compound words such as "mother-in-law".
PREPOSITIONS = frozenset(
    "about above across after among around at athwart before behind below beneath beside "
    "besides between betwixt beyond but by during except for from in into near of off on "
    "onto out over since till to under until unto upon with".split()
)

# Step 3: words that do not inflect (Pattern's two lists, merged: they act the same).
UNINFLECTED = frozenset(
    # uninflected
    "bison debris headquarters pincers trout bream diabetes herpes pliers tuna breeches djinn "
    "high-jinks proceedings whiting britches eland homework rabies wildebeest carp elk innings "
    "salmon chassis flounder jackanapes scissors christmas gallows mackerel series clippers "
    "georgia measles shears cod graffiti mews species contretemps mumps swine corps news swiss "
    # uncountable
    "advice equipment happiness luggage software bread fruit information mathematics progress "
    "understanding butter furniture ketchup mayonnaise research water cheese garbage knowledge "
    "meat rice electricity gravel love mustard sand".split()
)

# Step 4: nouns in "-ie" (plural "-ies"); "^pie" and "^tie" are kept as the literal strings
# Pattern lists (it compares with endswith, not a regular expression).
IE_NOUNS = (
    "alergie",
    "cutie",
    "hoagie",
    "newbie",
    "softie",
    "veggie",
    "auntie",
    "doggie",
    "hottie",
    "nightie",
    "sortie",
    "weenie",
    "beanie",
    "eyrie",
    "indie",
    "oldie",
    "stoolie",
    "yuppie",
    "birdie",
    "freebie",
    "junkie",
    "^pie",
    "sweetie",
    "zombie",
    "bogie",
    "goonie",
    "laddie",
    "pixie",
    "techie",
    "bombie",
    "groupie",
    "laramie",
    "quickie",
    "^tie",
    "collie",
    "hankie",
    "lingerie",
    "reverie",
    "toughie",
    "cookie",
    "hippie",
    "meanie",
    "rookie",
    "valkyrie",
)
_IE_PLURALS = tuple(x + "s" for x in IE_NOUNS)

# Step 5: irregular plural endings -> singular endings (no ending here is a suffix of
# another, so the order does not matter).
IRREGULAR = {
    "atlantes": "atlas",
    "atlases": "atlas",
    "axes": "axe",
    "beeves": "beef",
    "brethren": "brother",
    "children": "child",
    "corpora": "corpus",
    "corpuses": "corpus",
    "ephemerides": "ephemeris",
    "feet": "foot",
    "ganglia": "ganglion",
    "geese": "goose",
    "genera": "genus",
    "genii": "genie",
    "graffiti": "graffito",
    "helves": "helve",
    "kine": "cow",
    "leaves": "leaf",
    "loaves": "loaf",
    "men": "man",
    "mongooses": "mongoose",
    "monies": "money",
    "moves": "move",
    "mythoi": "mythos",
    "numena": "numen",
    "occipita": "occiput",
    "octopodes": "octopus",
    "opera": "opus",
    "opuses": "opus",
    "our": "my",
    "oxen": "ox",
    "penes": "penis",
    "penises": "penis",
    "people": "person",
    "sexes": "sex",
    "soliloquies": "soliloquy",
    "teeth": "tooth",
    "testes": "testis",
    "trilbys": "trilby",
    "turves": "turf",
    "zoa": "zoon",
}
_IRREGULAR_RE = {k: re.compile(f"(?i){k}$") for k in IRREGULAR}

_I = "(?i)"  # the rules Pattern marks case-insensitive; the "-ves" rules without it are not
# Step 6: (pattern, replacement), in Pattern's order. Quirks kept: "[octop|vir]" and
# "[m|l]" are character classes (so "spaghetti" -> "spaghettus"); "^(ox)en" has no "$";
# in the "-ses" alternation only "analy" captures a second group, so a word that merely
# ends in "analyses" gets an extra "a" ("psychoanalyses" -> "psychoanalyasis").
SUFFIX_RULES: tuple[tuple[str, str], ...] = (
    (_I + r"(.)ae$", r"\1a"),
    (_I + r"(.)itis$", r"\1itis"),
    (_I + r"(.)eaux$", r"\1eau"),
    (_I + r"(quiz)zes$", r"\1"),
    (_I + r"(matr)ices$", r"\1ix"),
    (_I + r"(ap|vert|ind)ices$", r"\1ex"),
    (_I + r"^(ox)en", r"\1"),
    (_I + r"(alias|status)es$", r"\1"),
    (_I + r"([octop|vir])i$", r"\1us"),
    (_I + r"(cris|ax|test)es$", r"\1is"),
    (_I + r"(shoe)s$", r"\1"),
    (_I + r"(o)es$", r"\1"),
    (_I + r"(bus)es$", r"\1"),
    (_I + r"([m|l])ice$", r"\1ouse"),
    (_I + r"(x|ch|ss|sh)es$", r"\1"),
    (_I + r"(m)ovies$", r"\1ovie"),
    (_I + r"(.)ombies$", r"\1ombie"),
    (_I + r"(s)eries$", r"\1eries"),
    (_I + r"([^aeiouy]|qu)ies$", r"\1y"),
    (r"([aeo]l)ves$", r"\1f"),
    (r"([^d]ea)ves$", r"\1f"),
    (r"arves$", "arf"),
    (r"erves$", "erve"),
    (r"([nlw]i)ves$", r"\1fe"),
    (_I + r"([lr])ves$", r"\1f"),
    (r"([aeo])ves$", r"\1ve"),
    (_I + r"(sive)s$", r"\1"),
    (_I + r"(tive)s$", r"\1"),
    (_I + r"(hive)s$", r"\1"),
    (_I + r"([^f])ves$", r"\1fe"),
    (_I + r"(^analy)ses$", r"\1sis"),
    (_I + r"((a)naly|(b)a|(d)iagno|(p)arenthe|(p)rogno|(s)ynop|(t)he)ses$", r"\1\2sis"),
    (_I + r"(.)opses$", r"\1opsis"),
    (_I + r"(.)yses$", r"\1ysis"),
    (_I + r"(h|d|r|o|n|b|cl|p)oses$", r"\1ose"),
    (_I + r"(fruct|gluc|galact|lact|ket|malt|rib|sacchar|cellul)ose$", r"\1ose"),
    (_I + r"(.)oses$", r"\1osis"),
    (_I + r"([ti])a$", r"\1um"),
    (_I + r"(n)ews$", r"\1ews"),
    (_I + r"s$", ""),
)
# An unmatched group is replaced by "" (Python >= 3.5), as Pattern's removal of "\\k" does.
_RULES = tuple((re.compile(p), r) for p, r in SUFFIX_RULES)


def singularize(word: str) -> str:
    """The singular of ``word`` as Pattern 3.6's ``singularize(word)`` returns it (see above)."""
    if "-" in word:
        parts = word.split("-")
        if parts[1] in PREPOSITIONS:
            return singularize(parts[0]) + "-" + "-".join(parts[1:])
    if word.endswith("'"):
        return singularize(word[:-1]) + "'s"
    low = word.lower()
    if any(x.endswith(low) for x in UNINFLECTED):
        return word
    if low.endswith(_IE_PLURALS):
        return low
    for ending, singular in IRREGULAR.items():
        if low.endswith(ending):
            return _IRREGULAR_RE[ending].sub(singular, word)
    for rule, replacement in _RULES:
        if rule.search(word) is not None:
            return rule.sub(replacement, word)
    return word


#: ``singularize`` memoised (tokens repeat a lot in captions).
singularize_cached = lru_cache(maxsize=1 << 16)(singularize)

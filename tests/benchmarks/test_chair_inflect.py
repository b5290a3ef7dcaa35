"""Pattern 3.6 ``singularize`` (benchmarks/chair/inflect.py): hand-computed outputs, and every
WordNet noun form against a second implementation written with plain string tests."""

from __future__ import annotations

import pytest

from benchmarks.chair.inflect import singularize

# The spec's outputs (docs/specs/scoring-chair.md), then one or more words per rule
# category, each worked out by hand from Pattern's rules.
HAND = {
    # spec
    "men": "man",
    "women": "woman",
    "buses": "bus",
    "bus": "bu",
    "glasses": "glass",
    "glass": "glas",
    "tennis": "tenni",
    "people": "person",
    "children": "child",
    "mice": "mouse",
    "knives": "knife",
    "scissors": "scissors",
    "sheep": "sheep",
    "his": "hi",
    "this": "thi",
    "was": "wa",
    # suffix of an uninflected/uncountable word: unchanged
    "s": "s",
    "a": "a",
    "is": "is",
    "es": "es",
    "news": "news",
    "series": "series",
    "species": "species",
    "rice": "rice",
    "ice": "ice",
    "swiss": "swiss",
    "ss": "ss",
    "trout": "trout",
    "salmon": "salmon",
    "luggage": "luggage",
    "water": "water",
    # "-ie" nouns: the plural comes back unchanged
    "cookies": "cookies",
    "doggies": "doggies",
    "collies": "collies",
    "zombies": "zombies",
    "pies": "py",
    "ties": "ty",
    # irregular endings (also inside longer words)
    "feet": "foot",
    "teeth": "tooth",
    "geese": "goose",
    "oxen": "ox",
    "our": "my",
    "four": "fmy",
    "hour": "hmy",
    "taxes": "taxe",
    "axes": "axe",
    "leaves": "leaf",
    "removes": "remove",
    "specimen": "speciman",
    "opera": "opus",
    "protozoa": "protozoon",
    "kine": "cow",
    # ordered suffix rules
    "algae": "alga",
    "arthritis": "arthritis",
    "plateaux": "plateau",
    "quizzes": "quiz",
    "matrices": "matrix",
    "vertices": "vertex",
    "indices": "index",
    "oxenfree": "oxfree",
    "aliases": "alias",
    "statuses": "status",
    "octopi": "octopus",
    "cacti": "cactus",
    "spaghetti": "spaghettus",
    "taxi": "taxi",
    "crises": "crisis",
    "shoes": "shoe",
    "potatoes": "potato",
    "boxes": "box",
    "churches": "church",
    "dishes": "dish",
    "movies": "movie",
    "babies": "baby",
    "soliloquies": "soliloquy",
    "colloquies": "colloquy",
    "days": "day",
    "wolves": "wolf",
    "halves": "half",
    "calves": "calf",
    "loaves": "loaf",
    "sheaves": "sheaf",
    "dwarves": "dwarf",
    "nerves": "nerve",
    "wives": "wife",
    "lives": "life",
    "elves": "elf",
    "curves": "curf",
    "archives": "archive",
    "hives": "hive",
    "positives": "positive",
    "grooves": "groove",
    "olives": "olife",
    "stoves": "stove",
    "gloves": "glove",
    "knive": "knive",
    "analyses": "analysis",
    "psychoanalyses": "psychoanalyasis",
    "bases": "basis",
    "diagnoses": "diagnosis",
    "parentheses": "parenthesis",
    "theses": "thesis",
    "synopses": "synopsis",
    "biopses": "biopsis",
    "paralyses": "paralysis",
    "hoses": "hose",
    "noses": "nose",
    "closes": "close",
    "roses": "rose",
    "glucose": "glucose",
    "neuroses": "neurose",
    "symbioses": "symbiosis",
    "bacteria": "bacterium",
    "pasta": "pastum",
    "pizza": "pizza",
    "dogs": "dog",
    "cats": "cat",
    "bananas": "banana",
    "skis": "ski",
    "tv": "tv",
    # hyphen + preposition, genitive
    "mothers-in-law": "mother-in-law",
    "dogs'": "dog's",
    "x-rays": "x-ray",
    "'": "'s",
    "''": "'s's",
    # case: the "-ves" rules without (?i) do not fire on upper case
    "WOLVES": "WOLf",
    "Men": "man",
    "DOGS": "DOG",
    "Cookies": "cookies",
}


@pytest.mark.parametrize(("word", "expected"), sorted(HAND.items()))
def test_hand_computed(word, expected):
    assert singularize(word) == expected


# --------------------------------------------------------------------------- second implementation

_PREPS = set(
    "about before during of till above behind except off to across below for on under after "
    "beneath from onto until among beside in out unto around besides into over upon at between "
    "near since with athwart betwixt beyond but by".split()
)
_KEEP = (
    "bison debris headquarters pincers trout bream diabetes herpes pliers tuna breeches djinn "
    "high-jinks proceedings whiting britches eland homework rabies wildebeest carp elk innings "
    "salmon chassis flounder jackanapes scissors christmas gallows mackerel series clippers "
    "georgia measles shears cod graffiti mews species contretemps mumps swine corps news swiss "
    "advice equipment happiness luggage software bread fruit information mathematics progress "
    "understanding butter furniture ketchup mayonnaise research water cheese garbage knowledge "
    "meat rice electricity gravel love mustard sand"
).split()
_IE = (
    "alergie cutie hoagie newbie softie veggie auntie doggie hottie nightie sortie weenie beanie "
    "eyrie indie oldie stoolie yuppie birdie freebie junkie ^pie sweetie zombie bogie goonie "
    "laddie pixie techie bombie groupie laramie quickie ^tie collie hankie lingerie reverie "
    "toughie cookie hippie meanie rookie valkyrie"
).split()
_IRR = dict(
    pair.split(":")
    for pair in (
        "atlantes:atlas atlases:atlas axes:axe beeves:beef brethren:brother children:child "
        "corpora:corpus corpuses:corpus ephemerides:ephemeris feet:foot ganglia:ganglion "
        "geese:goose genera:genus genii:genie graffiti:graffito helves:helve kine:cow "
        "leaves:leaf loaves:loaf men:man mongooses:mongoose monies:money moves:move "
        "mythoi:mythos numena:numen occipita:occiput octopodes:octopus opera:opus opuses:opus "
        "our:my oxen:ox penes:penis penises:penis people:person sexes:sex "
        "soliloquies:soliloquy teeth:tooth testes:testis trilbys:trilby turves:turf zoa:zoon"
    ).split()
)
_SES = ("analy", "ba", "diagno", "parenthe", "progno", "synop", "the")
_OSE = ("fruct", "gluc", "galact", "lact", "ket", "malt", "rib", "sacchar", "cellul")


def expected_singular(w: str) -> str:
    """Pattern 3.6's singularize for lower-case words, written with string tests, no regex."""
    if "-" in w:
        parts = w.split("-")
        if parts[1] in _PREPS:
            return expected_singular(parts[0]) + "-" + "-".join(parts[1:])
    if w.endswith("'"):
        return expected_singular(w[:-1]) + "'s"
    if any(k.endswith(w) for k in _KEEP):
        return w
    if any(w.endswith(x + "s") for x in _IE):
        return w
    for plural, single in _IRR.items():
        if w.endswith(plural):
            return w[: len(w) - len(plural)] + single
    e, n = w.endswith, len(w)
    if n >= 3 and e("ae"):
        return w[:-1]
    if n >= 5 and e("itis"):
        return w
    if n >= 5 and e("eaux"):
        return w[:-1]
    if e("quizzes"):
        return w[:-3]
    if e("matrices"):
        return w[:-4] + "ix"
    if e(("apices", "vertices", "indices")):
        return w[:-4] + "ex"
    if w.startswith("oxen"):
        return "ox" + w[4:]
    if e(("aliases", "statuses")):
        return w[:-2]
    if n >= 2 and e("i") and w[-2] in "octp|vir":
        return w[:-1] + "us"
    if e(("crises", "axes", "testes")):
        return w[:-2] + "is"
    if e("shoes"):
        return w[:-1]
    if e("oes"):
        return w[:-2]
    if e("buses"):
        return w[:-2]
    if n >= 4 and e("ice") and w[-4] in "m|l":
        return w[:-3] + "ouse"
    if e(("xes", "ches", "sses", "shes")):
        return w[:-2]
    if e("movies"):
        return w[:-1]
    if n >= 7 and e("ombies"):
        return w[:-1]
    if e("series"):
        return w
    if n >= 4 and e("ies") and (w[-4] not in "aeiouy" or w[:-3].endswith("qu")):
        return w[:-3] + "y"
    if n >= 5 and e("lves") and w[-5] in "aeo":
        return w[:-3] + "f"
    if n >= 6 and e("eaves") and w[-6] != "d":
        return w[:-3] + "f"
    if e("arves"):
        return w[:-3] + "f"
    if e("erves"):
        return w[:-1]
    if n >= 5 and e("ives") and w[-5] in "nlw":
        return w[:-3] + "fe"
    if n >= 4 and e("ves") and w[-4] in "lr":
        return w[:-3] + "f"
    if n >= 4 and e("ves") and w[-4] in "aeo":
        return w[:-1]
    if e(("sives", "tives", "hives")):
        return w[:-1]
    if n >= 4 and e("ves") and w[-4] != "f":
        return w[:-3] + "fe"
    if w == "analyses":
        return "analysis"
    for stem in _SES:
        if e(stem + "ses"):
            return w[:-3] + ("a" if stem == "analy" else "") + "sis"
    if n >= 6 and e("opses"):
        return w[:-2] + "is"
    if n >= 5 and e("yses"):
        return w[:-2] + "is"
    if n >= 5 and e("oses") and (w[-5] in "hdronbp" or w[:-4].endswith("cl")):
        return w[:-1]
    if e(tuple(s + "ose" for s in _OSE)):
        return w
    if n >= 5 and e("oses"):
        return w[:-4] + "osis"
    if e(("ta", "ia")):
        return w[:-1] + "um"
    if e("news"):
        return w
    if e("s"):
        return w[:-1]
    return w


def test_second_implementation_agrees_with_hand_table():
    for word, want in HAND.items():
        if word == word.lower():
            assert expected_singular(word) == want, word


@pytest.fixture(scope="module")
def wordnet_noun_forms() -> list[str]:
    from halbench.nlp import nltk_data

    nltk_data.require()
    from nltk.corpus import wordnet as wn

    forms = set(wn.all_lemma_names(pos="n"))
    with wn.open("noun.exc") as f:
        for line in f:
            forms.update(line.split())
    return sorted(forms)


def test_every_wordnet_noun_form(wordnet_noun_forms):
    """Lemma names (underscores kept, as WordNet writes them) and noun.exc forms, both columns."""
    assert len(wordnet_noun_forms) > 100_000
    wrong = [
        (w, singularize(w), expected_singular(w))
        for w in wordnet_noun_forms
        if singularize(w) != expected_singular(w)
    ]
    assert wrong == [], wrong[:20]
    # the comparison is not vacuous: many forms change, through many different rules
    changed = [w for w in wordnet_noun_forms if singularize(w) != w]
    assert len(changed) > 20_000
    # noun.exc plurals that Pattern gets right, and some it gets wrong (kept on purpose)
    assert singularize("mice") == "mouse" and singularize("geese") == "goose"
    assert singularize("cacti") == "cactus" and singularize("bacteria") == "bacterium"
    assert singularize("phenomena") != "phenomenon"  # Pattern has no -a -> -on rule

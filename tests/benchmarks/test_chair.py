"""Classic CHAIR (benchmarks/chair): the spec's quirks by hand, identity with the literal
reference procedure (oracle.py) on OPERA's released captions, answer formats, unknown
images, the ground-truth cache, preparation and the definition file."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

import pytest
import tomllib

from benchmarks.chair import prepare as chair_prepare
from benchmarks.chair.metrics import (
    ChairExtractor,
    ChairVocabulary,
    default_synonyms_text,
    double_words,
)
from benchmarks.chair.oracle import CHAIR
from benchmarks.chair.score import (
    format_table,
    load_answers,
    load_ground_truth,
    score_file,
)
from halbench.errors import InputError
from halbench.types import ResultRecord
from tests.conftest import make_coco_dir

FOLDER = Path(__file__).resolve().parents[2] / "benchmarks" / "chair"
OPERA = Path(__file__).resolve().parents[1] / "data" / "chair"
RUNS = ("greedy", "beam5", "ours")


@pytest.fixture(scope="module")
def cvocab() -> ChairVocabulary:
    return ChairVocabulary.default()


@pytest.fixture(scope="module")
def cx(cvocab, nlp) -> ChairExtractor:
    return ChairExtractor(cvocab, nlp)


# --------------------------------------------------------------------------- synonyms


def test_synonym_file_split_quirk(cvocab):
    assert len(cvocab.classes) == 80
    assert cvocab.classes[:3] == ("person", "bicycle", "car")
    # entries written after two spaces keep a leading space and can never match
    assert " motor bike" in cvocab.canonical and "motor bike" not in cvocab.canonical
    assert " cheesecake" in cvocab.canonical and "cheesecake" not in cvocab.canonical
    # trailing spaces of a line are stripped with the line
    assert cvocab.canonical["bison"] == "cow" and cvocab.canonical["chesterfield"] == "couch"
    assert cvocab.canonical["motorbike"] == "motorcycle"


# --------------------------------------------------------------------------- extraction

EXTRACTION = [
    # (text, mentions, words after merging)
    ("A man and two women.", [("man", "person"), ("woman", "person")], 6),
    ("A bus next to two buses", [("bus", "bus")], 6),  # "bus" -> "bu"
    ("a tennis racket", [("racket", "tennis racket")], 3),  # "tenni racket" never merges
    ("A wine glass and glasses.", [("wine glass", "wine glass")], 5),  # "wine glas" merged
    ("a motor bike, a motorbike", [("motorbike", "motorcycle")], 5),  # " motor bike"
    ("cheesecake and a cupcake", [("cupcake", "cake")], 4),  # " cheesecake"
    ("a toilet seat", [("toilet", "toilet")], 2),
    (
        "the seat of the toilet and a seat",
        [("toilet", "toilet")],
        8,
    ),  # every seat dropped (Len counts before)
    ("a seat", [("seat", "chair")], 2),
    (
        "a baby elephant near an adult giraffe",
        [("elephant", "elephant"), ("giraffe", "giraffe")],
        5,
    ),
    ("a passenger train on a train track", [("train", "train")], 5),  # "train track" swallowed
    ("home plate", [], 1),
    ("a bow tie", [("tie", "tie")], 2),
    ("a dining table", [("table", "dining table")], 3),  # no double word for dining table
    ("sports balls", [("ball", "sports ball")], 2),  # "sport ball" never merges
    ("a stove top oven", [("stove", "oven"), ("oven", "oven")], 4),  # three words: no merge
    ("two doggies and dogs", [("dog", "dog")], 4),  # "doggies" stays plural
    ("People and children", [("person", "person"), ("child", "person")], 3),
    ("an iPhone", [], 2),  # "iphone" is no entry
    (
        "hot dogs, cell phones and teddy bears",
        [("hot dog", "hot dog"), ("cell phone", "cell phone"), ("teddy bear", "teddy bear")],
        5,
    ),
    (
        "mice, knives, scissors and sheep",
        [("mouse", "mouse"), ("knife", "knife"), ("scissors", "scissors"), ("sheep", "sheep")],
        7,
    ),
    ("his bike was red", [("bike", "bicycle")], 4),
    ("a man a man", [("man", "person"), ("man", "person")], 4),  # repeats kept
    ("", [], 0),
]


@pytest.mark.parametrize(("text", "mentions", "n_words"), EXTRACTION)
def test_extraction_quirks(cx, text, mentions, n_words):
    got = cx.extract(text)
    assert got.mentions == mentions
    assert got.n_words == n_words


def test_double_word_table_matches_the_oracle_copy():
    """metrics.double_words() and the oracle's table are written separately: they must agree."""
    oracle = CHAIR([], "/nonexistent", default_synonyms_text())
    assert double_words() == oracle.double_word_dict
    # 27 distinct listed pairs, 24 baby/adult animals, 2 passenger, toilet seat, wine glas
    assert len(oracle.double_word_dict) == 27 + 24 + 2 + 1 + 1


def test_extraction_matches_oracle_on_quirk_texts(cx):
    oracle = CHAIR([], "/nonexistent", default_synonyms_text())
    for text, mentions, n_words in EXTRACTION:
        words, nodes, _, raw = oracle.caption_to_words(text)
        assert list(zip(words, nodes, strict=True)) == mentions, text
        assert len(raw) == n_words, text


# --------------------------------------------------------------------------- small COCO by hand


def _write_coco(directory: Path, *, categories=None) -> Path:
    """Two images in val, one in train; one more image listed without any annotation."""
    directory.mkdir(parents=True, exist_ok=True)
    cats = categories or [
        {"id": 1, "name": "person"},
        {"id": 18, "name": "dog"},
        {"id": 62, "name": "chair"},
        {"id": 67, "name": "dining table"},
    ]
    files = {
        "instances_train2014.json": {
            "info": {},
            "licenses": [],
            "categories": cats,
            "images": [{"id": 3}],
            "annotations": [{"id": 1, "image_id": 3, "category_id": 18}],
        },
        "instances_val2014.json": {
            # val has its own (ignored) category list: the reference reads the train one
            "info": {},
            "licenses": [],
            "categories": [],
            "images": [{"id": 1}, {"id": 2}, {"id": 4}],
            "annotations": [
                {"id": 2, "image_id": 1, "category_id": 1},
                {"id": 3, "image_id": 1, "category_id": 62},
                {"id": 4, "image_id": 2, "category_id": 67},
            ],
        },
        "captions_train2014.json": {
            "info": {},
            "licenses": [],
            "images": [{"id": 3}],
            "annotations": [{"id": 1, "image_id": 3, "caption": "A puppy on a couch."}],
        },
        "captions_val2014.json": {
            "info": {},
            "licenses": [],
            "images": [{"id": 1}, {"id": 2}, {"id": 4}],
            "annotations": [
                {"id": 2, "image_id": 1, "caption": "A man sits on a bench."},
                {"id": 3, "image_id": 2, "caption": "Plates on a table by the toilet seat."},
                # a reference caption of image 1 that is in the *train* caption file
            ],
        },
    }
    files["captions_train2014.json"]["annotations"].append(
        {"id": 9, "image_id": 1, "caption": "Two buses behind the man."}
    )
    for name, payload in files.items():
        (directory / name).write_text(json.dumps(payload))
    return directory


HAND_GT = {
    1: frozenset({"person", "chair", "bench", "bus"}),  # instances + both caption files
    2: frozenset({"dining table", "toilet"}),  # "toilet seat" -> toilet; no chair
    3: frozenset({"dog", "couch"}),  # "puppy" -> dog
    4: frozenset(),  # listed, not annotated: known, empty
}


def test_ground_truth_by_hand(tmp_path, cx):
    gt = load_ground_truth(_write_coco(tmp_path / "ann"), cx, cache_root=tmp_path / "cache")
    assert {i: gt[i] for i in gt.objects} == HAND_GT
    assert gt.cache == ["chair: built"]
    again = load_ground_truth(tmp_path / "ann", cx, cache_root=tmp_path / "cache")
    assert again.cache == ["chair: cache hit"]
    assert {i: again[i] for i in again.objects} == HAND_GT
    # a changed file is a new key: rebuilt
    (tmp_path / "ann" / "captions_val2014.json").write_text(
        json.dumps({"images": [{"id": 1}], "annotations": []})
    )
    changed = load_ground_truth(tmp_path / "ann", cx, cache_root=tmp_path / "cache")
    assert changed.cache == ["chair: built"]
    assert changed[2] == frozenset({"dining table"})


def test_ground_truth_errors(tmp_path, cx):
    ann = _write_coco(tmp_path / "ann")
    (ann / "captions_train2014.json").unlink()
    with pytest.raises(InputError, match=r"captions_train2014\.json missing"):
        load_ground_truth(ann, cx, use_cache=False)
    bad = _write_coco(tmp_path / "bad", categories=[{"id": 1, "name": "persona"}])
    with pytest.raises(InputError, match=r'categories\[0\]: "persona" is not an entry'):
        load_ground_truth(bad, cx, use_cache=False)
    bad2 = _write_coco(tmp_path / "bad2", categories=[{"id": 1, "name": "person"}])
    with pytest.raises(
        InputError, match=r"instances_train2014.json.*annotations\[0\]: category_id 18"
    ):
        load_ground_truth(bad2, cx, use_cache=False)


def _answers_file(path: Path, rows: list[tuple[int, str]]) -> Path:
    path.write_text(
        "".join(json.dumps({"image_id": i, "question": "Q", "text": t}) + "\n" for i, t in rows)
    )
    return path


ROWS = [
    (1, "A man on a chair next to a dog."),  # dog hallucinated
    (1, "A man and a man near a bench."),  # several answers for one image; none hallucinated
    (2, "A table."),  # correct
    (3, "Nothing to see here"),  # no mention
    (4, "A cat."),  # known image, empty GT: hallucinated
]


def test_scores_by_hand(tmp_path, cx):
    ann = _write_coco(tmp_path / "ann")
    rec = score_file(_answers_file(tmp_path / "a.jsonl", ROWS), ann, cache_root=tmp_path / "c")
    frac = {k: (f.numerator, f.denominator) for k, f in rec.fractions.items()}
    assert frac["CHAIRs"] == (2, 5)  # captions without mentions count in the denominator
    assert frac["CHAIRi"] == (2, 8)  # man chair dog | man man bench | table | - | cat
    # recall: {person, chair} of 4 + {person, bench} of 4 + {dining table} of 2 + 0/2 + 0/0
    assert frac["recall"] == (5, 12)
    # tokens after merging (the final period is a token): 10 + 9 + 3 + 4 + 3
    assert frac["avg_len"] == (29, 5)
    assert rec.metrics["CHAIRs"] == 0.4 and rec.metrics["CHAIRi"] == 0.25
    first = rec.items[0]
    assert first["mentions"] == [["man", "person"], ["chair", "chair"], ["dog", "dog"]]
    assert first["hallucinated"] == [["dog", "dog"]]
    assert first["gt_objects"] == ["bench", "bus", "chair", "person"]
    assert (first["chair_s"], first["chair_i"]) == (1, 1 / 3)
    assert first["question"] == "Q"  # input fields echoed
    assert rec.items[3]["chair_i"] == 0.0 and rec.items[3]["mentions"] == []
    assert rec.n_items == rec.n_scored == 5 and rec.unscored == []
    assert rec.benchmark == "chair" and rec.benchmark_version == "lisaanne-6e4d33c4"
    roles = [f.role for f in rec.provenance.inputs]
    assert roles[0] == "answers" and "instances_train" in roles and roles[-1] == "synonyms"
    ResultRecord.model_validate_json(rec.to_json())  # round-trips
    table = format_table(rec)
    assert "CHAIR_S   40.0  (2 / 5 captions)" in table
    assert "CHAIR_I   25.0  (2 / 8 mentions)" in table
    assert "Recall    41.7  (5 / 12 GT objects)" in table
    assert "Len        5.8  (29 words / 5 captions)" in table


def test_unknown_images(tmp_path, cx):
    ann = _write_coco(tmp_path / "ann")
    path = _answers_file(tmp_path / "a.jsonl", [*ROWS, (999, "A dog.")])
    with pytest.raises(InputError) as err:
        score_file(path, ann, cache_root=tmp_path / "c")
    assert err.value.line == 6 and err.value.field == "image_id"
    assert "image_id 999 is not in the COCO 2014 ground truth" in str(err.value)
    rec = score_file(path, ann, unknown_images="unscored", cache_root=tmp_path / "c")
    assert (rec.n_items, rec.n_scored, rec.n_unscored) == (6, 5, 1)
    assert rec.unscored[0].index == 5 and rec.unscored[0].line == 6
    assert "unscored" in rec.items[5] and "mentions" not in rec.items[5]
    # the unscored answer is not counted as a caption without hallucination
    assert rec.fractions["CHAIRs"].denominator == 5 and rec.metrics["CHAIRs"] == 0.4
    assert rec.fractions["CHAIRi"].numerator == 2


def test_nothing_scored_is_not_zero(tmp_path, cx):
    ann = _write_coco(tmp_path / "ann")
    path = _answers_file(tmp_path / "a.jsonl", [(999, "A dog.")])
    rec = score_file(path, ann, unknown_images="unscored", cache_root=tmp_path / "c")
    assert rec.metrics["CHAIRs"] is None and rec.metrics["CHAIRi"] is None
    assert rec.not_computable["CHAIRs"] == "n_captions is 0"
    assert "n/a" in format_table(rec)
    # captions without any mention: CHAIR_I has no denominator, CHAIR_S is a real 0
    rec2 = score_file(
        _answers_file(tmp_path / "b.jsonl", [(3, "Nothing.")]), ann, cache_root=tmp_path / "c"
    )
    assert rec2.metrics["CHAIRs"] == 0.0 and rec2.metrics["CHAIRi"] is None


def test_answer_formats(tmp_path, cx):
    ann = _write_coco(tmp_path / "ann")
    files = {
        "rlhfv.jsonl": "".join(
            json.dumps({"image_id": i, "prompt": "Q", "answer": t}) + "\n" for i, t in ROWS
        ),
        "ours.jsonl": "".join(
            json.dumps({"image_id": f"COCO_val2014_{i:012d}.jpg", "question": "Q", "text": t})
            + "\n"
            for i, t in ROWS
        ),
        "opera.jsonl": "".join(json.dumps({"image_id": i, "caption": t}) + "\n" for i, t in ROWS),
        "array.json": json.dumps(
            [{"image_id": str(i), "question": "Q", "text": t} for i, t in ROWS]
        ),
        "lisaanne.json": json.dumps(
            {"imgToEval": {str(k): {"image_id": i, "caption": t} for k, (i, t) in enumerate(ROWS)}}
        ),
    }
    expected = None
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        rec = score_file(tmp_path / name, ann, cache_root=tmp_path / "c")
        got = (
            {k: (f.numerator, f.denominator) for k, f in rec.fractions.items()},
            [it["mentions"] for it in rec.items],
        )
        assert expected is None or got == expected, name
        expected = got
    assert expected[0]["CHAIRs"] == (2, 5)
    # RLHF-V's answer files have no image_id: joined with the question file by line position
    (tmp_path / "q.jsonl").write_text("".join(json.dumps({"image_id": i}) + "\n" for i, _ in ROWS))
    (tmp_path / "noid.jsonl").write_text(
        "".join(json.dumps({"prompt": "Q", "text": t}) + "\n" for _, t in ROWS)
    )
    rec = score_file(
        tmp_path / "noid.jsonl", ann, questions=tmp_path / "q.jsonl", cache_root=tmp_path / "c"
    )
    assert [it["mentions"] for it in rec.items] == expected[1]
    assert rec.provenance.inputs[1].role == "questions"
    (tmp_path / "bad.jsonl").write_text('{"image_id": 1, "caption": 3}\n')
    with pytest.raises(InputError, match='"caption" must be a string'):
        load_answers(tmp_path / "bad.jsonl")


# --------------------------------------------------------------------------- parity with the oracle


@pytest.fixture(scope="module")
def coco_80(tmp_path_factory, caps_boxes, cvocab) -> Path:
    """The 80 bundled val2014 images as a train2014 + val2014 COCO folder."""
    return make_coco_dir(
        tmp_path_factory.mktemp("coco80"), caps_boxes, cvocab, splits=("train", "val")
    )


def _opera(run: str) -> list[dict]:
    with gzip.open(OPERA / f"opera_llava-1.5_{run}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_opera_captions_identical_to_oracle(coco_80, caps_boxes, cx, tmp_path):
    """OPERA's 3 x 500 released LLaVA-1.5 captions, assigned to the 80 fixture images."""
    ids = sorted(int(r["id"]) for r in caps_boxes)
    caps = []
    for run in RUNS:
        rows = _opera(run)
        assert len(rows) == 500
        caps += [
            {"image_id": ids[k % len(ids)], "caption": r["caption"]} for k, r in enumerate(rows)
        ]
    oracle = CHAIR({c["image_id"] for c in caps}, str(coco_80), default_synonyms_text())
    oracle.get_annotations()
    out = oracle.compute_chair(caps)

    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in caps))
    rec = score_file(path, coco_80, cache_root=tmp_path / "cache")
    gt = load_ground_truth(coco_80, cx, cache_root=tmp_path / "cache")
    assert {i: set(gt[i]) for i in ids} == oracle.imid_to_objects
    assert len(rec.items) == len(out["sentences"]) == 1500
    n_mentions = 0
    for item, sent in zip(rec.items, out["sentences"], strict=True):
        pairs = [
            list(p) for p in zip(sent["mscoco_words"], sent["mscoco_generated_words"], strict=True)
        ]
        assert item["mentions"] == pairs
        assert item["hallucinated"] == [list(p) for p in sent["mscoco_hallucinated_words"]]
        assert item["gt_objects"] == sorted(sent["mscoco_gt_words"])
        assert item["chair_s"] == sent["metrics"]["CHAIRs"]
        assert item["chair_i"] == sent["metrics"]["CHAIRi"]
        assert item["n_words"] == len(sent["words"])
        n_mentions += len(pairs)
    om = out["overall_metrics"]
    assert rec.metrics["CHAIRs"] == om["CHAIRs"]
    assert rec.metrics["CHAIRi"] == om["CHAIRi"]
    assert rec.metrics["recall"] == om["Recall"]
    assert rec.metrics["avg_len"] == pytest.approx(100 * om["Len"], rel=1e-12)
    # not vacuous: real captions with many mentions, some hallucinated, some not
    assert n_mentions > 10_000 and 0.2 < rec.metrics["CHAIRs"] < 1.0


# --------------------------------------------------------------------------- prepare


def _images(directory: Path, ids, style: str = "coco") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in ids:
        name = f"COCO_val2014_{i:012d}.jpg" if style == "coco" else f"{i:012d}.jpg"
        (directory / name).write_bytes(b"\xff\xd8\xff")
    return directory


def test_prepare_opera_ids(tmp_path):
    ids = chair_prepare.default_ids()
    assert len(ids) == len(set(ids)) == 500 and ids[:3] == [226988, 337443, 112022]
    images = _images(tmp_path / "val2014", ids)
    out = chair_prepare.prepare_items(images, data_dir=tmp_path / "data")
    assert out == tmp_path / "data" / "chair"
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert [it["image_id"] for it in items] == ids
    assert items[0] == {
        "id": "226988",
        "image": str((images / "COCO_val2014_000000226988.jpg").resolve()),
        "image_id": 226988,
        "question": "Please describe this image in detail.",
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["benchmark"] == "chair" and manifest["items"] == 500
    assert "variant" not in manifest


def test_prepare_missing_image_names_the_file(tmp_path):
    ids = chair_prepare.default_ids()
    images = _images(tmp_path / "val2014", ids[:-1])
    with pytest.raises(InputError) as err:
        chair_prepare.prepare_items(images, data_dir=tmp_path / "data")
    assert f"COCO_val2014_{ids[-1]:012d}.jpg" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "data" / "chair").exists()  # nothing half-prepared


def test_prepare_seeded_sample_is_documented_draw(tmp_path):
    present = list(range(1, 301))
    images = _images(tmp_path / "val2014", present, style="plain")
    (images / "COCO_train2014_000000000999.jpg").write_bytes(b"x")  # not val2014: ignored
    out = chair_prepare.prepare_items(images, sample=50, seed=7, data_dir=tmp_path / "data")
    got = [json.loads(line)["image_id"] for line in (out / "items.jsonl").read_text().splitlines()]
    assert got == random.Random(7).sample(sorted(present), 50)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["variant"] == "sample50-seed7" and manifest["source"]["seed"] == 7
    with pytest.raises(InputError, match="cannot draw 301 images"):
        chair_prepare.prepare_items(images, sample=301, data_dir=tmp_path / "data")


def test_prepare_id_file_and_annotations(tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("5\n\n7\n")
    images = _images(tmp_path / "val2014", [5, 7])
    ann = _write_coco(tmp_path / "ann")
    out = chair_prepare.prepare_items(
        images, ids_file=ids_file, coco_annotations=ann, data_dir=tmp_path / "d"
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["items"] == 2 and manifest["coco_annotations"] == str(ann.resolve())
    ids_file.write_text("5\nfive\n")
    with pytest.raises(InputError, match="not a COCO image id"):
        chair_prepare.prepare_items(images, ids_file=ids_file, data_dir=tmp_path / "d")
    (ann / "instances_val2014.json").unlink()
    with pytest.raises(InputError, match="instances_val2014.json missing"):
        chair_prepare.prepare_items(images, coco_annotations=ann, data_dir=tmp_path / "d")


# --------------------------------------------------------------------------- definition


def test_benchmark_toml_and_shipped_files():
    spec = tomllib.loads((FOLDER / "benchmark.toml").read_text())
    assert spec["name"] == "chair" and spec["scorer"] == "chair"
    assert spec["generation"]["max_new_tokens"] == 512
    assert spec["prompts"] == [chair_prepare.QUESTION]
    for source in spec["sources"].values():
        if "file" in source:
            data = (FOLDER / source["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == source["sha256"], source["file"]
    metrics = {m["key"]: m for m in spec["metrics"]}
    assert set(metrics) == {"CHAIRs", "CHAIRi", "recall", "avg_len"}
    assert [k for k, m in metrics.items() if m["headline"]] == ["CHAIRs", "CHAIRi"]
    assert metrics["CHAIRs"]["columns"] == ["chair_s"] and metrics["CHAIRi"]["columns"] == [
        "chair_i"
    ]
    assert all(m["direction"] in ("lower", "higher") for m in metrics.values())
    # the shipped synonyms are the byte-exact reference file (git blob id)
    syn = (FOLDER / "data" / "synonyms.txt").read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(syn) + syn, usedforsecurity=False).hexdigest()
    assert blob == spec["sources"]["synonyms"]["git_blob"]
    # the definition loads through halbench's benchmark code
    bench = chair_prepare.benchmark()
    assert bench.name == "chair" and not bench.shipped

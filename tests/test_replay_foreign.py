"""``--model replay:FILE`` with files written by lmms-eval (``--log_samples``) and VLMEvalKit
(prediction tables): each row mapped to its item by id, every failure naming file, line, field.

The fixtures follow the two toolkits' formats: lmms-eval's sample records (``doc_id``, ``doc``
without its image fields, ``target``, ``arguments``, ``resps``, ``filtered_resps``, the hashes
and the task's metric dicts) and VLMEvalKit's ``{model}_{dataset}`` tables (``index``,
``question``, ``prediction``, ``answer``, ``category``, ``image_path``)."""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import pytest

from halbench.errors import HalbenchError, InputError
from halbench.runners import GenerationSettings, Request
from halbench.runners.replay import ReplayRunner

GEN = {"max_new_tokens": 128, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False}


def lmms_sample(doc_id, doc, answer, target="", **metrics):
    return {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": [dict(GEN, until=["\n\n"])],
        "resps": [[answer]],
        "filtered_resps": [answer],
        "doc_hash": f"{doc_id:064x}",
        "prompt_hash": "0" * 64,
        "target_hash": "1" * 64,
        **metrics,
    }


def pope_doc(split, qid, question, label):
    # lmms-lab/POPE: id, question_id, question, answer, image_source, image, category; lmms-eval
    # drops every field whose name contains "image" before logging
    return {
        "id": str(qid),
        "question_id": str(qid),
        "question": question,
        "answer": label,
        "category": split,
    }


def jsonl(path: Path, recs) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def align(path, reqs):
    runner = ReplayRunner(path)
    runner.check(reqs)
    return dict(runner.generate(reqs, GenerationSettings(), batch_size=1)), runner.info.details


def reqs_for(keys, questions=None, suffix=""):
    q = questions or {}
    return [Request(k, q.get(k, q.get("*", f"q {k}")) + suffix, None, None) for k in keys]


POPE_SUFFIX = "\nAnswer the question using a single word or phrase."


# --------------------------------------------------------------------------- lmms-eval


def test_lmms_eval_pope_any_order(tmp_path):
    samples = [
        lmms_sample(
            i,
            pope_doc(split, qid, "Is there a dog in the image?", "yes"),
            f"{split}{qid}",
            target="yes",
            pope_accuracy={"question_id": str(qid), "score": 1.0},
        )
        for i, (split, qid) in enumerate(
            [("adversarial", 1), ("adversarial", 2), ("popular", 1), ("random", 3000)]
        )
    ]
    random.Random(0).shuffle(samples)  # several GPUs: gathered rank by rank
    p = jsonl(tmp_path / "llava_pope.jsonl", samples)
    keys = ["adversarial-1", "adversarial-2", "popular-1", "random-3000"]
    got, details = align(p, reqs_for(keys, {"*": "Is there a dog in the image?"}, POPE_SUFFIX))
    assert got == {k: k.replace("-", "") for k in keys}
    assert details["format"] == "lmms-eval" and details["matched_by"] == "item_id"


def test_lmms_eval_amber_mmhal_llava(tmp_path):
    amber = jsonl(
        tmp_path / "samples_amber_g.jsonl",
        [
            lmms_sample(
                0,
                {"question_id": 1, "task_type": "generative", "truth": ["dog"], "hallu": ["cat"]},
                "A dog.",
            ),
            lmms_sample(
                1,
                {"question_id": 2, "task_type": "generative", "truth": ["car"], "hallu": []},
                "A car.",
            ),
        ],
    )
    assert align(amber, reqs_for(["1", "2"]))[0] == {"1": "A dog.", "2": "A car."}
    mmhal = jsonl(
        tmp_path / "mmhal_bench.jsonl",
        [
            lmms_sample(
                i,
                {
                    "question_type": "attribute",
                    "question_topic": "animal",
                    "question": f"What is animal {i}?",
                    "gt_answer": "x",
                },
                f"m{i}",
            )
            for i in (1, 0)
        ],
    )
    asked = {"0": "What is animal 0?", "1": "What is animal 1?"}
    assert align(mmhal, reqs_for(["0", "1"], asked))[0] == {"0": "m0", "1": "m1"}
    # a copy of MMHal-Bench in another order: doc_id names another question, named by line
    swapped = {"0": "What is animal 1?", "1": "What is animal 0?"}
    with pytest.raises(InputError, match=r"mmhal_bench.jsonl:2: doc.question 'What is animal 0\?'"):
        ReplayRunner(mmhal).check(reqs_for(["0", "1"], swapped))
    wild = jsonl(
        tmp_path / "llava_in_the_wild.jsonl",
        [
            lmms_sample(
                0,
                {
                    "question_id": 0,
                    "question": "What is it?",
                    "gpt_answer": "A cat.",
                    "caption": "c",
                    "category": "conv",
                },
                "w0",
            ),
            lmms_sample(
                1,
                {
                    "question_id": 1,
                    "question": "Why?",
                    "gpt_answer": "B.",
                    "caption": "c",
                    "category": "complex",
                },
                "w1",
            ),
        ],
    )
    asked = {"0": "What is it?", "1": "Why?"}
    assert align(wild, reqs_for(["0", "1"], asked))[0] == {"0": "w0", "1": "w1"}


def test_lmms_eval_old_json_with_logs(tmp_path):
    p = tmp_path / "pope_pop.json"
    logs = [
        lmms_sample(i, pope_doc("popular", i + 1, "Is there a cup?", "no"), "No") for i in range(2)
    ]
    p.write_text(
        json.dumps({"args": {"model": "llava"}, "model_configs": {}, "logs": logs}, indent=2)
    )
    assert align(p, reqs_for(["popular-1", "popular-2"], {"*": "Is there a cup?"}))[0] == {
        "popular-1": "No",
        "popular-2": "No",
    }


def test_lmms_eval_failures_name_line_and_field(tmp_path):
    good = lmms_sample(0, pope_doc("random", 1, "Is there a cup?", "no"), "No")

    def fails(rec, field, text):
        p = jsonl(tmp_path / "s.jsonl", [good, rec])
        with pytest.raises(InputError) as e:
            ReplayRunner(p).check(reqs_for(["random-1", "random-2"], {"*": "Is there a cup?"}))
        assert (e.value.line, e.value.field) == (2, field), str(e.value)
        assert text in str(e.value) and str(e.value).startswith(f"{p}:2: ")

    fails(
        {**good, "doc": {**good["doc"], "question_id": None}},
        "doc.question_id",
        "doc.question_id must be",
    )
    fails(
        {**good, "doc": {**good["doc"], "category": "popularr"}}, "doc.category", "not a POPE split"
    )
    fails({**good, "doc": {"foo": 1}}, "doc", "cannot tell which benchmark")
    fails(
        {**good, "filtered_resps": [["a", "b"]]},
        "filtered_resps",
        "one answer string, got an array of 2",
    )
    fails({**good, "doc_id": 1}, "item_id", "duplicate item_id 'random-1' (first on line 1)")
    fails({k: v for k, v in good.items() if k != "doc"}, "doc", 'missing "doc"')
    fails({"doc_id": 1, "doc": good["doc"]}, "filtered_resps", 'missing "filtered_resps"')


def test_lmms_eval_coco_captions_by_image_id(tmp_path):
    """coco_cap tasks: question_id is the image's file name; one caption per COCO image."""

    def doc(image_id, key="question_id"):
        name = f"COCO_val2014_{image_id:012d}.jpg"
        return {
            key: name,
            "question": "Provide a one-sentence caption for the provided image.",
            "answer": ["A cat."],
            "id": image_id,
        }

    samples = [lmms_sample(0, doc(42), "forty-two"), lmms_sample(1, doc(7, "filename"), "seven")]
    p = jsonl(tmp_path / "coco2014_cap_val.jsonl", samples)
    reqs = [Request("0", "Describe.", None, 7), Request("1", "Describe.", None, 42)]
    got, details = align(p, reqs)
    assert got == {"0": "seven", "1": "forty-two"} and details["matched_by"] == "image_id"
    p = jsonl(tmp_path / "dup.jsonl", [*samples, lmms_sample(2, doc(7), "again")])
    with pytest.raises(
        InputError, match=r"dup.jsonl:3: duplicate image_id '7' \(first on line 2\)"
    ):
        ReplayRunner(p).check(reqs)


def test_lmms_eval_ids_must_name_the_question_asked(tmp_path):
    """lmms-lab's copy numbers POPE's questions: an id naming another question fails loudly."""
    samples = [
        lmms_sample(0, pope_doc("random", 1, "Is there a dog in the image?", "yes"), "Yes"),
        lmms_sample(1, pope_doc("random", 2, "Is there a cat in the image?", "no"), "No"),
    ]
    p = jsonl(tmp_path / "pope_random.jsonl", samples)
    asked = {"random-1": "Is there a dog in the image?", "random-2": "Is there a car in the image?"}
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(reqs_for(["random-1", "random-2"], asked, POPE_SUFFIX))
    assert (e.value.line, e.value.field) == (2, "doc.question")
    assert (
        "doc.question 'Is there a cat in the image?' is not the question of item random-2"
        in str(e.value)
    )


# --------------------------------------------------------------------------- VLMEvalKit


def table_rows(rows, columns=("index", "question", "prediction", "answer", "category")):
    return [list(columns)] + [[str(r.get(c, "")) for c in columns] for r in rows]


def write_table(path: Path, rows, delimiter):
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


@pytest.mark.parametrize("ext,delimiter", [("tsv", "\t"), ("csv", ",")])
def test_vlmevalkit_text_tables(tmp_path, ext, delimiter):
    rows = [
        {
            "index": i,
            "question": f"q {i}",
            "prediction": f"line one\nline two, {i}",
            "answer": "a",
            "category": "c",
        }
        for i in (2, 0, 1)
    ]
    p = write_table(tmp_path / f"llava_v1.5_7b_MMHal.{ext}", table_rows(rows), delimiter)
    got, details = align(p, reqs_for(["0", "1", "2"]))
    assert got == {str(i): f"line one\nline two, {i}" for i in range(3)}
    assert details["format"] == "vlmevalkit"
    # a row with no index: its line (the header is line 1; each row above spans two lines)
    rows.append({"index": "", "prediction": "x"})
    p = write_table(tmp_path / f"m_LLaVABench.{ext}", table_rows(rows), delimiter)
    with pytest.raises(InputError) as e:
        ReplayRunner(p)
    assert (e.value.line, e.value.field) == (8, "index") and "empty 'index'" in str(e.value)


def test_vlmevalkit_index_must_name_the_question_asked(tmp_path):
    rows = [{"index": 0, "question": "What is it?", "prediction": "A cat."}]
    p = write_table(
        tmp_path / "m_LLaVABench.tsv", table_rows(rows, ("index", "question", "prediction")), "\t"
    )
    assert align(p, reqs_for(["0"], {"0": "What is it?"}))[0] == {"0": "A cat."}
    with pytest.raises(InputError) as e:
        ReplayRunner(p).check(reqs_for(["0"], {"0": "Why is it?"}))
    assert (e.value.line, e.value.field) == (2, "question")
    assert "question 'What is it?' is not the question of item 0 ('Why is it?')" in str(e.value)


def test_vlmevalkit_big_cells(tmp_path):
    """A base64 image column (or a long answer) is past csv's default 128 KiB cell limit."""
    cols = ("index", "image", "prediction")
    rows = [{"index": 0, "image": "A" * 300_000, "prediction": "Yes " * 50_000}]
    p = write_table(tmp_path / "m_MMHal.tsv", table_rows(rows, cols), "\t")
    assert align(p, reqs_for(["0"]))[0] == {"0": "Yes " * 50_000}


def test_vlmevalkit_failures(tmp_path):
    p = write_table(
        tmp_path / "m_AMBER.tsv", table_rows([{"index": 1}], ("index", "question", "answer")), "\t"
    )
    with pytest.raises(InputError) as e:
        ReplayRunner(p)
    assert (e.value.line, e.value.field) == (1, "prediction")
    p = write_table(
        tmp_path / "m_HallusionBench.tsv", table_rows([{"index": 1, "prediction": "y"}]), "\t"
    )
    with pytest.raises(InputError, match="cannot tell which VLMEvalKit dataset"):
        ReplayRunner(p)
    p = write_table(
        tmp_path / "m_AMBER.tsv", table_rows([{"index": "1.5", "prediction": "y"}]), "\t"
    )
    with pytest.raises(InputError, match=r"m_AMBER.tsv:2: index must be a whole number"):
        ReplayRunner(p)
    p = write_table(
        tmp_path / "m_AMBER.csv", table_rows([{"index": 1, "prediction": "y"}] * 2), ","
    )
    with pytest.raises(
        InputError, match=r"m_AMBER.csv:3: duplicate item_id '1' \(first on line 2\)"
    ):
        ReplayRunner(p).check(reqs_for(["1"]))


def test_vlmevalkit_pope_one_answer_per_image_question(tmp_path):
    """VLMEvalKit asks a question shared by several splits once (category "popular,random")."""
    cols = ("index", "question", "prediction", "answer", "category", "image_path")
    rows = [
        {
            "index": 0,
            "question": "Is there a dog in the image?",
            "prediction": "Yes",
            "answer": "Yes",
            "category": "popular,random",
            "image_path": "images/POPE/COCO_val2014_000000000042.jpg",
        },
        {
            "index": 1,
            "question": "Is there a cat in the image?",
            "prediction": "No",
            "answer": "No",
            "category": "adversarial",
            "image_path": "COCO_val2014_000000000042.jpg",
        },
    ]
    p = write_table(tmp_path / "qwen_POPE.tsv", table_rows(rows, cols), "\t")
    img = Path("/data/val2014/COCO_val2014_000000000042.jpg")
    suffix = "\nAnswer the question using a single word or phrase."
    reqs = [
        Request("popular-3", "Is there a dog in the image?" + suffix, img),
        Request("random-8", "Is there a dog in the image?" + suffix, img),
        Request("adversarial-5", "Is there a cat in the image?" + suffix, img),
    ]
    got, details = align(p, reqs)
    assert got == {"popular-3": "Yes", "random-8": "Yes", "adversarial-5": "No"}
    assert details["matched_by"] == "image_file+question"
    with pytest.raises(InputError, match=r"no answer for item\(s\) random-9"):
        ReplayRunner(p).check(
            [
                *reqs,
                Request(
                    "random-9", "Is there a dog in the image?" + suffix, img.with_name("x.jpg")
                ),
            ]
        )
    p = write_table(tmp_path / "q_POPE.tsv", table_rows(rows, cols[:-1]), "\t")
    with pytest.raises(InputError) as e:
        ReplayRunner(p)
    assert (e.value.line, e.value.field) == (1, "image_path")


def test_vlmevalkit_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in table_rows(
        [
            {"index": 3, "prediction": "Yes", "question": "q 3", "answer": "Yes", "category": "c"},
            {"index": 1, "prediction": "No", "question": "q 1", "answer": "No", "category": "c"},
        ]
    ):
        sheet.append([int(c) if c.isdigit() else c for c in row])
    p = tmp_path / "llava_AMBER.xlsx"
    book.save(p)
    got, details = align(p, reqs_for(["1", "3"]))
    assert got == {"1": "No", "3": "Yes"} and details["format"] == "vlmevalkit"


def test_xlsx_without_openpyxl_names_the_extra(tmp_path, monkeypatch):
    p = tmp_path / "m_AMBER.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(HalbenchError, match=r"needs openpyxl: pip install 'halbench\[replay\]'"):
        ReplayRunner(p)

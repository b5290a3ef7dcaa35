"""The literal CHAIR procedure: the test oracle and the perf baseline (not used for scoring).

It follows LisaAnne/Hallucination @ 6e4d33c4 ``utils/chair.py`` step by step: the
``CHAIR`` class with its ``imid_to_objects`` restricted to the evaluated image ids,
``combine_coco_instances``/``combine_coco_captions`` over the train2014 + val2014 files
(both required; categories from the train file), ``caption_to_words`` with plain
``nltk.word_tokenize`` and a set of all synonym entries built for every token, and
``compute_chair``'s counters. Our ``inflect.singularize`` stands in for
``pattern.en.singularize``. Additions, each marked: OPERA's Recall and Len counters
(shikiw/OPERA @ 61426efe ``chair.py``), the kept words per sentence
(``mscoco_words``) so tests can compare ``(word, class)`` pairs, and Python 3 syntax.
The BLEU/METEOR/CIDEr/SPICE fields of the reference's input and output are left out.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .inflect import singularize


def combine_coco_captions(annotation_path: str) -> dict[str, Any]:
    for split in ("val", "train"):
        if not os.path.exists(f"{annotation_path}/captions_{split}2014.json"):
            raise Exception(f"Please download MSCOCO caption annotations for {split} set")
    with open(f"{annotation_path}/captions_val2014.json") as f:
        val_caps = json.load(f)
    with open(f"{annotation_path}/captions_train2014.json") as f:
        train_caps = json.load(f)
    return {
        "info": train_caps["info"],
        "licenses": train_caps["licenses"],
        "images": val_caps["images"] + train_caps["images"],
        "annotations": val_caps["annotations"] + train_caps["annotations"],
    }


def combine_coco_instances(annotation_path: str) -> dict[str, Any]:
    for split in ("val", "train"):
        if not os.path.exists(f"{annotation_path}/instances_{split}2014.json"):
            raise Exception(f"Please download MSCOCO instance annotations for {split} set")
    with open(f"{annotation_path}/instances_val2014.json") as f:
        val_instances = json.load(f)
    with open(f"{annotation_path}/instances_train2014.json") as f:
        train_instances = json.load(f)
    return {
        "info": train_instances["info"],
        "licenses": train_instances["licenses"],
        "type": train_instances["licenses"],
        "categories": train_instances["categories"],
        "images": train_instances["images"] + val_instances["images"],
        "annotations": val_instances["annotations"] + train_instances["annotations"],
    }


class CHAIR:
    def __init__(self, imids: Any, coco_path: str, synonyms_text: str) -> None:
        import nltk

        self._word_tokenize = nltk.word_tokenize
        self.imid_to_objects: dict[int, Any] = {imid: [] for imid in imids}
        self.coco_path = coco_path
        # the reference: open('data/synonyms.txt').readlines(), strip, split(', ')
        synonyms = [s.strip().split(", ") for s in synonyms_text.splitlines(keepends=True)]
        self.mscoco_objects: list[str] = []
        self.inverse_synonym_dict: dict[str, str] = {}
        for synonym in synonyms:
            self.mscoco_objects.extend(synonym)
            for s in synonym:
                self.inverse_synonym_dict[s] = synonym[0]
        # written out again here (not metrics.double_words) so that tests compare two tables
        coco_double_words = [
            "motor bike",
            "motor cycle",
            "air plane",
            "traffic light",
            "street light",
            "traffic signal",
            "stop light",
            "fire hydrant",
            "stop sign",
            "parking meter",
            "suit case",
            "sports ball",
            "baseball bat",
            "baseball glove",
            "tennis racket",
            "wine glass",
            "hot dog",
            "cell phone",
            "mobile phone",
            "teddy bear",
            "hair drier",
            "potted plant",
            "bow tie",
            "laptop computer",
            "stove top oven",
            "hot dog",
            "teddy bear",
            "home plate",
            "train track",
        ]
        animal_words = [
            "bird",
            "cat",
            "dog",
            "horse",
            "sheep",
            "cow",
            "elephant",
            "bear",
            "zebra",
            "giraffe",
            "animal",
            "cub",
        ]
        vehicle_words = ["jet", "train"]
        self.double_word_dict = {}
        for double_word in coco_double_words:
            self.double_word_dict[double_word] = double_word
        for animal_word in animal_words:
            self.double_word_dict[f"baby {animal_word}"] = animal_word
            self.double_word_dict[f"adult {animal_word}"] = animal_word
        for vehicle_word in vehicle_words:
            self.double_word_dict[f"passenger {vehicle_word}"] = vehicle_word
        self.double_word_dict["bow tie"] = "tie"
        self.double_word_dict["toilet seat"] = "toilet"
        self.double_word_dict["wine glas"] = "wine glass"

    def caption_to_words(self, caption: str) -> tuple[list[str], list[str], list[int], list[str]]:
        words = self._word_tokenize(caption.lower())
        words = [singularize(w) for w in words]
        i = 0
        double_words_: list[str] = []
        idxs: list[int] = []
        while i < len(words):
            idxs.append(i)
            double_word = " ".join(words[i : i + 2])
            if double_word in self.double_word_dict:
                double_words_.append(self.double_word_dict[double_word])
                i += 2
            else:
                double_words_.append(words[i])
                i += 1
        words = double_words_
        if ("toilet" in words) & ("seat" in words):
            words = [word for word in words if word != "seat"]
        idxs = [idxs[idx] for idx, word in enumerate(words) if word in set(self.mscoco_objects)]
        words = [word for word in words if word in set(self.mscoco_objects)]
        node_words = []
        for word in words:
            node_words.append(self.inverse_synonym_dict[word])
        return words, node_words, idxs, double_words_

    def get_annotations_from_segments(self) -> None:
        coco_segments = combine_coco_instances(self.coco_path)
        segment_annotations = coco_segments["annotations"]
        id_to_name = {}
        for cat in coco_segments["categories"]:
            id_to_name[cat["id"]] = cat["name"]
        for annotation in segment_annotations:
            imid = annotation["image_id"]
            if imid in self.imid_to_objects:
                node_word = self.inverse_synonym_dict[id_to_name[annotation["category_id"]]]
                self.imid_to_objects[imid].append(node_word)
        for imid in self.imid_to_objects:
            self.imid_to_objects[imid] = set(self.imid_to_objects[imid])

    def get_annotations_from_captions(self) -> None:
        coco_caps = combine_coco_captions(self.coco_path)
        for annotation in coco_caps["annotations"]:
            imid = annotation["image_id"]
            if imid in self.imid_to_objects:
                _, node_words, _, _ = self.caption_to_words(annotation["caption"])
                self.imid_to_objects[imid].update(node_words)
        for imid in self.imid_to_objects:
            self.imid_to_objects[imid] = set(self.imid_to_objects[imid])

    def get_annotations(self) -> None:
        self.get_annotations_from_segments()
        self.get_annotations_from_captions()

    def compute_chair(self, caps: list[dict[str, Any]]) -> dict[str, Any]:
        """``caps``: the reference's ``imgToEval.values()`` (``image_id``, ``caption``)."""
        imid_to_objects = self.imid_to_objects
        num_caps = 0.0
        num_hallucinated_caps = 0.0
        hallucinated_word_count = 0.0
        coco_word_count = 0.0
        num_recall_gt_objects = 0.0  # OPERA
        num_gt_objects = 0.0  # OPERA
        len_caps = 0.0  # OPERA
        output: dict[str, Any] = {"sentences": []}
        for cap_eval in caps:
            cap = cap_eval["caption"]
            imid = cap_eval["image_id"]
            words, node_words, idxs, raw_words = self.caption_to_words(cap)
            gt_objects = imid_to_objects[imid]
            cap_dict: dict[str, Any] = {
                "image_id": cap_eval["image_id"],
                "caption": cap,
                "mscoco_hallucinated_words": [],
                "mscoco_gt_words": list(gt_objects),
                "mscoco_generated_words": list(node_words),
                "mscoco_words": list(words),  # added: the kept words
                "hallucination_idxs": [],
                "words": raw_words,
            }
            cap_dict["metrics"] = {"CHAIRs": 0, "CHAIRi": 0}
            coco_word_count += len(node_words)
            hallucinated = False
            recall_gt_objects = set()  # OPERA
            for word, node_word, idx in zip(words, node_words, idxs, strict=True):
                if node_word not in gt_objects:
                    hallucinated_word_count += 1
                    cap_dict["mscoco_hallucinated_words"].append((word, node_word))
                    cap_dict["hallucination_idxs"].append(idx)
                    hallucinated = True
                else:
                    recall_gt_objects.add(node_word)
            num_caps += 1
            len_caps += len(raw_words)  # OPERA
            if hallucinated:
                num_hallucinated_caps += 1
            num_gt_objects += len(gt_objects)  # OPERA
            num_recall_gt_objects += len(recall_gt_objects)  # OPERA
            cap_dict["metrics"]["CHAIRs"] = int(hallucinated)
            cap_dict["metrics"]["CHAIRi"] = 0.0
            if len(words) > 0:
                cap_dict["metrics"]["CHAIRi"] = len(cap_dict["mscoco_hallucinated_words"]) / float(
                    len(words)
                )
            output["sentences"].append(cap_dict)
        output["overall_metrics"] = {
            "CHAIRs": num_hallucinated_caps / num_caps,
            "CHAIRi": hallucinated_word_count / coco_word_count,
            "Recall": num_recall_gt_objects / num_gt_objects,  # OPERA
            "Len": 0.01 * len_caps / num_caps,  # OPERA (printed x100)
        }
        return output

"""A literal, slow rendering of RLHF-V's CHAIR procedure: the parity oracle and perf baseline.

It follows ``eval/eval_gpt_obj_halbench.py`` (commit 3d35a91, non-GPT path) step by
step, per answer, with none of halbench's shortcuts: ``nltk.word_tokenize`` on the
lower-cased text, ``WordNetLemmatizer().lemmatize`` on every token, the compound
scan, the toilet/seat rule, and the synonym membership tests written as the
reference writes them (a set of all ~430 forms is built for every token). Tests
compare ``benchmarks.object_halbench.objects``/``chair`` with it item by item; ``perf/``
uses it as the baseline. Not used for scoring.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any


class ReferenceChair:
    """Args:
    synonyms_text: the synonym file's text.
    set_per_token: build the set of synonym forms for every token, as the reference
        does (``word in set(self.mscoco_objects)``); ``False`` builds it once (a
        fairer baseline for speed comparisons; same results).
    """

    def __init__(self, synonyms_text: str, *, set_per_token: bool = True) -> None:
        import nltk
        from nltk.stem import WordNetLemmatizer

        self._word_tokenize = nltk.word_tokenize
        self._set_per_token = set_per_token
        self._lemma = WordNetLemmatizer()
        lines = [
            line.strip().split(", ")
            for line in io.StringIO(synonyms_text, newline=None).readlines()
        ]
        self.mscoco_objects: list[str] = []
        self.inverse_synonym_dict: dict[str, str] = {}
        for line in lines:
            pieces = [p.strip() for p in line]
            self.mscoco_objects.extend(pieces)
            for p in pieces:
                self.inverse_synonym_dict[p] = pieces[0]
        doubles = [w for w in self.inverse_synonym_dict if len(w.strip().split(" ")) >= 2]
        doubles += ["home plate", "train track"]
        self.double_word_dict = {w: w for w in doubles}
        for animal in [
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
        ]:
            self.double_word_dict[f"baby {animal}"] = animal
            self.double_word_dict[f"adult {animal}"] = animal
        for vehicle in ["jet", "train"]:
            self.double_word_dict[f"passenger {vehicle}"] = vehicle
        self.double_word_dict["bow tie"] = "tie"
        self.double_word_dict["toilet seat"] = "toilet"
        self.double_word_dict["wine glas"] = "wine glass"

    def caption_to_words(self, caption: str) -> tuple[list[str], list[list[str]], list[str]]:
        """(kept words, [word, class] pairs, merged word list) for one text."""
        words = self._word_tokenize(caption.lower())
        words = [self._lemma.lemmatize(w) for w in words]
        merged = []
        i = 0
        while i < len(words):
            pair = " ".join(words[i : i + 2])
            if pair in self.double_word_dict:
                merged.append(self.double_word_dict[pair])
                i += 2
            else:
                merged.append(words[i])
                i += 1
        words = merged
        if ("toilet" in words) & ("seat" in words):
            words = [w for w in words if w != "seat"]
        if self._set_per_token:
            # the reference filters twice this way (token indices, then words)
            self.last_idxs = [i for i, w in enumerate(words) if w in set(self.mscoco_objects)]
            kept = [w for w in words if w in set(self.mscoco_objects)]
        else:
            forms = set(self.mscoco_objects)
            kept = [w for w in words if w in forms]
        node_words = [[w, self.inverse_synonym_dict[w]] for w in kept]
        return kept, node_words, merged

    def ground_truth(
        self, instances: Mapping[int, Iterable[str]], captions: Mapping[int, Iterable[str]]
    ) -> dict[int, set[str]]:
        """Image id -> classes from instance category names and from captions."""
        gt: dict[int, set[str]] = {}
        for imid, names in instances.items():
            gt.setdefault(imid, set()).update(self.inverse_synonym_dict[n] for n in names)
        for imid, caps in captions.items():
            for cap in caps:
                _, node_words, _ = self.caption_to_words(cap)
                gt.setdefault(imid, set()).update(item[-1] for item in node_words)
        return gt

    def compute_chair(
        self, caps: list[dict[str, Any]], imid_to_objects: Mapping[int, set[str]]
    ) -> dict[str, Any]:
        """``caps``: [{"image_id", "caption"}] -> {"sentences": [...], "overall_metrics": {...}}."""
        num_caps = num_coco_caps = num_hallucinated_caps = 0.0
        hallucinated_word_count = coco_word_count = gt_word_count = coco_obj_cls_count = 0.0
        total_words = 0
        sentences = []
        for cap_eval in caps:
            cap = cap_eval["caption"]
            total_words += len(cap.strip().split(" "))
            gt_objects = imid_to_objects[cap_eval["image_id"]]
            words, node_words, _ = self.caption_to_words(cap)
            gt_word_count += len(gt_objects)
            coco_word_count += len(node_words)
            hallucinated_words = []
            correct = []
            hallucinated = False
            for word, node_word in zip(words, node_words, strict=True):
                if node_word[-1] not in gt_objects:
                    hallucinated_word_count += 1
                    hallucinated_words.append([word, node_word[-1]])
                    hallucinated = True
                else:
                    correct.append(node_word[-1])
            coco_obj_cls_count += len(set(correct))
            num_caps += 1
            if hallucinated:
                num_hallucinated_caps += 1
            if len(words) > 0:
                num_coco_caps += 1
            sentences.append(
                {
                    "image_id": cap_eval["image_id"],
                    "mscoco_generated_words": node_words,
                    "mscoco_hallucinated_words": hallucinated_words,
                    "mscoco_gt_words": sorted(gt_objects),
                }
            )
        return {
            "sentences": sentences,
            "overall_metrics": {
                "CHAIRs": num_hallucinated_caps / num_caps,
                "CHAIRs_refine": num_hallucinated_caps / num_coco_caps,
                "CHAIRi": hallucinated_word_count / coco_word_count,
                "obj_rec": coco_obj_cls_count / gt_word_count,
                "sentence_num": num_caps,
                "coco_sentence_num": num_coco_caps,
                "avg_word_len": float(total_words) / num_caps,
            },
        }

"""CHAIR metric counters and denominators, computed by hand."""

from __future__ import annotations

from benchmarks.object_halbench.metrics import aggregate, score_chair, score_item

GT = {
    1: frozenset({"dog", "person", "couch"}),
    2: frozenset({"cat"}),
    3: frozenset(),  # an image with no ground-truth objects
}


def test_hand_computed(extractor):
    answers = [
        (1, "A dog and a man on a couch."),  # mentions dog, man->person, couch; none hallucinated
        (1, "A dog, a cat and a cat."),  # dog ok; cat x2 hallucinated
        (2, "Nothing to see here."),  # no mentions
        (3, "A bus."),  # bus hallucinated (empty GT)
    ]
    s = score_chair(answers, GT, extractor.mentions)
    assert [len(i.mentions) for i in s.items] == [3, 3, 0, 1]
    assert [len(i.hallucinated) for i in s.items] == [0, 2, 0, 1]
    assert s.items[1].hallucinated == [("cat", "cat"), ("cat", "cat")]
    c = s.counts
    assert c["n_responses"] == 4
    assert c["n_responses_with_objects"] == 3
    assert c["hallucinated_responses"] == 2
    assert c["n_mentions"] == 7
    assert c["hallucinated_mentions"] == 3
    # covered: {dog, person, couch} + {dog} + {} + {} = 4; GT per response: 3 + 3 + 1 + 0 = 7
    assert c["covered_classes"] == 4
    assert c["gt_classes"] == 7
    # words on single spaces: 8 + 7 + 4 + 2
    assert c["words"] == 21
    m = s.metrics
    assert m["CHAIRs"] == 2 / 4
    assert m["CHAIRs_refine"] == 2 / 3
    assert m["CHAIRi"] == 3 / 7
    assert m["coverage"] == 4 / 7
    assert m["avg_words"] == 21 / 4
    assert m["n_responses"] == 4 and m["n_responses_with_objects"] == 3
    assert s.not_computable == {}


def test_gt_counted_once_per_response(extractor):
    s = score_chair([(1, "a dog"), (1, "a dog")], GT, extractor.mentions)
    assert s.counts["gt_classes"] == 6  # the same image twice counts twice
    assert s.counts["covered_classes"] == 2
    assert s.metrics["coverage"] == 2 / 6


def test_coverage_counts_distinct_classes(extractor):
    s = score_chair([(1, "a dog, a puppy and a dog")], GT, extractor.mentions)
    assert s.counts["n_mentions"] == 3
    assert s.counts["covered_classes"] == 1


def test_word_count_quirk(extractor):
    # the reference splits on single spaces: newlines do not split, double spaces add empties,
    # and an empty answer counts as one word
    assert score_item(2, "a\nb", GT[2], extractor.mentions).n_words == 1
    assert score_item(2, "a  b", GT[2], extractor.mentions).n_words == 3
    assert score_item(2, "", GT[2], extractor.mentions).n_words == 1


def test_zero_denominators_are_not_computable(extractor):
    s = score_chair([(2, "Nothing here."), (3, "Nothing.")], GT, extractor.mentions)
    assert s.metrics["CHAIRs"] == 0.0
    assert s.metrics["CHAIRs_refine"] is None
    assert s.metrics["CHAIRi"] is None
    assert s.metrics["coverage"] == 0.0  # GT of image 2 has one class
    assert set(s.not_computable) == {"CHAIRs_refine", "CHAIRi"}
    empty = aggregate([])
    assert all(
        empty.metrics[k] is None
        for k in ("CHAIRs", "CHAIRs_refine", "CHAIRi", "coverage", "avg_words")
    )
    assert empty.not_computable["CHAIRs"] == "n_responses is 0"


def test_items_keep_order_and_gt_sorted(extractor):
    s = score_chair([(1, "a couch and a dog")], GT, extractor.mentions)
    item = s.items[0]
    assert item.mentions == [("couch", "couch"), ("dog", "dog")]
    assert item.gt_objects == ["couch", "dog", "person"]

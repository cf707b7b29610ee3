"""AVoCaDO dialogue F1: Eq. 4 similarity, the DP alignment (against brute force) and Eqs. 5-7."""

import itertools
import random

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.dialogue import align_dialogues, content_similarity, dialogue_f1, similarity_matrix


def naive_levenshtein(a: str, b: str) -> int:
    """Textbook O(len(a)·len(b)) edit distance (insert, delete, substitute cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_similarity_hand_values():
    """kitten/sitting: distance 3, longest 7 -> 4/7. Identical -> 1. Disjoint same length -> 0."""
    assert content_similarity("kitten", "sitting") == pytest.approx(4 / 7)
    assert content_similarity("hello", "hello") == 1.0
    assert content_similarity("abc", "xyz") == 0.0
    assert content_similarity("", "") == 1.0
    assert content_similarity("", "abc") == 0.0
    assert content_similarity("Hello", "hello") == pytest.approx(0.8)  # case matters, as in the paper


def test_similarity_is_over_characters_against_naive_levenshtein():
    rng = random.Random(0)
    alphabet = "abé 😀,"
    for _ in range(300):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        longest = max(len(a), len(b))
        expected = 1.0 if longest == 0 else 1 - naive_levenshtein(a, b) / longest
        assert content_similarity(a, b) == pytest.approx(expected, abs=1e-12)


def test_similarity_matrix_matches_pairwise():
    pred, ref = ["hello there", "", "bye"], ["hello", "good bye", ""]
    matrix = similarity_matrix(pred, ref)
    assert matrix.shape == (3, 3)
    for i, p in enumerate(pred):
        for j, r in enumerate(ref):
            assert matrix[i, j] == pytest.approx(content_similarity(p, r), abs=1e-12)
    assert similarity_matrix([], ["a"]).shape == (0, 1)


def brute_force_alignments(sim, threshold):
    """All monotone matchings (strictly increasing in both indices) whose pairs all reach the threshold."""
    n, m = len(sim), len(sim[0]) if sim else 0
    eligible = [(i, j) for i in range(n) for j in range(m) if sim[i][j] >= threshold]
    for size in range(0, min(n, m) + 1):
        for subset in itertools.combinations(eligible, size):
            if all(a[0] < b[0] and a[1] < b[1] for a, b in zip(subset, subset[1:])):
                yield subset


def test_dp_equals_brute_force_on_random_dialogues():
    rng = random.Random(1234)
    speakers = ["Ann", "Bob", "ann"]
    for _ in range(400):
        # short strings over a small alphabet put many similarities near the threshold
        def utterance():
            return "".join(rng.choice("aab") for _ in range(rng.randint(0, 5)))

        ref = [(rng.choice(speakers), utterance()) for _ in range(rng.randint(0, 5))]
        pred = [(rng.choice(speakers), utterance()) for _ in range(rng.randint(0, 5))]
        threshold = rng.choice([0.0, 0.3, 0.5, 0.6, 0.8, 1.0])
        sim = [[content_similarity(p, r) for _, r in ref] for _, p in pred]
        alignments = list(brute_force_alignments(sim, threshold))
        best = max(sum(sim[i][j] for i, j in a) for a in alignments)

        out = dialogue_f1(ref, pred, threshold=threshold)
        assert out["s_content"] == pytest.approx(best, abs=1e-9)
        pairs = [(i, j) for j, i, _ in out["pairs"]]
        assert tuple(pairs) in {tuple(a) for a in alignments}  # a valid monotone matching
        optimal = [a for a in alignments if abs(sum(sim[i][j] for i, j in a) - best) < 1e-9]
        speaker_counts = {sum(ref[j][0].lower() == pred[i][0].lower() for i, j in a) for a in optimal}
        assert out["s_speaker"] in speaker_counts

        # Eqs. 5-7 recomputed from the returned matching
        combined = (out["s_speaker"] + best) / 2
        recall = 1.0 if not ref else combined / len(ref)
        precision = 1.0 if not pred else combined / len(pred)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        assert out["recall"] == pytest.approx(recall) and out["precision"] == pytest.approx(precision)
        assert out["f1"] == pytest.approx(f1)
        assert out["s_combined"] <= min(len(ref), len(pred)) + 1e-12  # the paper's [0, min(M, N)]


def test_hand_computed_example():
    """ref: (A, "hello world"), (B, "how are you"), (A, "fine thanks"); pred: (A, "hello world"), (C, "how are yo").
    Sims: 1 and 1 - 1/11 = 10/11; cross pairs fall far below 0.6. S_content = 21/11, S_speaker = 1 (A = A, C ≠ B).
    S_combined = (1 + 21/11)/2 = 16/11; Rec = 16/33, Prec = 8/11; F1 = 2·(8/11)(16/33)/(8/11 + 16/33) = 32/55."""
    ref = [("A", "hello world"), ("B", "how are you"), ("A", "fine thanks")]
    pred = [("A", "hello world"), ("C", "how are yo")]
    out = dialogue_f1(ref, pred)
    assert out["s_content"] == pytest.approx(21 / 11)
    assert out["s_speaker"] == 1
    assert out["s_combined"] == pytest.approx(16 / 11)
    assert out["recall"] == pytest.approx(16 / 33)
    assert out["precision"] == pytest.approx(8 / 11)
    assert out["f1"] == pytest.approx(32 / 55)
    assert [(j, i) for j, i, _ in out["pairs"]] == [(0, 0), (1, 1)]


def test_threshold_is_inclusive():
    """ "abcde" vs "abcxy": distance 2 of 5 -> Sim = 0.6 exactly, which meets γ = 0.6 (Sim >= γ)."""
    assert content_similarity("abcde", "abcxy") == 0.6
    assert dialogue_f1([("A", "abcde")], [("A", "abcxy")])["s_content"] == pytest.approx(0.6)
    assert dialogue_f1([("A", "abcde")], [("A", "abxyz")])["s_content"] == 0.0  # 0.4 < 0.6


def test_alignment_is_monotone():
    """Swapped order: only one of the two identical lines can be matched."""
    ref = [("A", "good morning everyone"), ("B", "where is the station")]
    pred = [("B", "where is the station"), ("A", "good morning everyone")]
    out = dialogue_f1(ref, pred)
    assert len(out["pairs"]) == 1 and out["s_content"] == 1.0
    assert out["f1"] == pytest.approx(0.5)  # combined (1 + 1)/2 = 1 -> P = R = 1/2


def test_two_good_matches_beat_one_perfect_crossing_match():
    """pred 0 equals ref 1 (Sim 1.0) but matching it crosses everything else. The diagonal
    pairs score 0.7 each (3 of 10 characters differ), so the optimum is 1.4 with two matches."""
    ref = [("A", "abcdefgXYZ"), ("A", "abcdefghij")]
    pred = [("A", "abcdefghij"), ("A", "abcdefgQRS")]
    sim = [[content_similarity(p, r) for _, r in ref] for _, p in pred]
    assert sim == [[pytest.approx(0.7), 1.0], [pytest.approx(0.7), pytest.approx(0.7)]]
    out = dialogue_f1(ref, pred)
    assert out["s_content"] == pytest.approx(1.4)
    assert [(j, i) for j, i, _ in out["pairs"]] == [(0, 0), (1, 1)]


def test_same_speaker_rules():
    ref = [("Narrator", "welcome to the show"), ("Host", "thank you all")]
    pred = [("the narrator", "welcome to the show"), ("HOST", "thank you all")]
    default = dialogue_f1(ref, pred)
    assert default["s_speaker"] == 1  # "the narrator" != "narrator"; "HOST" == "Host"
    by_callable = dialogue_f1(ref, pred, same_speaker=lambda r, p: r.lower() in p.lower())
    assert by_callable["s_speaker"] == 2 and by_callable["f1"] == 1.0
    pairs = align_dialogues(ref, pred)
    verdicts = {(j, i): True for j, i, _ in pairs}
    assert dialogue_f1(ref, pred, same_speaker=verdicts)["s_speaker"] == 2
    with pytest.raises(MetricInputError, match="no verdict for matched pair"):
        dialogue_f1(ref, pred, same_speaker={(0, 0): True})
    with pytest.raises(MetricInputError, match="callable or a mapping"):
        dialogue_f1(ref, pred, same_speaker="yes")


def test_empty_dialogues():
    assert dialogue_f1([], [])["f1"] == 1.0
    only_ref = dialogue_f1([("A", "hi")], [])
    assert (only_ref["precision"], only_ref["recall"], only_ref["f1"]) == (1.0, 0.0, 0.0)
    only_pred = dialogue_f1([], [("A", "hi")])
    assert (only_pred["precision"], only_pred["recall"], only_pred["f1"]) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    "ref, pred, kwargs, cause",
    [
        ("A: hi", [], {}, "got a string"),
        ([("A", "hi", "x")], [], {}, "not a \\(speaker, utterance\\)"),
        ([("A", 3)], [], {}, "must be strings"),
        ([("A", "hi")], [("A", "hi")], {"threshold": 1.5}, "\\[0, 1\\]"),
    ],
)
def test_rejects_bad_input(ref, pred, kwargs, cause):
    with pytest.raises(MetricInputError, match=cause):
        dialogue_f1(ref, pred, **kwargs)

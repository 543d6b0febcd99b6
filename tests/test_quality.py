"""Exact-duplicate groups and the train->test leak on crafted hash arrays."""

from __future__ import annotations

import numpy as np

from core.data.quality import duplicate_report, leakfree_test_mask


def _h(*names: str) -> np.ndarray:
    return np.array([n.encode().ljust(16, b"_") for n in names], dtype="S16")


# rows:            0    1    2    3    4    5    6    7    8    9   10   11
HASHES = _h(       "a", "a", "b", "c", "c", "d", "e", "e", "e", "f", "g", "b")
LABELS = np.array([ 0,   0,   1,   1,   1,   0,   1,   1,   1,   0,   0,   0], np.int8)
SPLITS = np.array([ 0,   0,   0,   0,   1,   1,   1,   1,   0,   1,   1,   1], np.int8)
# a: rows 0,1  train/REAL twice               -> within train/REAL
# b: rows 2,11 train/FAKE and test/REAL       -> across splits and labels; test row 11 leaked
# c: rows 3,4  train/FAKE and test/FAKE       -> across splits; test row 4 leaked
# e: rows 6,7,8 test/FAKE x2, train/FAKE      -> across splits; test rows 6, 7 leaked
# d, f, g unique


def test_groups_largest_first():
    report = duplicate_report(HASHES, LABELS, SPLITS)
    assert [g.tolist() for g in report.groups] == [[6, 7, 8], [0, 1], [2, 11], [3, 4]]


def test_leaked_test_rows():
    report = duplicate_report(HASHES, LABELS, SPLITS)
    assert report.leaked_test.tolist() == [4, 6, 7, 11]


def test_summary_numbers():
    s = duplicate_report(HASHES, LABELS, SPLITS).summary
    assert s == {
        "duplicate_groups": 4,
        "images_in_duplicate_groups": 9,
        "redundant_copies": 5,
        "groups_by_location": {
            "within_one_folder": {"train/REAL": 1},
            "across_splits": 3,
            "across_labels": 1,
        },
        "unique_contents": {"train/REAL": 1, "train/FAKE": 3, "test/REAL": 4, "test/FAKE": 2},
        "leaked_test": 4,
        "leakfree_test": 3,
    }


def test_within_folder_groups_counted_per_folder():
    hashes = _h("x", "x", "y", "y", "z", "z", "z")
    labels = np.array([1, 1, 1, 1, 0, 0, 0], np.int8)
    splits = np.array([1, 1, 0, 0, 1, 1, 1], np.int8)
    s = duplicate_report(hashes, labels, splits).summary
    assert s["groups_by_location"] == {
        "within_one_folder": {"test/FAKE": 1, "train/FAKE": 1, "test/REAL": 1},
        "across_splits": 0,
        "across_labels": 0,
    }
    assert s["leaked_test"] == 0 and s["leakfree_test"] == 5  # duplicates inside test only
    assert s["redundant_copies"] == 4
    assert s["unique_contents"] == {"train/REAL": 0, "train/FAKE": 1, "test/REAL": 1,
                                    "test/FAKE": 1}


def test_across_labels_same_split():
    hashes = _h("q", "q")
    s = duplicate_report(hashes, np.array([0, 1], np.int8), np.array([0, 0], np.int8)).summary
    assert s["groups_by_location"] == {"within_one_folder": {}, "across_splits": 0,
                                       "across_labels": 1}
    assert s["leaked_test"] == 0


def test_no_duplicates():
    hashes = _h("a", "b", "c", "d")
    labels = np.array([0, 1, 0, 1], np.int8)
    splits = np.array([0, 0, 1, 1], np.int8)
    report = duplicate_report(hashes, labels, splits)
    assert report.groups == []
    assert report.leaked_test.tolist() == []
    assert report.summary["duplicate_groups"] == 0
    assert report.summary["images_in_duplicate_groups"] == 0
    assert report.summary["leakfree_test"] == 2


def test_leakfree_test_mask():
    mask = leakfree_test_mask(HASHES, SPLITS)
    assert mask.dtype == bool
    # test rows: 4 (c, leaked), 5 (d), 6, 7 (e, leaked), 9 (f), 10 (g), 11 (b, leaked)
    assert np.flatnonzero(mask).tolist() == [5, 9, 10]
    assert not mask[SPLITS == 0].any()


def test_summary_is_json_serialisable():
    import json

    s = duplicate_report(HASHES, LABELS, SPLITS).summary
    assert json.loads(json.dumps(s)) == s
